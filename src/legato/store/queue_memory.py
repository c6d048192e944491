"""The queue, signal and control verbs of ``MemoryStore`` (``QueueStore``,
``SignalStore``, ``ControlStore``), same contract as SQL."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from legato.errors import LeaseLostError, RunNotFoundError
from legato.records import (
    Change,
    EventRecord,
    Fence,
    InputAnswer,
    RunRecord,
    SentEvent,
    StepRecord,
    WorkerRecord,
)
from legato.states import RunState, StepState
from legato.store.rules import (
    already_ended,
    at_limit,
    check_can_receive,
    check_limit,
    same_submission,
)

LEASE_FREE = frozenset(
    {
        RunState.PENDING,
        RunState.WAITING,
        RunState.PAUSED,
        RunState.COMPLETED,
        RunState.FAILED,
        RunState.CANCELLED,
    }
)
_HELD = (RunState.RUNNING, RunState.WAITING)


class MemoryQueue:
    """Mixed into ``MemoryStore``; every method holds the store's lock."""

    _lock: threading.Lock
    _runs: dict[str, RunRecord]
    _workers: dict[str, WorkerRecord]
    _limits: dict[str, int]
    _work_signal: threading.Condition
    _sent: list[SentEvent]
    _inputs: dict[tuple[str, str], InputAnswer]
    _steps: dict[str, dict[str, StepRecord]]
    url: str

    if TYPE_CHECKING:

        def _check_open(self) -> None: ...
        def _append_event(self, event: EventRecord) -> None: ...
        def create_run(self, run: RunRecord, *, events: Sequence[EventRecord] = ()) -> None: ...
        def record(self, changes: Sequence[Change]) -> None: ...
        def _check_runs_exist(self, batch: Sequence[Change], also: str | None = None) -> None: ...
        def _apply(self, batch: Sequence[Change]) -> None: ...

    def submit_run(
        self, run: RunRecord, *, events: Sequence[EventRecord] = ()
    ) -> tuple[RunRecord, bool]:
        key = run.idempotency_key
        with self._lock:
            self._check_open()
            existing = next(
                (r for r in self._runs.values() if key is not None and r.idempotency_key == key),
                None,
            )
        if existing is None:
            self.create_run(run, events=events)
            with self._work_signal:
                self._work_signal.notify_all()
            return run, True
        return same_submission(existing, run), False

    def claim_run(
        self, *, worker_id: str, queues: Sequence[str], lease: timedelta, now: datetime
    ) -> RunRecord | None:
        with self._lock:
            self._check_open()
            runnable = [
                r
                for r in self._runs.values()
                if r.queue in queues
                and (
                    r.state is RunState.PENDING
                    or (
                        r.state in _HELD
                        and r.lease_expires_at is not None
                        and r.lease_expires_at < now
                    )
                    or (
                        r.state in (RunState.WAITING, RunState.CANCELLED)
                        and r.lease_expires_at is None
                        and r.wake_at is not None
                        and r.wake_at <= now
                    )
                )
            ]
            runnable.sort(key=lambda r: (-r.priority, r.created_at, r.run_id))
            for run in runnable:
                if self._limits and self._at_limit(run, now):
                    continue
                claimed = replace(
                    run,
                    state=(
                        RunState.CANCELLED if run.state is RunState.CANCELLED else RunState.RUNNING
                    ),
                    owner=worker_id,
                    lease_epoch=run.lease_epoch + 1,
                    lease_expires_at=now + lease,
                    # Its lease expired: its worker died or lost it.
                    recoveries=run.recoveries + int(run.lease_expires_at is not None),
                    started_at=run.started_at or now,
                    finished_at=None,
                )
                self._runs[run.run_id] = claimed
                self._append_event(
                    EventRecord(
                        run_id=run.run_id,
                        at=now,
                        kind="run",
                        state="running",
                        message=f"claimed by worker {worker_id} (lease epoch "
                        f"{claimed.lease_epoch})",
                        by=worker_id,
                    )
                )
                return claimed
        return None

    def _at_limit(self, run: RunRecord, now: datetime) -> bool:
        live = [
            r
            for r in self._runs.values()
            if r.state in _HELD and r.lease_expires_at is not None and r.lease_expires_at >= now
        ]

        def count(key: str) -> int:
            kind, _, name = key.partition(":")
            if kind == "flow":
                return sum(r.flow_name == name for r in live)
            return sum(name in r.tags for r in live)

        return at_limit(self._limits, flow_name=run.flow_name, tags=run.tags, live=count)

    def _holder(self, run_id: str, owner: str, epoch: int) -> RunRecord | None:
        run = self._runs.get(run_id)
        if run is None or run.owner != owner or run.lease_epoch != epoch:
            return None
        return run if run.state in _HELD else None

    def take_run(
        self,
        run_id: str,
        *,
        owner: str,
        epoch: int,
        now: datetime,
        message: str,
        retry_failed: bool = False,
        by: str | None = None,
    ) -> RunRecord | None:
        with self._lock:
            self._check_open()
            run = self._runs.get(run_id)
            if run is None or run.lease_epoch != epoch:
                return None
            free = (
                run.state in (RunState.PENDING, RunState.PAUSED)
                or (
                    run.state in _HELD
                    and (run.lease_expires_at is None or run.lease_expires_at < now)
                )
                or (run.state is RunState.FAILED and retry_failed)
            )
            if not free:
                return None
            taken = replace(
                run,
                state=RunState.RUNNING,
                owner=owner,
                lease_epoch=run.lease_epoch + 1,
                lease_expires_at=None,
                finished_at=None,
                error=None,
                recoveries=0,
                started_at=now if run.state is RunState.FAILED else (run.started_at or now),
            )
            self._runs[run_id] = taken
            self._append_event(
                EventRecord(
                    run_id=run_id,
                    at=now,
                    kind="run",
                    state="running",
                    message=message,
                    by=by or owner,
                )
            )
            return taken

    def requeue_run(self, run_id: str, *, now: datetime, message: str, by: str | None) -> bool:
        with self._lock:
            self._check_open()
            run = self._runs.get(run_id)
            if run is None or run.state is not RunState.FAILED:
                return False
            self._runs[run_id] = replace(
                run,
                state=RunState.PENDING,
                owner=None,
                lease_expires_at=None,
                error=None,
                finished_at=None,
                recoveries=0,
                deadline_at=None,
            )
            self._append_event(
                EventRecord(
                    run_id=run_id, at=now, kind="run", state="pending", message=message, by=by
                )
            )
        with self._work_signal:
            self._work_signal.notify_all()
        return True

    def renew_lease(
        self, run_id: str, *, owner: str, epoch: int, lease: timedelta, now: datetime
    ) -> bool:
        with self._lock:
            self._check_open()
            run = self._holder(run_id, owner, epoch)
            if run is None:
                return False
            self._runs[run_id] = replace(run, lease_expires_at=now + lease)
            return True

    def release_run(
        self, run_id: str, *, owner: str, epoch: int, now: datetime, message: str
    ) -> bool:
        with self._lock:
            self._check_open()
            run = self._holder(run_id, owner, epoch)
            if run is None:
                return False
            self._runs[run_id] = replace(
                run, state=RunState.PENDING, owner=None, lease_expires_at=None
            )
            self._append_event(
                EventRecord(
                    run_id=run_id, at=now, kind="run", state="pending", message=message, by=owner
                )
            )
        with self._work_signal:
            self._work_signal.notify_all()
        return True

    def record_fenced(self, changes: Sequence[Change], *, fences: Sequence[Fence]) -> None:
        from legato.store.memory import _normalized

        batch = [_normalized(change) for change in changes]
        with self._lock:
            self._check_open()
            for fence in sorted(fences, key=lambda fence: fence.run_id):
                run = self._runs.get(fence.run_id)
                if run is None or run.lease_epoch != fence.epoch:
                    raise LeaseLostError(fence.run_id, fence.epoch)
            self._check_runs_exist(batch)
            self._apply(batch)

    def send_event(self, event: SentEvent) -> SentEvent:
        with self._lock:
            self._check_open()
            if event.run_id is not None:
                target = self._runs.get(event.run_id)
                if target is None:
                    raise RunNotFoundError(event.run_id)
                check_can_receive(target, event)
            self._sent.append(replace(event, id=len(self._sent) + 1))
            stored = self._sent[-1]
            for run in list(self._runs.values()):
                if (
                    run.state is RunState.WAITING
                    and run.waiting_for == event.name
                    and (event.run_id is None or run.run_id == event.run_id)
                    and (run.wake_at is None or run.wake_at > event.sent_at)
                ):
                    self._runs[run.run_id] = replace(run, wake_at=event.sent_at)
        with self._work_signal:
            self._work_signal.notify_all()
        return stored

    def events_for(self, name: str, *, run_id: str, since: datetime) -> list[SentEvent]:
        with self._lock:
            return [
                e
                for e in self._sent
                if e.name == name and e.sent_at >= since and e.run_id in (None, run_id)
            ]

    def set_paused(self, run_id: str, *, paused: bool, event: EventRecord) -> bool:
        with self._lock:
            self._check_open()
            run = self._runs.get(run_id)
            if run is None:
                return False
            if paused and run.state in (RunState.PENDING, RunState.WAITING, RunState.RUNNING):
                self._runs[run_id] = replace(run, state=RunState.PAUSED)
            elif not paused and run.state is RunState.PAUSED:
                self._runs[run_id] = replace(
                    run,
                    state=RunState.PENDING,
                    owner=None,
                    lease_expires_at=None,
                    wake_at=None,
                    waiting_for=None,
                )
            else:
                return False
            self._append_event(event)
        if not paused:
            with self._work_signal:
                self._work_signal.notify_all()
        return True

    def cancel_run(self, run_id: str, *, event: EventRecord) -> RunRecord:
        with self._lock:
            self._check_open()
            run = self._runs.get(run_id)
            if run is None:
                raise RunNotFoundError(run_id)
            if run.state.is_final:
                raise already_ended(run, "cancel")
            if run.state in (RunState.WAITING, RunState.PAUSED) and run.target is not None:
                cancelled = replace(
                    run, state=RunState.CANCELLED, wake_at=event.at, waiting_for=None
                )
            else:
                cancelled = replace(run, state=RunState.CANCELLED, finished_at=event.at)
            self._runs[run_id] = cancelled
            self._append_event(event)
        return cancelled

    def answer_input(self, answer: InputAnswer) -> InputAnswer:
        with self._lock:
            self._check_open()
            if answer.run_id not in self._runs:
                raise RunNotFoundError(answer.run_id)
            first = self._inputs.get((answer.run_id, answer.name))
            if first is not None:
                return first
            self._inputs[(answer.run_id, answer.name)] = answer
            run = self._runs[answer.run_id]
            if run.state is RunState.WAITING and (
                run.wake_at is None or run.wake_at > answer.answered_at
            ):
                self._runs[run.run_id] = replace(run, wake_at=answer.answered_at)
        with self._work_signal:
            self._work_signal.notify_all()
        return answer

    def get_input(self, run_id: str, name: str) -> InputAnswer | None:
        with self._lock:
            return self._inputs.get((run_id, name))

    def open_inputs(self, limit: int = 100) -> list[StepRecord]:
        with self._lock:
            found = [
                step
                for run_id, steps in self._steps.items()
                if self._runs[run_id].state in (RunState.WAITING, RunState.RUNNING)
                for step in steps.values()
                if step.task_name == "wait_for_input" and step.state is StepState.WAITING
            ]
        found.sort(key=lambda s: s.started_at or self._runs[s.run_id].created_at)
        return found[:limit]

    def heartbeat_worker(self, worker: WorkerRecord) -> None:
        with self._lock:
            self._check_open()
            self._workers[worker.worker_id] = worker

    def remove_worker(self, worker_id: str) -> None:
        with self._lock:
            self._workers.pop(worker_id, None)

    def list_workers(self) -> list[WorkerRecord]:
        with self._lock:
            return sorted(self._workers.values(), key=lambda w: w.heartbeat_at, reverse=True)

    def set_limit(self, key: str, limit: int | None) -> None:
        check_limit(key, limit)
        with self._lock:
            if limit is None:
                self._limits.pop(key, None)
            else:
                self._limits[key] = limit

    def get_limits(self) -> dict[str, int]:
        with self._lock:
            return dict(self._limits)

    def wait_for_work(self, timeout: float) -> None:
        with self._work_signal:
            self._work_signal.wait(timeout)
