"""``MemoryStore``: the Store in dictionaries, for tests and throw-away runs.

It behaves like the SQL stores in everything a caller can observe: the same errors for
the same mistakes, all-or-nothing batches, times handed back in UTC, store-assigned event
ids, fresh lists on every read. Records are frozen, so holding them is not sharing state.
Nothing survives the process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from legato.errors import RunNotFoundError, StoreError
from legato.records import (
    CacheRecord,
    Change,
    EventRecord,
    InputAnswer,
    LogRecord,
    RunFilter,
    RunRecord,
    SentEvent,
    StepRecord,
    WorkerRecord,
    waits_for_child,
)
from legato.states import RunState, StepState
from legato.store import messages
from legato.store.base import Store
from legato.store.deployments_memory import MemoryDeployments
from legato.store.queue_memory import MemoryQueue
from legato.store.rows import gives_up_lease
from legato.store.run_pages import MemoryRunPages
from legato.store.run_search import MemoryRunSearch
from legato.store.step_counts import MemoryStepCounts
from legato.store.tokens import MemoryTokens, TokenRecord


def _utc(value: datetime) -> datetime:
    """``value`` in UTC; ``TypeError`` if it is naive (as the SQL stores)."""
    if value.tzinfo is UTC:
        return value
    if value.utcoffset() is None:
        raise TypeError("can't store offset-naive datetime")
    return value.astimezone(UTC)


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else _utc(value)


def _is_utc(value: datetime | None) -> bool:
    return value is None or value.tzinfo is UTC


def _norm_run(run: RunRecord) -> RunRecord:
    if (
        type(run.state) is RunState
        and type(run.tags) is tuple
        and run.created_at.tzinfo is UTC
        and _is_utc(run.started_at)
        and _is_utc(run.finished_at)
    ):
        return run
    return replace(
        run,
        state=RunState(run.state),
        tags=tuple(run.tags),
        created_at=_utc(run.created_at),
        started_at=_utc_or_none(run.started_at),
        finished_at=_utc_or_none(run.finished_at),
    )


def _norm_step(step: StepRecord) -> StepRecord:
    if type(step.state) is StepState and _is_utc(step.started_at) and _is_utc(step.finished_at):
        return step
    return replace(
        step,
        state=StepState(step.state),
        started_at=_utc_or_none(step.started_at),
        finished_at=_utc_or_none(step.finished_at),
    )


def _norm_event(event: EventRecord) -> EventRecord:
    if type(event.state) is str and type(event.kind) is str and event.at.tzinfo is UTC:
        return event
    return replace(event, state=str(event.state), kind=str(event.kind), at=_utc(event.at))


def _norm_log(log: LogRecord) -> LogRecord:
    return log if log.at.tzinfo is UTC else replace(log, at=_utc(log.at))


def _norm_cache(entry: CacheRecord) -> CacheRecord:
    if entry.created_at.tzinfo is UTC and _is_utc(entry.expires_at):
        return entry
    return replace(
        entry, created_at=_utc(entry.created_at), expires_at=_utc_or_none(entry.expires_at)
    )


_NORMALIZE: dict[type, Callable[[Any], Change]] = {
    RunRecord: _norm_run,
    StepRecord: _norm_step,
    EventRecord: _norm_event,
    LogRecord: _norm_log,
    CacheRecord: _norm_cache,
}


def _normalized(change: object) -> Change:
    """``change`` with UTC times and enum states, as the SQL stores hand them back."""
    normalize = _NORMALIZE.get(type(change))
    if normalize is None:
        raise StoreError(messages.unsupported_change(change))
    try:
        return normalize(change)
    except (TypeError, ValueError, AttributeError) as exc:
        raise StoreError(messages.unencodable(change, exc)) from exc


class MemoryStore(
    MemoryQueue,
    MemoryDeployments,
    MemoryRunSearch,
    MemoryStepCounts,
    MemoryRunPages,
    MemoryTokens,
    Store,
):
    """The Store (all its protocols) in process memory; thread-safe (one lock around
    every call)."""

    url = "memory://"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._closed = False
        self._runs: dict[str, RunRecord] = {}
        self._steps: dict[str, dict[str, StepRecord]] = {}
        # Events are kept without their id; the id is attached on read.
        self._events: dict[str, list[tuple[int, EventRecord]]] = {}
        self._logs: dict[str, list[LogRecord]] = {}
        self._cache: dict[str, CacheRecord] = {}
        self._last_event_id = 0
        self._workers: dict[str, WorkerRecord] = {}
        self._limits: dict[str, int] = {}
        self._sent: list[SentEvent] = []
        self._inputs: dict[tuple[str, str], InputAnswer] = {}
        self._tokens: dict[str, TokenRecord] = {}
        self._work_signal = threading.Condition()
        self._init_deployments()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(messages.closed("the memory store"))

    def create_run(self, run: RunRecord, *, events: Sequence[EventRecord] = ()) -> None:
        """Insert a new run and its first events atomically.

        Raises ``StoreError`` if a run with that id exists (nothing is written then),
        ``RunNotFoundError`` if an event names another run that does not exist.
        """
        new_run = _normalized(run)
        new_events = [_normalized(event) for event in events]
        assert isinstance(new_run, RunRecord)
        with self._lock:
            self._check_open()
            if new_run.run_id in self._runs:
                raise StoreError(messages.duplicate_run(new_run.run_id, self.url))
            self._check_runs_exist(new_events, also=new_run.run_id)
            self._runs[new_run.run_id] = new_run
            self._apply(new_events)

    def record(self, changes: Sequence[Change]) -> None:
        """Apply a batch atomically: every record is checked before any is applied.

        Same contract as ``SqlStore.record``: ``RunRecord`` updates the mutable fields
        of an existing run; steps and cache entries are replaced; events and logs are
        appended. Raises ``RunNotFoundError`` if a record names a missing run,
        ``StoreError`` if a record cannot be stored; nothing is written then.
        """
        if not changes:
            return
        batch = [_normalized(change) for change in changes]
        with self._lock:
            self._check_open()
            self._check_runs_exist(batch)
            self._apply(batch)

    def _check_runs_exist(self, batch: Sequence[Change], also: str | None = None) -> None:
        for change in batch:
            if not isinstance(change, CacheRecord):
                if change.run_id not in self._runs and change.run_id != also:
                    raise RunNotFoundError(change.run_id)

    def _append_event(self, event: EventRecord) -> None:
        """Append with the next id; the caller holds the lock."""
        self._last_event_id += 1
        self._events.setdefault(event.run_id, []).append((self._last_event_id, event))

    def _apply(self, batch: Sequence[Change]) -> None:
        """Apply checked changes; the caller holds the lock."""
        for change in batch:
            match change:
                case StepRecord():
                    self._steps.setdefault(change.run_id, {})[change.key] = change
                case EventRecord():
                    self._append_event(change)
                case RunRecord():
                    self._runs[change.run_id] = replace(
                        self._runs[change.run_id],
                        state=change.state,
                        result=change.result,
                        serializer=change.serializer,
                        error=change.error,
                        owner=change.owner,
                        started_at=change.started_at,
                        finished_at=change.finished_at,
                        wake_at=change.wake_at,
                        waiting_for=change.waiting_for,
                        deadline_at=change.deadline_at,
                        lease_expires_at=(
                            None
                            if gives_up_lease(change)
                            else self._runs[change.run_id].lease_expires_at
                        ),
                    )
                    if change.wakes_parent:
                        self._wake_parent(change)
                case LogRecord():
                    self._logs.setdefault(change.run_id, []).append(change)
                case CacheRecord():
                    self._cache[change.cache_key] = change

    def _wake_parent(self, child: RunRecord) -> None:
        """The child ended: make its parent due if it waits for it; the caller holds the
        lock."""
        parent = self._runs.get(child.parent_run_id or "")
        ended = child.finished_at
        if (
            parent is not None
            and parent.state is RunState.WAITING
            and parent.waiting_for == waits_for_child(child.run_id)
            and (parent.wake_at is None or (ended is not None and parent.wake_at > ended))
        ):
            self._runs[parent.run_id] = replace(parent, wake_at=ended)
            with self._work_signal:
                self._work_signal.notify_all()

    def get_run(self, run_id: str) -> RunRecord:
        """The run; raises ``RunNotFoundError``."""
        with self._lock:
            self._check_open()
            run = self._runs.get(run_id)
        if run is None:
            raise RunNotFoundError(run_id)
        return run

    def list_runs(self, filter: RunFilter) -> list[RunRecord]:
        """Runs matching every condition of ``filter``, newest first (by ``created_at``,
        then run id), at most ``filter.limit``."""
        with self._lock:
            self._check_open()
            found = [run for run in self._runs.values() if _matches(run, filter)]
        found.sort(key=lambda run: (run.created_at, run.run_id), reverse=True)
        return found[: max(filter.limit, 0)]

    def get_steps(self, run_id: str) -> list[StepRecord]:
        """The run's steps ordered by ``seq``; empty for an unknown run."""
        with self._lock:
            self._check_open()
            steps = list(self._steps.get(run_id, {}).values())
        steps.sort(key=lambda step: (step.seq, step.key))
        return steps

    def get_events(self, run_id: str) -> list[EventRecord]:
        """The run's history, oldest first, with store-assigned increasing ids."""
        with self._lock:
            self._check_open()
            stored = list(self._events.get(run_id, ()))
        return [replace(event, id=event_id) for event_id, event in stored]

    def get_logs(self, run_id: str, step_key: str | None = None) -> list[LogRecord]:
        """Log records of the run, or of one of its steps, oldest first."""
        with self._lock:
            self._check_open()
            logs = list(self._logs.get(run_id, ()))
        if step_key is None:
            return logs
        return [log for log in logs if log.step_key == step_key]

    def get_cached(self, cache_key: str, *, now: datetime) -> CacheRecord | None:
        """The entry unless missing or expired (``expires_at <= now``). ``StoreError``
        for a naive ``now``."""
        if now.utcoffset() is None:
            raise StoreError(messages.naive_now(now))
        with self._lock:
            self._check_open()
            entry = self._cache.get(cache_key)
        if entry is None or (entry.expires_at is not None and entry.expires_at <= now):
            return None
        return entry

    def close(self) -> None:
        """Drop the data. Idempotent; any later call raises ``StoreError``."""
        with self._lock:
            self._closed = True
            self._runs, self._steps, self._events, self._logs, self._cache = {}, {}, {}, {}, {}

    def __repr__(self) -> str:
        return f"MemoryStore({self.url!r})"


def _matches(run: RunRecord, filter: RunFilter) -> bool:
    return (
        (filter.state is None or run.state == filter.state)
        and (not filter.states or run.state in filter.states)
        and (filter.flow_name is None or run.flow_name == filter.flow_name)
        and (filter.parent_run_id is None or run.parent_run_id == filter.parent_run_id)
        and (not filter.roots_only or run.parent_run_id is None)
    )
