"""The queue, signal and control verbs on SQL (``QueueStore``, ``SignalStore``,
``ControlStore``): submit, claim, leases, fencing, workers, limits, events, inputs,
pause and cancel.

Shared by every SQL backend through ``SqlStore``; a dialect overrides the hooks at the
top (``_lease_epochs_sql``, ``_candidates``, ``_notify_work``) where its SQL can do
better, such as PostgreSQL's ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from legato.errors import LeaseLostError, RunNotFoundError, StoreError
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
from legato.store import messages, rows
from legato.store.rules import (
    already_ended,
    at_limit,
    check_can_receive,
    check_limit,
    same_submission,
)

if TYPE_CHECKING:
    from legato.store.queries import Queries
    from legato.store.sql import Cursor

T = TypeVar("T")
A = TypeVar("A")

CANDIDATES = 16  # runs looked at per claim when concurrency limits skip some


class SqlQueue:
    """Mixed into ``SqlStore``; relies on its ``_write``, ``_read``, ``_q``, ``_apply``."""

    _q: Queries
    placeholder: ClassVar[str]
    url: str

    if TYPE_CHECKING:

        def _write(
            self, doing: str, work: Callable[[Cursor, A], T], arg: A, changes: Sequence[Change]
        ) -> T: ...

        def _read(self, work: Callable[[Cursor], T]) -> T: ...

        def _apply(self, cur: Cursor, batch: rows.Batch) -> None: ...

        def get_run(self, run_id: str) -> RunRecord: ...

        def get_steps(self, run_id: str) -> list[StepRecord]: ...

    _work_signal: threading.Condition

    # -- dialect hooks ----------------------------------------------------------------

    def _lock_run_rows(self, cur: Cursor, run_ids: Sequence[str]) -> dict[str, int]:
        """The runs' lease epochs, read in run id order so that no claim can change them
        before commit, in one round trip.

        SQLite's write transaction already excludes other writers; PostgreSQL adds
        ``FOR NO KEY UPDATE``."""
        return dict(cur.execute(self._lease_epochs_sql(len(run_ids)), run_ids).fetchall())

    def _lease_epochs_sql(self, count: int) -> str:
        return self._q.select_lease_epochs.format(runs=", ".join([self.placeholder] * count))

    def _candidates(self, cur: Cursor, sql: str, params: Sequence[Any]) -> list[Any]:
        """Rows of a claim's candidate query (PostgreSQL appends SKIP LOCKED)."""
        return list(cur.execute(sql, params).fetchall())

    def _notify_work(self, cur: Cursor) -> None:
        """Tell idle workers (in other processes too, where the dialect can) that a run
        became runnable; called inside the transaction that made it so."""

    # -- submit -----------------------------------------------------------------------

    def submit_run(
        self, run: RunRecord, *, events: Sequence[EventRecord] = ()
    ) -> tuple[RunRecord, bool]:
        """See ``QueueStore.submit_run``."""
        try:
            run_row = rows.run_row(run)
            event_rows = [rows.event_row(event) for event in events]
        except (TypeError, ValueError, AttributeError) as exc:
            raise StoreError(messages.unencodable(run, exc)) from exc
        q = self._q

        def work(cur: Cursor, _: None) -> RunRecord | None:
            cur.execute(q.insert_run, run_row)
            if cur.rowcount == 0:
                if run.idempotency_key is None:
                    raise StoreError(messages.duplicate_run(run.run_id, self.url))
                row = cur.execute(
                    q.select_run_by_idempotency_key, (run.idempotency_key,)
                ).fetchone()
                if row is None:
                    raise StoreError(messages.duplicate_run(run.run_id, self.url))
                return rows.decode_run(row)
            for event_row in event_rows:
                cur.execute(q.insert_event, event_row)
            self._notify_work(cur)
            return None

        existing = self._write(f"submit run {run.run_id}", work, None, ())
        if existing is None:
            self._wake_local_workers()
            return run, True
        return same_submission(existing, run), False

    # -- claim and leases ---------------------------------------------------------------

    def claim_run(
        self, *, worker_id: str, queues: Sequence[str], lease: timedelta, now: datetime
    ) -> RunRecord | None:
        """See ``QueueStore.claim_run``."""
        if not queues:
            return None
        q = self._q
        marks = ", ".join([self.placeholder] * len(queues))
        now_us = rows.micros(now)
        expires_us = rows.micros(now + lease)

        def work(cur: Cursor, _: None) -> RunRecord | None:
            limits = dict(cur.execute(q.select_limits).fetchall())
            found = (
                self._candidates(cur, q.claim_pending.format(queues=marks), (*queues, CANDIDATES))
                + self._candidates(
                    cur, q.claim_expired.format(queues=marks), (now_us, *queues, CANDIDATES)
                )
                + self._candidates(
                    cur, q.claim_due.format(queues=marks), (now_us, *queues, CANDIDATES)
                )
                + self._candidates(
                    cur, q.claim_unwind.format(queues=marks), (now_us, *queues, CANDIDATES)
                )
            )
            # Pending and expired runs compete on the same terms: priority, then age.
            found.sort(key=lambda row: (-row[3], row[4], row[0]))
            for run_id, flow_name, tags_json, _priority, _created in found:
                if limits and self._at_limit(cur, limits, flow_name, tags_json, now_us):
                    continue
                claim = (worker_id, expires_us, now_us, run_id, now_us, now_us)
                cur.execute(q.claim_update, claim)
                if cur.rowcount == 1:
                    run = rows.decode_run(cur.execute(q.select_run, (run_id,)).fetchone())
                    event = EventRecord(
                        run_id=run_id,
                        at=now,
                        kind="run",
                        state="running",
                        message=f"claimed by worker {worker_id} (lease epoch {run.lease_epoch})",
                        by=worker_id,
                    )
                    cur.execute(q.insert_event, rows.event_row(event))
                    return run
            return None

        return self._write("claim a run", work, None, ())

    def _at_limit(
        self, cur: Cursor, limits: dict[str, int], flow_name: str, tags_json: str, now_us: int
    ) -> bool:
        q = self._q

        def count(key: str) -> int:
            kind, _, name = key.partition(":")
            if kind == "flow":
                return int(cur.execute(q.count_live_of_flow, (name, now_us)).fetchone()[0])
            pattern = f"%{json.dumps(name)}%"
            return int(cur.execute(q.count_live_with_tag, (pattern, now_us)).fetchone()[0])

        tags: list[str] = json.loads(tags_json)
        return at_limit(limits, flow_name=flow_name, tags=tags, live=count)

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
        """See ``QueueStore.take_run``. One conditional UPDATE: the compare-and-set."""
        q = self._q
        now_us = rows.micros(now)

        def work(cur: Cursor, _: None) -> RunRecord | None:
            params = (owner, now_us, now_us, run_id, epoch, now_us, retry_failed)
            if cur.execute(q.take_run, params).rowcount != 1:
                return None
            run = rows.decode_run(cur.execute(q.select_run, (run_id,)).fetchone())
            event = EventRecord(
                run_id=run_id, at=now, kind="run", state="running", message=message, by=by or owner
            )
            cur.execute(q.insert_event, rows.event_row(event))
            return run

        return self._write(f"take run {run_id}", work, None, ())

    def requeue_run(self, run_id: str, *, now: datetime, message: str, by: str | None) -> bool:
        """See ``QueueStore.requeue_run``."""
        event = EventRecord(
            run_id=run_id, at=now, kind="run", state="pending", message=message, by=by
        )

        def work(cur: Cursor, _: None) -> bool:
            if cur.execute(self._q.requeue_run, (run_id,)).rowcount != 1:
                return False
            cur.execute(self._q.insert_event, rows.event_row(event))
            self._notify_work(cur)
            return True

        requeued = self._write(f"requeue run {run_id}", work, None, ())
        if requeued:
            self._wake_local_workers()
        return requeued

    def renew_lease(
        self, run_id: str, *, owner: str, epoch: int, lease: timedelta, now: datetime
    ) -> bool:
        """See ``QueueStore.renew_lease``."""
        params = (rows.micros(now + lease), run_id, owner, epoch)

        def work(cur: Cursor, _: None) -> bool:
            return bool(cur.execute(self._q.renew_lease, params).rowcount == 1)

        return self._write(f"renew the lease of run {run_id}", work, None, ())

    def release_run(
        self, run_id: str, *, owner: str, epoch: int, now: datetime, message: str
    ) -> bool:
        """See ``QueueStore.release_run``."""
        event = EventRecord(
            run_id=run_id, at=now, kind="run", state="pending", message=message, by=owner
        )

        def work(cur: Cursor, _: None) -> bool:
            if cur.execute(self._q.release_run, (run_id, owner, epoch)).rowcount != 1:
                return False
            cur.execute(self._q.insert_event, rows.event_row(event))
            self._notify_work(cur)
            return True

        released = self._write(f"release run {run_id}", work, None, ())
        if released:
            self._wake_local_workers()
        return released

    def record_fenced(self, changes: Sequence[Change], *, fences: Sequence[Fence]) -> None:
        """See ``QueueStore.record_fenced``."""
        batch = rows.encode_batch(changes)
        # Locking rows in one order keeps two writers from waiting on each other.
        ordered = sorted(fences, key=lambda fence: fence.run_id)
        run_ids = [fence.run_id for fence in ordered]

        def work(cur: Cursor, _: None) -> None:
            epochs = self._lock_run_rows(cur, run_ids) if run_ids else {}
            for fence in ordered:
                if epochs.get(fence.run_id) != fence.epoch:
                    raise LeaseLostError(fence.run_id, fence.epoch)
            self._apply(cur, batch)

        self._write("record a batch of changes", work, None, changes)
        if batch.wakes:
            self._wake_local_workers()

    # -- events sent to flows -------------------------------------------------------------

    def send_event(self, event: SentEvent) -> SentEvent:
        """See ``QueueStore.send_event``."""
        q = self._q
        if event.run_id is not None:
            check_can_receive(self.get_run(event.run_id), event)  # or RunNotFoundError
        sent_us = rows.micros(event.sent_at)

        def work(cur: Cursor, _: None) -> int:
            row = (event.name, event.key, event.payload, sent_us, event.run_id, event.by)
            event_id = int(cur.execute(q.insert_sent_event, row).fetchone()[0])
            if event.run_id is None:
                cur.execute(q.wake_waiting_for, (sent_us, event.name, sent_us))
            else:
                cur.execute(q.wake_waiting_run, (sent_us, event.name, event.run_id, sent_us))
            self._notify_work(cur)
            return event_id

        event_id = self._write(f"send event {event.name!r}", work, None, ())
        self._wake_local_workers()
        return replace(event, id=event_id)

    def events_for(self, name: str, *, run_id: str, since: datetime) -> list[SentEvent]:
        """See ``QueueStore.events_for``."""
        found = self._read(
            lambda cur: cur.execute(
                self._q.select_sent_events, (name, rows.micros(since), run_id)
            ).fetchall()
        )
        return [rows.decode_sent_event(row) for row in found]

    # -- operator control -----------------------------------------------------------------

    def set_paused(self, run_id: str, *, paused: bool, event: EventRecord) -> bool:
        """See ``QueueStore.set_paused``."""
        sql = self._q.pause_run if paused else self._q.unpause_run

        def work(cur: Cursor, _: None) -> bool:
            if cur.execute(sql, (run_id,)).rowcount != 1:
                return False
            cur.execute(self._q.insert_event, rows.event_row(event))
            if not paused:
                self._notify_work(cur)
            return True

        changed = self._write(f"{'pause' if paused else 'unpause'} run {run_id}", work, None, ())
        if changed and not paused:
            self._wake_local_workers()
        return changed

    def cancel_run(self, run_id: str, *, event: EventRecord) -> RunRecord:
        """See ``QueueStore.cancel_run``."""
        at = rows.micros(event.at)

        def work(cur: Cursor, _: None) -> bool:
            if cur.execute(self._q.cancel_run, (at, at, run_id)).rowcount != 1:
                return False
            cur.execute(self._q.insert_event, rows.event_row(event))
            return True

        cancelled = self._write(f"cancel run {run_id}", work, None, ())
        run = self.get_run(run_id)  # raises RunNotFoundError
        if not cancelled:
            raise already_ended(run, "cancel")
        return run

    # -- answers to human input ----------------------------------------------------------

    def answer_input(self, answer: InputAnswer) -> InputAnswer:
        """See ``QueueStore.answer_input``."""
        q = self._q
        at = rows.micros(answer.answered_at)
        row = (
            answer.run_id,
            answer.name,
            answer.decision,
            answer.payload,
            answer.answered_by,
            at,
        )

        def work(cur: Cursor, _: None) -> bool:
            if cur.execute(q.run_exists, (answer.run_id,)).fetchone() is None:
                raise RunNotFoundError(answer.run_id)  # as the memory store says it
            if cur.execute(q.insert_input, row).rowcount != 1:
                return False
            cur.execute(q.wake_run_now, (at, answer.run_id, at))
            self._notify_work(cur)
            return True

        won = self._write(f"answer input {answer.name!r} of run {answer.run_id}", work, None, ())
        if won:
            self._wake_local_workers()
            return answer
        first = self.get_input(answer.run_id, answer.name)
        assert first is not None
        return first

    def get_input(self, run_id: str, name: str) -> InputAnswer | None:
        """See ``QueueStore.get_input``."""
        row = self._read(lambda cur: cur.execute(self._q.select_input, (run_id, name)).fetchone())
        if row is None:
            return None
        return InputAnswer(
            run_id=row[0],
            name=row[1],
            decision=row[2],
            payload=row[3],
            answered_by=row[4],
            answered_at=rows.from_micros(row[5]),
        )

    def open_inputs(self, limit: int = 100) -> list[StepRecord]:
        """See ``QueueStore.open_inputs``."""
        found = self._read(lambda cur: cur.execute(self._q.select_open_inputs, (limit,)).fetchall())
        steps = []
        for run_id, step_key, _result, _started in found:
            for step in self.get_steps(run_id):
                if step.key == step_key:
                    steps.append(step)
        return steps

    # -- workers and limits ---------------------------------------------------------------

    def heartbeat_worker(self, worker: WorkerRecord) -> None:
        row = rows.worker_row(worker)
        self._write(
            f"record worker {worker.worker_id}",
            lambda cur, _: cur.execute(self._q.upsert_worker, row),
            None,
            (),
        )

    def remove_worker(self, worker_id: str) -> None:
        self._write(
            f"remove worker {worker_id}",
            lambda cur, _: cur.execute(self._q.delete_worker, (worker_id,)),
            None,
            (),
        )

    def list_workers(self) -> list[WorkerRecord]:
        found = self._read(lambda cur: cur.execute(self._q.select_workers).fetchall())
        return [rows.decode_worker(row) for row in found]

    def set_limit(self, key: str, limit: int | None) -> None:
        check_limit(key, limit)
        q = self._q
        if limit is None:
            self._write(
                "remove a limit", lambda cur, _: cur.execute(q.delete_limit, (key,)), None, ()
            )
        else:
            self._write(
                "set a limit", lambda cur, _: cur.execute(q.upsert_limit, (key, limit)), None, ()
            )

    def get_limits(self) -> dict[str, int]:
        return dict(self._read(lambda cur: cur.execute(self._q.select_limits).fetchall()))

    # -- waking idle workers --------------------------------------------------------------

    def wait_for_work(self, timeout: float) -> None:
        """Sleep up to ``timeout``; wakes early when this process submits or releases a
        run. Other processes are seen by the caller's next poll."""
        with self._work_signal:
            self._work_signal.wait(timeout)

    def _wake_local_workers(self) -> None:
        with self._work_signal:
            self._work_signal.notify_all()
