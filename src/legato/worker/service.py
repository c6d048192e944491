"""The worker: claim runnable runs, execute each by replay on its own thread, keep their
leases alive, and give them back when stopping.

``tick`` does one round of claiming and ``beat`` one round of lease renewal, each with an
explicit ``now``; ``run(stop)`` is the loop around them that ``legato worker`` uses.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from legato.clock import utcnow
from legato.engine.launch import execute_claimed
from legato.engine.runner import RunReleased
from legato.engine.steps import error_info
from legato.engine.targets import load_target
from legato.errors import LeaseLostError, RunStateError, SerializationError, StoreError
from legato.records import EventRecord, Fence, RunRecord, WorkerRecord
from legato.serialization import loads
from legato.states import RunState
from legato.store.base import QueueStore, Store
from legato.worker.activity import Activity, WorkerStats

log = logging.getLogger("legato.worker")


@dataclass(frozen=True, kw_only=True, slots=True)
class WorkerOptions:
    concurrency: int = 4  # runs executed at once (task bodies share the executor)
    queues: tuple[str, ...] = ("default",)
    lease: timedelta = timedelta(seconds=30)  # how long a claim lasts without renewal
    heartbeat: timedelta | None = None  # lease renewal interval; default lease / 3
    poll_interval: float = 0.5  # seconds between claims when idle (SQLite has no push)
    grace: float = 30.0  # seconds running runs get to finish on shutdown
    # A run taken over this many times after its worker died or lost it fails instead.
    recovery_limit: int = 5
    summary_every: float | None = 60.0  # seconds between summary log lines; None: never

    @property
    def beat_every(self) -> float:
        return (self.heartbeat or self.lease / 3).total_seconds()


@dataclass(slots=True)
class _Active:
    run: RunRecord
    thread: threading.Thread | None = None
    lost: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    claimed_at: float = field(default_factory=time.monotonic)


class Worker:
    """Executes runs from the queue. ``Worker(store, options=..., executor=...)``."""

    def __init__(
        self,
        store: Store,
        *,
        options: WorkerOptions | None = None,
        executor: Any = None,
        worker_id: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if not isinstance(store, QueueStore):
            raise StoreError(f"the store {store.url} cannot hold a run queue")
        self.store = store
        self.options = options or WorkerOptions()
        if self.options.concurrency < 1:
            raise ValueError(f"concurrency={self.options.concurrency} must be at least 1")
        if self.options.recovery_limit < 1:
            raise ValueError(f"recovery_limit={self.options.recovery_limit} must be at least 1")
        if executor is None:
            from legato.engine.context import default_executor

            executor = default_executor()
        self.executor = executor
        host = socket.gethostname()
        self.id = worker_id or f"{host}:{os.getpid()}:{secrets.token_hex(2)}"
        self.clock = clock
        self.started_at = clock()
        self._host = host
        self._active: dict[str, _Active] = {}
        self._lock = threading.Lock()
        self._slot_freed = threading.Event()
        self._stopping = False
        self.activity = Activity(self.id)

    # -- one round at a time ------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> list[str]:
        """Claim runs while slots are free and start each on its own thread."""
        started: list[str] = []
        while not self._stopping and self.free_slots() > 0:
            run = self.store.claim_run(
                worker_id=self.id,
                queues=self.options.queues,
                lease=self.options.lease,
                now=now or self.clock(),
            )
            if run is None:
                break
            if run.recoveries >= self.options.recovery_limit:
                self._fail_run(run, self._recovery_limit_message(run), None)
                continue
            self._start(run)
            started.append(run.run_id)
        return started

    def beat(self, now: datetime | None = None) -> list[str]:
        """Renew the lease of every run held; return the runs whose lease was lost (their
        threads stop at the next step, their writes are already refused)."""
        now = now or self.clock()
        lost = []
        for active in self.active():
            run = active.run
            if not self.store.renew_lease(
                run.run_id, owner=self.id, epoch=run.lease_epoch, lease=self.options.lease, now=now
            ):
                active.lost.set()
                lost.append(run.run_id)
                self.activity.lost(run)
        self.store.heartbeat_worker(
            WorkerRecord(
                worker_id=self.id,
                host=self._host,
                pid=os.getpid(),
                queues=self.options.queues,
                concurrency=self.options.concurrency,
                started_at=self.started_at,
                heartbeat_at=now,
                running=tuple(a.run.run_id for a in self.active()),
            )
        )
        return lost

    def free_slots(self) -> int:
        with self._lock:
            return self.options.concurrency - len(self._active)

    def active(self) -> list[_Active]:
        with self._lock:
            return list(self._active.values())

    def stats(self) -> WorkerStats:
        """Counts of claims and outcomes since the worker started."""
        return self.activity.stats()

    def summary(self) -> str:
        """One line: the counts so far and the runs executing now."""
        running = len(self.active())
        return self.activity.summary(running=running, concurrency=self.options.concurrency)

    # -- the loop -------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Claim and execute until ``stop`` is set, then ``shutdown``."""
        next_beat = 0.0
        summary_every = self.options.summary_every
        next_summary = time.monotonic() + (summary_every or 0.0)
        try:
            while not stop.is_set():
                if time.monotonic() >= next_beat:
                    self.beat()
                    next_beat = time.monotonic() + self.options.beat_every
                if summary_every and time.monotonic() >= next_summary:
                    log.info("%s", self.summary())
                    next_summary = time.monotonic() + summary_every
                self.tick()
                wait = max(0.0, min(self.options.poll_interval, next_beat - time.monotonic()))
                if self.free_slots() > 0:
                    self.store.wait_for_work(wait)
                else:
                    self._slot_freed.wait(wait)
                    self._slot_freed.clear()
        finally:
            self.shutdown()

    def shutdown(self, grace: float | None = None) -> None:
        """Stop claiming; let running runs finish within ``grace`` seconds (their next step
        boundary gives them back), then give back the leases of those still running so
        another worker takes them over at once."""
        self._stopping = True
        grace = self.options.grace if grace is None else grace
        for active in self.active():
            active.released.set()
        deadline = time.monotonic() + grace
        for active in self.active():
            if active.thread is not None:
                active.thread.join(max(0.0, deadline - time.monotonic()))
        for active in self.active():
            self._release(active.run, "its worker stopped before the run ended")
        try:
            self.store.remove_worker(self.id)
        except StoreError as exc:
            log.warning("worker %s could not remove its row: %s", self.id, exc)
        log.info("%s", self.summary())

    # -- executing one run --------------------------------------------------------------

    def _start(self, run: RunRecord) -> None:
        active = _Active(run=run)
        thread = threading.Thread(
            target=self._execute, args=(active,), name=f"legato-run-{run.run_id}", daemon=True
        )
        active.thread = thread
        with self._lock:
            self._active[run.run_id] = active
        self.activity.claimed(run)
        thread.start()

    def _execute(self, active: _Active) -> None:
        run = active.run
        try:
            try:
                if run.target is None:
                    raise RunStateError("the run has no target to import its flow from")
                flow = load_target(run.target)
            except Exception as exc:  # noqa: BLE001 - any import failure fails the run
                self._fail_run(run, self._unimportable_message(run, exc), exc)
                return
            try:
                loads(run.params)
            except SerializationError as exc:
                self._fail_run(run, self._undecodable_message(run, exc), exc)
                return
            handle = execute_claimed(
                run,
                store=self.store,
                flow=flow,
                executor=self.executor,
                listeners=(self.activity.listener(run),),
                lost=active.lost,
                released=active.released,
            )
            self.activity.ended(handle.record, seconds=time.monotonic() - active.claimed_at)
        except RunReleased:
            self._release(run, f"worker {self.id} stopped; the run waits for another worker")
            self.activity.handed_back(run)
        except LeaseLostError:
            self.activity.lost(run)
        except BaseException:  # noqa: BLE001 - a worker thread must not die silently
            log.exception("worker %s: run %s stopped unexpectedly", self.id, run.run_id)
        finally:
            with self._lock:
                self._active.pop(run.run_id, None)
            self._slot_freed.set()

    def _release(self, run: RunRecord, message: str) -> None:
        try:
            self.store.release_run(
                run.run_id, owner=self.id, epoch=run.lease_epoch, now=self.clock(), message=message
            )
        except StoreError as exc:
            log.warning("worker %s could not release run %s: %s", self.id, run.run_id, exc)

    def _unimportable_message(self, run: RunRecord, exc: Exception) -> str:
        return (
            f"worker {self.id} cannot import the flow of run {run.run_id} from target "
            f"{run.target!r}: {type(exc).__name__}: {exc}. Make the code importable where "
            f"the worker runs (working directory, PYTHONPATH, installed package), then "
            f"`legato runs retry {run.run_id}`."
        )

    def _undecodable_message(self, run: RunRecord, exc: Exception) -> str:
        return (
            f"worker {self.id} cannot start run {run.run_id} of flow {run.flow_name!r}: its "
            f"parameters cannot be loaded ({exc}). Make the classes they name importable "
            f"where the worker runs, then `legato runs retry {run.run_id}`; or start a new "
            "run with parameters this code can load."
        )

    def _recovery_limit_message(self, run: RunRecord) -> str:
        return (
            f"run {run.run_id} of flow {run.flow_name!r} reached its recovery limit: a worker "
            f"died or lost it {run.recoveries} times while running it (limit "
            f"{self.options.recovery_limit}, LEGATO_RECOVERY_LIMIT), so it is not claimed "
            "again. Something in it may be killing its worker (memory, a crash in native "
            "code, os._exit): check its last steps with `legato runs show "
            f"{run.run_id}`, fix that, then `legato runs retry {run.run_id}`."
        )

    def _fail_run(self, run: RunRecord, message: str, exc: Exception | None) -> None:
        """Fail a run this worker holds but cannot execute (its code does not import, its
        parameters do not load, it reached the recovery limit), instead of leaving it to
        be claimed again and again. Its flow's code does not run: no handlers."""
        now = self.clock()
        info = replace(error_info(exc or RunStateError(message)), message=message)
        failed = replace(run, state=RunState.FAILED, error=info, finished_at=now, owner=None)
        event = EventRecord(run_id=run.run_id, at=now, kind="run", state="failed", message=message)
        try:
            self.store.record_fenced(
                [failed, event], fences=[Fence(run_id=run.run_id, epoch=run.lease_epoch)]
            )
        except StoreError as store_exc:
            log.warning("worker %s could not fail run %s: %s", self.id, run.run_id, store_exc)
        self.activity.ended(failed, seconds=0.0)
