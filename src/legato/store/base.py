"""The Store protocol: everything legato persists goes through these methods.

Backends: ``MemoryStore`` (``memory://``), ``SqliteStore`` (``sqlite:///path``). Every
backend passes ``tests/store/test_contract.py``. The engine never sees SQL.

Writes arrive in batches through :meth:`Store.record` so that one writer can commit the
records of many parallel steps in a single transaction (group commit).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from legato.errors import RunStateError, StoreError
from legato.records import (
    CacheRecord,
    Change,
    EventRecord,
    Fence,
    InputAnswer,
    LogRecord,
    RunFilter,
    RunRecord,
    SentEvent,
    StepRecord,
    WorkerRecord,
)


@runtime_checkable
class Store(Protocol):
    url: str  # as given, with any password removed

    def create_run(self, run: RunRecord, *, events: Sequence[EventRecord] = ()) -> None:
        """Insert a new run and its first events atomically.

        Raises ``StoreError`` if a run with that id exists; nothing is written then.
        """

    def record(self, changes: Sequence[Change]) -> None:
        """Apply a batch atomically: all of it is durable when this returns, or none.

        ``RunRecord``: updates the run's mutable fields (state, result, error, owner,
        times); the run must exist. A child run that ends (``RunRecord.wakes_parent``)
        makes its parent due at its ``finished_at`` when the parent waits for it
        (``waiting_for == waits_for_child(child)``), and wakes idle workers. ``StepRecord``: inserts or replaces the step at
        ``(run_id, key)``. ``EventRecord`` / ``LogRecord``: appended. ``CacheRecord``:
        inserts or replaces the entry at ``cache_key``. Raises ``StoreError``.
        """

    def get_run(self, run_id: str) -> RunRecord:
        """The run; raises ``RunNotFoundError``."""

    def list_runs(self, filter: RunFilter) -> list[RunRecord]:
        """Runs matching ``filter``, newest first, at most ``filter.limit``."""

    def get_steps(self, run_id: str) -> list[StepRecord]:
        """The run's steps ordered by ``seq``; empty for an unknown run."""

    def get_events(self, run_id: str) -> list[EventRecord]:
        """The run's history, oldest first, with store-assigned ids."""

    def get_logs(self, run_id: str, step_key: str | None = None) -> list[LogRecord]:
        """Log records of the run (or of one step), oldest first."""

    def get_cached(self, cache_key: str, *, now: datetime) -> CacheRecord | None:
        """The cache entry unless missing or expired at ``now``."""

    def close(self) -> None:
        """Release connections. Idempotent."""


def check_limit(key: str, limit: int | None) -> None:
    """Raise ``StoreError`` unless ``key`` is ``"flow:NAME"``/``"tag:T"`` and ``limit`` is
    None or >= 0."""
    if not key.startswith(("flow:", "tag:")) or key.endswith(":"):
        raise StoreError(f"concurrency limit key {key!r} must be 'flow:NAME' or 'tag:TAG'")
    if limit is not None and limit < 0:
        raise StoreError(f"concurrency limit of {key!r} must be >= 0, got {limit}")


def already_ended(run: RunRecord, verb: str) -> RunStateError:
    """The one wording for an operator action on a run that has ended."""
    return RunStateError(f"run {run.run_id} already ended ({run.state.value}); nothing to {verb}")


@runtime_checkable
class QueueStore(Store, Protocol):
    """What workers need on top of ``Store``: the run queue, leases and fencing.

    Every backend implements it; it is separate so the engine's core needs only ``Store``.
    """

    def submit_run(
        self, run: RunRecord, *, events: Sequence[EventRecord] = ()
    ) -> tuple[RunRecord, bool]:
        """Insert a pending run; ``(run, True)``.

        If ``run.idempotency_key`` already names a run, nothing is written and that run
        comes back as ``(existing, False)``, or ``IdempotencyConflictError`` is raised
        when its flow or parameters differ. Wakes idle workers (``wait_for_work``).
        """

    def claim_run(
        self, *, worker_id: str, queues: Sequence[str], lease: timedelta, now: datetime
    ) -> RunRecord | None:
        """Atomically take the next runnable run, or None.

        Runnable: in one of ``queues`` and either pending, or running/waiting with a lease
        that expired before ``now`` (its worker died). Highest ``priority`` first, then
        oldest. A run whose flow (``"flow:NAME"``) or any tag (``"tag:T"``) is at its
        concurrency limit (counting runs holding a live lease) is skipped. The claim sets
        state running, ``owner=worker_id``, ``lease_expires_at=now+lease``, increments
        ``lease_epoch`` and appends a run event. Two claimers never get the same run.
        """

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
        """Atomically take one run to execute it in the foreground (``runs resume``).

        A compare-and-set: ``epoch`` is the lease epoch of the record the caller read
        and judged free (its process gone); the take succeeds only if the run is still
        at that epoch, so of several callers racing from one reading exactly one wins.
        Succeeds for a pending or paused run, a running/waiting run that no live worker lease holds
        (a crashed direct call, an expired lease), and with ``retry_failed`` a failed
        run: state running, ``owner``, no lease, epoch incremented, an event appended (by
        ``by``, else ``owner``).
        None (nothing written) when the epoch moved on, a live lease holds it, or it
        ended.
        """

    def requeue_run(self, run_id: str, *, now: datetime, message: str, by: str | None) -> bool:
        """Put a failed run back in its queue (pending) for a worker to retry it by
        replay, its deadline cleared (the retry starts a new one); False (nothing written)
        unless it is failed. Wakes idle workers."""

    def renew_lease(
        self, run_id: str, *, owner: str, epoch: int, lease: timedelta, now: datetime
    ) -> bool:
        """Extend the lease to ``now+lease`` if ``owner`` still holds it at ``epoch``;
        False when the lease was lost (then nothing is written)."""

    def release_run(
        self, run_id: str, *, owner: str, epoch: int, now: datetime, message: str
    ) -> bool:
        """Give the run back (state pending, no owner, no lease) so another worker takes
        it at once; False when the lease was already lost. Appends a run event."""

    def record_fenced(self, changes: Sequence[Change], *, fences: Sequence[Fence]) -> None:
        """``record`` that first checks, for each fence, that its run's lease epoch is
        still ``fence.epoch`` (locking those runs' rows, in run id order, for the
        transaction); otherwise raises ``LeaseLostError`` for the first stale run and
        writes nothing."""

    def send_event(self, event: SentEvent) -> SentEvent:
        """Store an event (with its id) and make the runs waiting for its name due now,
        so a worker resumes them. For ``event.run_id`` only that run; then raises
        ``RunNotFoundError``, or ``RunStateError`` if the run has already ended."""

    def events_for(self, name: str, *, run_id: str, since: datetime) -> list[SentEvent]:
        """Events named ``name`` sent at or after ``since``, for every run or for
        ``run_id``, oldest first."""

    def set_paused(self, run_id: str, *, paused: bool, event: EventRecord) -> bool:
        """Pause a pending, waiting or running run (a process executing it stops at its
        next step), or unpause a paused one (back to the queue, pending); appends
        ``event``. False (nothing written) when the run is not in such a state."""

    def cancel_run(self, run_id: str, *, event: EventRecord) -> RunRecord:
        """Atomically cancel a run that has not ended (a compare-and-set on its state:
        a run that completes meanwhile is never overwritten) and append ``event``.

        A waiting or paused run that can be resumed (it has a ``target``) stays to be
        unwound: ``wake_at=event.at`` and no ``waiting_for``, so a worker replays it to
        run its ``finally`` blocks, handlers and compensations. Any other run gets
        ``finished_at=event.at``. Returns the cancelled run. Raises ``RunNotFoundError``,
        or ``RunStateError`` (nothing written) if the run already ended."""

    def answer_input(self, answer: InputAnswer) -> InputAnswer:
        """Record a person's answer and make the run due now; when the run already has
        an answer for that name, nothing is written and that first answer is returned
        (compare it with ``answer`` to tell who won)."""

    def get_input(self, run_id: str, name: str) -> InputAnswer | None:
        """The answer recorded for the run's input ``name``, if any."""

    def open_inputs(self, limit: int = 100) -> list[StepRecord]:
        """The waiting ``wait_for_input`` steps of waiting (or blocking, still running)
        runs, oldest first."""

    def heartbeat_worker(self, worker: WorkerRecord) -> None:
        """Insert or replace the worker's row."""

    def remove_worker(self, worker_id: str) -> None:
        """Delete the worker's row (it stopped cleanly). Idempotent."""

    def list_workers(self) -> list[WorkerRecord]:
        """Every worker row, newest heartbeat first."""

    def set_limit(self, key: str, limit: int | None) -> None:
        """Set (or with None remove) the concurrency limit of ``"flow:NAME"`` or
        ``"tag:T"``."""

    def get_limits(self) -> dict[str, int]:
        """Every concurrency limit by key."""

    def wait_for_work(self, timeout: float) -> None:
        """Block until a run may have become runnable (a submit, a release) or
        ``timeout`` seconds pass. PostgreSQL listens for notifications; SQLite sleeps."""
