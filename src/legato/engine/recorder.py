"""Group commit: many threads hand records to one writer at a time.

A thread that must know its records are durable (a step completed) calls
``write(changes)``. If nobody is writing, it becomes the writer and commits everything
pending, its own records included; otherwise it waits while the current writer finishes
and the next one takes its records along. Parallel steps thus share transactions, and a
lone sequential flow pays one commit per step with no thread hand-off.

``write(changes, wait=False)`` queues records that need not be durable before the caller
goes on (a step started, a log line); they ride along with the next commit, or a
background flush picks them up within ``flush_interval``.

Records of a worker's runs carry the run's lease ``Fence``: each commit checks every
fence of its batch. When one run's lease was lost, that run's records are dropped and
the rest of the batch is committed; only that run's writers learn of it.

Observer events (``engine.observer``) ride with the records they report:
``write(changes, events=...)`` delivers them once those records are committed, in commit
order, on the thread that committed them (or on one that committed just before), before
any writer waiting for that commit returns. An observer may itself run a flow: its own
writes then return before their events are delivered (right after it returns). Events
of records that were dropped (lost lease) or whose commit failed are never delivered.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence

from legato.engine.observer import Event, publish
from legato.errors import LeaseLostError, StoreError
from legato.records import Change, Fence, StepRecord
from legato.store.base import Store

KICK_BATCH = 256  # pending writes (about 512 records) that make a finishing worker commit

_Entry = tuple[str | None, Sequence[Change], Sequence[Event]]


class Recorder:
    def __init__(self, store: Store, *, flush_interval: float = 0.05) -> None:
        self.store = store
        self._cond = threading.Condition(threading.Lock())
        # (the fence's run id or None, records, their observer events) in queue order
        self._pending: list[_Entry] = []
        self._fences: dict[str, Fence] = {}  # the fences of the pending records
        self._lost: set[str] = set()  # runs whose lease was lost: their writes are refused
        self._queued = 0  # sequence number of the last queued batch
        self._durable = 0  # every batch up to this number is committed
        self._outbox: deque[tuple[int, list[Event]]] = deque()  # (batch, its events)
        self._delivered = 0  # the events of every batch up to this number are delivered
        self._deliverer: int | None = None  # the thread delivering events, if any
        self._writing = False
        self._error: BaseException | None = None
        self._flush_interval = flush_interval
        self._flusher: threading.Thread | None = None
        self._stop = threading.Event()
        self._closed = False

    def write(
        self,
        changes: Sequence[Change],
        *,
        wait: bool = True,
        kick: bool = False,
        fence: Fence | None = None,
        events: Sequence[Event] = (),
    ) -> int:
        """Queue ``changes`` and return their sequence number.

        ``wait``: return once they are committed. ``kick``: do not wait (a step finished
        in a worker thread: whoever later reads its result calls ``wait_durable`` first),
        but commit now if ``KICK_BATCH`` writes are pending and nobody is committing.
        Otherwise the records ride along with the next commit, or the background flush
        within ``flush_interval``.

        ``events``: observer events delivered once ``changes`` are committed (see the
        module docstring).

        Raises ``StoreError`` if a commit failed: the recorder is then broken for good
        and the run must be resumed later from what is durable. Raises
        ``LeaseLostError`` if ``fence``'s run lost its lease (its records are dropped).
        """
        with self._cond:
            self._raise_if_broken()
            owner = None
            if fence is not None:
                owner = fence.run_id
                self._raise_if_lost(owner, fence)
                self._fences[owner] = fence
            self._pending.append((owner, changes, events))
            self._queued += 1
            mine = self._queued
            if wait:
                self._wait_durable(mine)
                if fence is not None:
                    self._raise_if_lost(owner, fence)
            elif kick and not self._writing and len(self._pending) >= KICK_BATCH:
                self._commit_pending()
                self._raise_if_broken()
            else:
                self._ensure_flusher()
            return mine

    def wait_durable(self, seq: int) -> None:
        """Return once everything queued up to ``seq`` is committed (commits are in
        queue order, so a durable record implies every earlier one is)."""
        if self._durable >= seq:
            return
        with self._cond:
            self._wait_durable(seq)

    def _wait_durable(self, seq: int) -> None:
        while self._durable < seq:
            if self._writing:
                self._cond.wait()
            else:
                self._commit_pending()
            self._raise_if_broken()
        self._raise_if_broken()
        self._wait_delivered(seq)

    def flush(self) -> None:
        """Commit everything queued so far."""
        self.write((), wait=True)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._stop.set()
        if self._error is None:
            self.flush()

    def is_lost(self, run_id: str) -> bool:
        """Whether a commit found that ``run_id``'s lease was taken over."""
        return run_id in self._lost

    def _raise_if_lost(self, run_id: str | None, fence: Fence) -> None:
        if run_id is not None and run_id in self._lost:
            raise LeaseLostError(run_id, fence.epoch)

    def _commit_pending(self) -> None:
        # Called with the lock held; releases it while the store commits.
        entries, fences, upto = self._pending, self._fences, self._queued
        self._pending, self._fences = [], {}
        self._writing = True
        self._cond.release()
        error: BaseException | None = None
        interrupted = False
        lost: set[str] = set()
        try:
            self._commit(entries, fences, lost)
        except Exception as exc:  # noqa: BLE001 - every waiter must learn of it
            error = exc
        except BaseException:
            # Ctrl-C landed during the commit: put the batch back (rewriting a step row is
            # harmless) so the interrupted run can still record where it stopped.
            interrupted = True
            raise
        finally:
            self._cond.acquire()
            self._writing = False
            self._lost |= lost
            if interrupted:
                self._pending[:0] = entries
                self._fences.update(fences)
            elif error is not None:
                self._error = error
            else:
                self._durable = upto
                self._queue_events(upto, entries, lost)
            self._cond.notify_all()
        self._deliver()

    # -- observer events ------------------------------------------------------------------
    # Committed batches' events go to an outbox in commit order; one thread at a time
    # (the first committer that finds nobody delivering) delivers them with the lock
    # released, so that an observer may itself run a flow (write through this recorder)
    # without a deadlock; its own writes then do not wait for their delivery.

    def _queue_events(self, upto: int, entries: list[_Entry], lost: set[str]) -> None:
        # Called with the lock held, right after the commit of batch ``upto``.
        events = [e for owner, _, notes in entries if notes and owner not in lost for e in notes]
        if events or self._outbox or self._deliverer is not None:
            self._outbox.append((upto, events))
        else:
            self._delivered = upto

    def _deliver(self) -> None:
        # Called with the lock held; releases it while observers run.
        if self._deliverer is not None or not self._outbox:
            return
        self._deliverer = threading.get_ident()
        try:
            while self._outbox:
                upto, events = self._outbox.popleft()
                if events:
                    self._cond.release()
                    try:
                        publish(events)
                    finally:
                        self._cond.acquire()
                self._delivered = upto
                self._cond.notify_all()
        finally:
            if self._outbox:  # interrupted (Ctrl-C): the rest is not delivered
                self._delivered = self._outbox[-1][0]
                self._outbox.clear()
            self._deliverer = None
            self._cond.notify_all()

    def _wait_delivered(self, seq: int) -> None:
        # Called with the lock held, once ``seq`` is durable.
        while self._delivered < seq and self._deliverer != threading.get_ident():
            if self._deliverer is not None:
                self._cond.wait()
            elif self._outbox:
                self._deliver()
            else:
                return  # nothing left to deliver

    def _commit(
        self,
        entries: list[_Entry],
        fences: dict[str, Fence],
        lost: set[str],
    ) -> None:
        """Commit the entries; drop the records of a run found to have lost its lease
        (adding it to ``lost``) and commit the rest."""
        while True:
            live = {run_id: f for run_id, f in fences.items() if run_id not in lost}
            batch = _compact(
                [c for owner, changes, _ in entries if owner not in lost for c in changes]
            )
            if not live:
                self.store.record(batch)
                return
            try:
                self.store.record_fenced(batch, fences=list(live.values()))
                return
            except LeaseLostError as exc:
                if exc.run_id not in live:
                    raise
                lost.add(exc.run_id)

    def _raise_if_broken(self) -> None:
        if self._error is not None:
            if isinstance(self._error, StoreError):
                raise self._error
            raise StoreError(f"writing to the store failed: {self._error}") from self._error

    def _ensure_flusher(self) -> None:
        # Called with the lock held. The flusher sleeps on its own event, never on the
        # writers' condition: waking it at every commit would cost a thread switch per
        # step. It exits once nothing is pending and is started again on demand.
        if self._flusher is None and not self._closed:
            self._flusher = threading.Thread(
                target=self._flush_loop, name="legato-recorder", daemon=True
            )
            self._flusher.start()

    def _flush_loop(self) -> None:
        while True:
            self._stop.wait(self._flush_interval)
            with self._cond:
                if self._closed or self._error is not None or not self._pending:
                    self._flusher = None
                    return
                if not self._writing:
                    self._queued += 1
                    self._commit_pending()


def _compact(batch: list[Change]) -> list[Change]:
    """Keep only the newest version of each step in a batch (they are full rows)."""
    seen: dict[tuple[str, str], int] = {}
    drop: set[int] = set()
    for index, change in enumerate(batch):
        if type(change) is StepRecord:
            ident = (change.run_id, change.key)
            previous = seen.get(ident)
            if previous is not None:
                drop.add(previous)
            seen[ident] = index
    if not drop:
        return batch
    return [change for index, change in enumerate(batch) if index not in drop]
