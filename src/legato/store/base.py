"""The store protocols: everything legato persists goes through these methods.

One protocol per concern, so that a caller asks only for what it uses and a new concern
(deployments and fires, tokens and audit) arrives as a protocol of its own, in its own
module, without growing the others:

- ``RunStore``: runs, steps, history, logs and the result cache (what executing reads
  and writes);
- ``QueueStore``: the run queue, leases and fencing, workers and concurrency limits;
- ``SignalStore``: events sent to runs and people's answers to their inputs;
- ``ControlStore``: an operator's pause, unpause and cancel;
- ``Store``: all four, the one the engine, the worker and the CLI are typed against.

Each backend (``MemoryStore``, ``SqliteStore`` and ``PostgresStore``) inherits the
protocols it implements, and ``tests/store/test_protocols.py`` checks that it implements
each of them and that every verb of every protocol has a contract test run on every
backend. The engine never sees SQL.

Every method raises ``StoreError`` when the backend fails (a driver error, a closed
store) and then has written nothing; its docstring says what it writes in one atomic
step and what else it raises. Rules shared by the backends (an idempotency
conflict, a concurrency limit) live in ``legato.store.rules``.

Writes arrive in batches through :meth:`RunStore.record` so that one writer can commit
the records of many parallel steps in a single transaction (group commit).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

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
from legato.store.rules import already_ended, check_limit

__all__ = [
    "ControlStore",
    "QueueStore",
    "RunStore",
    "SignalStore",
    "Store",
    "already_ended",
    "check_limit",
]


@runtime_checkable
class RunStore(Protocol):
    """Runs, their steps, history, logs and the result cache."""

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
        (``waiting_for == waits_for_child(child)``), and wakes idle workers.
        ``StepRecord``: inserts or replaces the step at ``(run_id, key)``. ``EventRecord`` / ``LogRecord``: appended. ``CacheRecord``:
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


@runtime_checkable
class QueueStore(Protocol):
    """The run queue: submit, claim, take and requeue runs; leases and fenced writes;
    the workers' rows and the concurrency limits. What a worker needs besides ``RunStore``."""

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
        Succeeds for a pending or paused run, a running/waiting run that no live worker
        lease holds (a crashed direct call, an expired lease), and with ``retry_failed`` a
        failed run: state running, ``owner``, no lease, epoch incremented, an event
        appended (by ``by``, else ``owner``).
        None (nothing written) when the epoch moved on, a live lease holds it, or it
        ended.
        """

    def requeue_run(self, run_id: str, *, now: datetime, message: str, by: str | None) -> bool:
        """Atomically put a failed run back in its queue (pending) for a worker to retry
        it by replay, its deadline cleared (the retry starts a new one), and append a run
        event by ``by``; False (nothing written) unless it is failed (an unknown run too).
        Wakes idle workers."""

    def renew_lease(
        self, run_id: str, *, owner: str, epoch: int, lease: timedelta, now: datetime
    ) -> bool:
        """Atomically extend the lease to ``now+lease`` if ``owner`` still holds it at
        ``epoch``; False when the lease was lost (then nothing is written)."""

    def release_run(
        self, run_id: str, *, owner: str, epoch: int, now: datetime, message: str
    ) -> bool:
        """Atomically give the run back (state pending, no owner, no lease) so another
        worker takes it at once, and append a run event; False (nothing written) when
        ``owner`` no longer holds it at ``epoch``. Wakes idle workers."""

    def record_fenced(self, changes: Sequence[Change], *, fences: Sequence[Fence]) -> None:
        """``record`` that first checks, for each fence, that its run's lease epoch is
        still ``fence.epoch`` (locking those runs' rows, in run id order, for the
        transaction); otherwise raises ``LeaseLostError`` for the first stale run and
        writes nothing."""

    def wait_for_work(self, timeout: float) -> None:
        """Block until a run may have become runnable (a submit, a release) or
        ``timeout`` seconds pass. PostgreSQL listens for notifications; SQLite sleeps."""

    def heartbeat_worker(self, worker: WorkerRecord) -> None:
        """Insert or replace the worker's row (one atomic write)."""

    def remove_worker(self, worker_id: str) -> None:
        """Delete the worker's row (it stopped cleanly). Idempotent."""

    def list_workers(self) -> list[WorkerRecord]:
        """Every worker row, newest heartbeat first."""

    def set_limit(self, key: str, limit: int | None) -> None:
        """Set (or with None remove) the concurrency limit of ``"flow:NAME"`` or
        ``"tag:T"`` (one atomic write). Raises ``StoreError`` (nothing written) for
        another key or a negative limit."""

    def get_limits(self) -> dict[str, int]:
        """Every concurrency limit by key."""


@runtime_checkable
class SignalStore(Protocol):
    """Signals from outside a run: events sent to runs and people's answers to inputs."""

    def send_event(self, event: SentEvent) -> SentEvent:
        """Atomically store an event (the returned copy has its id) and make the runs
        waiting for its name due at ``event.sent_at``, so a worker resumes them; wakes
        idle workers. For ``event.run_id`` only that run; then raises
        ``RunNotFoundError``, or ``RunStateError`` if the run has already ended (nothing
        written either way)."""

    def events_for(self, name: str, *, run_id: str, since: datetime) -> list[SentEvent]:
        """Events named ``name`` sent at or after ``since``, for every run or for
        ``run_id``, oldest first."""

    def answer_input(self, answer: InputAnswer) -> InputAnswer:
        """Atomically record a person's answer and make the run, if waiting, due at
        ``answer.answered_at``; wakes idle workers. When the run already has an answer
        for that name, nothing is written and that first answer is returned (compare it
        with ``answer`` to tell who won). Raises ``RunNotFoundError`` (nothing written)
        for an unknown run."""

    def get_input(self, run_id: str, name: str) -> InputAnswer | None:
        """The answer recorded for the run's input ``name``, if any."""

    def open_inputs(self, limit: int = 100) -> list[StepRecord]:
        """The waiting ``wait_for_input`` steps of waiting (or blocking, still running)
        runs, oldest first."""


@runtime_checkable
class ControlStore(Protocol):
    """An operator's control over a run: pause, unpause and cancel, each atomic."""

    def set_paused(self, run_id: str, *, paused: bool, event: EventRecord) -> bool:
        """Atomically pause a pending, waiting or running run (a process executing it
        stops at its next step), or unpause a paused one (back to the queue, pending,
        waking idle workers), and append ``event``. False (nothing written) when the run
        is unknown or not in such a state."""

    def cancel_run(self, run_id: str, *, event: EventRecord) -> RunRecord:
        """Atomically cancel a run that has not ended (a compare-and-set on its state:
        a run that completes meanwhile is never overwritten) and append ``event``.

        A waiting or paused run that can be resumed (it has a ``target``) stays to be
        unwound: ``wake_at=event.at`` and no ``waiting_for``, so a worker replays it to
        run its ``finally`` blocks, handlers and compensations. Any other run gets
        ``finished_at=event.at``. Returns the cancelled run. Raises ``RunNotFoundError``,
        or ``RunStateError`` (nothing written) if the run already ended."""


@runtime_checkable
class Store(RunStore, QueueStore, SignalStore, ControlStore, Protocol):
    """Everything a backend keeps for runs: the protocol the engine is typed against.

    Every backend implements it. A part of legato that needs only one concern may ask for
    that protocol alone (a read-only view needs only ``RunStore``).
    """
