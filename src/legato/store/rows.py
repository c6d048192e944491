"""Records to SQL rows and back, in the column order of ``legato.store.queries``.

Times become integer microseconds since the Unix epoch (UTC): exact, portable, ordered
and cheap to compute on the hot path. ``ErrorInfo`` and tags become JSON text. A naive
datetime cannot be placed in time, so encoding one raises ``StoreError``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast, overload

from legato.errors import StoreError
from legato.records import (
    CacheRecord,
    Change,
    ErrorInfo,
    EventRecord,
    LogRecord,
    RunRecord,
    SentEvent,
    StepRecord,
    WorkerRecord,
    waits_for_child,
)
from legato.states import RunState, StepState
from legato.store import messages

Row = tuple[Any, ...]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def micros(value: datetime) -> int:
    """Microseconds since the epoch; ``TypeError`` for a naive datetime."""
    return (value - _EPOCH) // _MICROSECOND


def micros_or_none(value: datetime | None) -> int | None:
    return None if value is None else (value - _EPOCH) // _MICROSECOND


@overload
def from_micros(value: int) -> datetime: ...
@overload
def from_micros(value: None) -> None: ...
@overload
def from_micros(value: int | None) -> datetime | None: ...


def from_micros(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + timedelta(microseconds=value)


def error_json(error: ErrorInfo | None) -> str | None:
    if error is None:
        return None
    return json.dumps({"type": error.type, "message": error.message, "traceback": error.traceback})


def error_from_json(text: str | None) -> ErrorInfo | None:
    if text is None:
        return None
    data = json.loads(text)
    return ErrorInfo(
        type=data["type"], message=data["message"], traceback=data.get("traceback", "")
    )


def run_row(run: RunRecord) -> Row:
    """All columns, for ``INSERT_RUN``."""
    return (
        run.run_id,
        run.flow_name,
        RunState(run.state),
        micros(run.created_at),
        run.target,
        run.flow_version,
        run.params,
        run.result,
        run.serializer,
        error_json(run.error),
        run.parent_run_id,
        run.parent_step_key,
        run.owner,
        micros_or_none(run.started_at),
        micros_or_none(run.finished_at),
        json.dumps(list(run.tags)) if run.tags else "[]",
        run.queue,
        run.priority,
        run.idempotency_key,
        run.lease_epoch,
        micros_or_none(run.lease_expires_at),
        micros_or_none(run.wake_at),
        run.waiting_for,
        micros_or_none(run.deadline_at),
        run.recoveries,
    )


def run_update_row(run: RunRecord) -> Row:
    """The mutable fields then the id, for ``UPDATE_RUN``."""
    return (
        RunState(run.state),
        run.result,
        run.serializer,
        error_json(run.error),
        run.owner,
        micros_or_none(run.started_at),
        micros_or_none(run.finished_at),
        micros_or_none(run.wake_at),
        run.waiting_for,
        micros_or_none(run.deadline_at),
        gives_up_lease(run),
        run.run_id,
    )


def parent_wake_row(child: RunRecord) -> Row:
    """For ``WAKE_WAITING_RUN``: the ended child's parent, due when the child ended."""
    if child.finished_at is None:
        raise ValueError(f"run {child.run_id} wakes its parent but has no finished_at")
    ended = micros(child.finished_at)
    return (ended, waits_for_child(child.run_id), child.parent_run_id, ended)


def step_row(step: StepRecord) -> Row:
    return (
        step.run_id,
        step.key,
        step.seq,
        step.task_name,
        StepState(step.state),
        step.attempts,
        micros_or_none(step.started_at),
        micros_or_none(step.finished_at),
        step.result,
        step.serializer,
        error_json(step.error),
        step.child_run_id,
        1 if step.cached else 0,
        step.retries_used,
        micros_or_none(step.retry_at),
    )


def event_row(event: EventRecord) -> Row:
    return (
        event.run_id,
        micros(event.at),
        str(event.kind),
        str(event.state),
        event.step_key,
        event.attempt,
        event.message,
        event.by,
    )


def log_row(log: LogRecord) -> Row:
    return (log.run_id, micros(log.at), log.level, log.message, log.step_key)


def cache_row(entry: CacheRecord) -> Row:
    return (
        entry.cache_key,
        entry.task_name,
        entry.result,
        entry.serializer,
        micros(entry.created_at),
        micros_or_none(entry.expires_at),
    )


def decode_sent_event(row: Row) -> SentEvent:
    """A row of ``id, name, key, payload, sent_at, run_id, actor`` from sent_events."""
    return SentEvent(
        id=row[0],
        name=row[1],
        key=row[2],
        payload=row[3],
        sent_at=from_micros(row[4]),
        run_id=row[5],
        by=row[6],
    )


def decode_run(row: Row) -> RunRecord:
    return RunRecord(
        run_id=row[0],
        flow_name=row[1],
        state=RunState(row[2]),
        created_at=_EPOCH + timedelta(microseconds=row[3]),
        target=row[4],
        flow_version=row[5],
        params=row[6],
        result=row[7],
        serializer=row[8],
        error=error_from_json(row[9]),
        parent_run_id=row[10],
        parent_step_key=row[11],
        owner=row[12],
        started_at=from_micros(row[13]),
        finished_at=from_micros(row[14]),
        tags=tuple(json.loads(row[15])),
        queue=row[16],
        priority=row[17],
        idempotency_key=row[18],
        lease_epoch=row[19],
        lease_expires_at=from_micros(row[20]),
        wake_at=from_micros(row[21]),
        waiting_for=row[22],
        deadline_at=from_micros(row[23]),
        recoveries=row[24],
    )


# States in which no worker holds the run: recording one gives the lease up.
_LEASE_FREE = frozenset(
    {
        RunState.PENDING,
        RunState.WAITING,
        RunState.PAUSED,
        RunState.COMPLETED,
        RunState.FAILED,
        RunState.CANCELLED,
    }
)


def gives_up_lease(run: RunRecord) -> bool:
    """Whether recording ``run`` frees its lease: it no longer runs, unless it is a
    cancelled run still being unwound by its worker (``wake_at`` set)."""
    state = RunState(run.state)
    if state is RunState.CANCELLED and run.wake_at is not None:
        return False
    return state in _LEASE_FREE


def worker_row(worker: WorkerRecord) -> Row:
    return (
        worker.worker_id,
        worker.host,
        worker.pid,
        json.dumps(list(worker.queues)),
        worker.concurrency,
        micros(worker.started_at),
        micros(worker.heartbeat_at),
        json.dumps(list(worker.running)),
    )


def decode_worker(row: Row) -> WorkerRecord:
    return WorkerRecord(
        worker_id=row[0],
        host=row[1],
        pid=row[2],
        queues=tuple(json.loads(row[3])),
        concurrency=row[4],
        started_at=_EPOCH + timedelta(microseconds=row[5]),
        heartbeat_at=_EPOCH + timedelta(microseconds=row[6]),
        running=tuple(json.loads(row[7])),
    )


def decode_step(row: Row) -> StepRecord:
    return StepRecord(
        run_id=row[0],
        key=row[1],
        seq=row[2],
        task_name=row[3],
        state=StepState(row[4]),
        attempts=row[5],
        started_at=from_micros(row[6]),
        finished_at=from_micros(row[7]),
        result=row[8],
        serializer=row[9],
        error=error_from_json(row[10]),
        child_run_id=row[11],
        cached=bool(row[12]),
        retries_used=row[13],
        retry_at=from_micros(row[14]),
    )


def decode_event(row: Row) -> EventRecord:
    """A row of ``SELECT_EVENTS``: the id first."""
    return EventRecord(
        id=row[0],
        run_id=row[1],
        at=_EPOCH + timedelta(microseconds=row[2]),
        kind=row[3],
        state=row[4],
        step_key=row[5],
        attempt=row[6],
        message=row[7],
        by=row[8],
    )


def decode_log(row: Row) -> LogRecord:
    return LogRecord(
        run_id=row[0],
        at=_EPOCH + timedelta(microseconds=row[1]),
        level=row[2],
        message=row[3],
        step_key=row[4],
    )


def decode_cache(row: Row) -> CacheRecord:
    return CacheRecord(
        cache_key=row[0],
        task_name=row[1],
        result=row[2],
        serializer=row[3],
        created_at=_EPOCH + timedelta(microseconds=row[4]),
        expires_at=from_micros(row[5]),
    )


@dataclass(slots=True)
class Batch:
    """One ``record()`` call, grouped by table so that each type is one ``executemany``.

    Order is kept within each type (the last upsert of a key wins, events keep their
    order); types do not depend on each other within a batch.
    """

    runs: list[Row] = field(default_factory=list)
    steps: list[Row] = field(default_factory=list)
    events: list[Row] = field(default_factory=list)
    logs: list[Row] = field(default_factory=list)
    cache: list[Row] = field(default_factory=list)
    # Parents to make due because their child run ended (``WAKE_WAITING_RUN`` rows),
    # applied after the runs so they wake in the same transaction.
    wakes: list[Row] = field(default_factory=list)


def encode_batch(changes: Sequence[Change]) -> Batch:
    """Group and encode ``changes``; ``StoreError`` (before any write) if one cannot be."""
    batch = Batch()
    change: object = None
    try:
        for change in changes:
            # Exact types, as the memory store accepts them: a subclass is refused.
            kind = type(change)
            if kind is StepRecord:
                batch.steps.append(step_row(cast(StepRecord, change)))
            elif kind is EventRecord:
                batch.events.append(event_row(cast(EventRecord, change)))
            elif kind is RunRecord:
                run = cast(RunRecord, change)
                batch.runs.append(run_update_row(run))
                if run.wakes_parent:
                    batch.wakes.append(parent_wake_row(run))
            elif kind is LogRecord:
                batch.logs.append(log_row(cast(LogRecord, change)))
            elif kind is CacheRecord:
                batch.cache.append(cache_row(cast(CacheRecord, change)))
            else:
                raise StoreError(messages.unsupported_change(change))
    except (TypeError, ValueError, AttributeError) as exc:
        raise StoreError(messages.unencodable(change, exc)) from exc
    return batch
