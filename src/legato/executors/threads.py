"""The default executor: worker threads for sync bodies, one event loop for async ones.

A thread that waits for a step's future may *help*: when every worker is busy, it takes a
queued job and runs it itself instead of sleeping. A flow waiting on a thousand mapped
steps thus adds its own thread to the workers rather than idling.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any

_log = logging.getLogger("legato.executor")
CHECK_INTERVAL = 0.01  # seconds between checks of the workers' progress
STALLED_CHECKS = 4  # checks in a row without a job taken before the pool grows
_Job = tuple[Callable[..., Any], tuple[Any, ...]]


class ThreadExecutor:
    def __init__(self, max_workers: int = 16) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers={max_workers} must be at least 1")
        self.max_workers = max_workers
        self._jobs: deque[_Job] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._threads = 0
        self._idle = 0
        self._shutdown = False
        self._taken = 0  # jobs taken by workers so far
        self._manager: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> None:
        with self._cond:
            if self._shutdown:
                raise RuntimeError("the executor was shut down")
            self._jobs.append((fn, args))
            # Woken threads stay counted as idle until they take a job, so compare with
            # the queue.
            if self._idle >= len(self._jobs):
                self._cond.notify()
            elif self._threads == 0:
                self._start_worker()
            elif self._manager is None and self._threads < self.max_workers:
                self._manager = threading.Thread(
                    target=self._manage, name="legato-pool", daemon=True
                )
                self._manager.start()

    def _start_worker(self) -> None:
        self._threads += 1
        threading.Thread(target=self._work, name=f"legato-{self._threads}", daemon=True).start()

    def _manage(self) -> None:
        # Threads are added only while jobs wait and the workers made no progress for
        # STALLED_CHECKS checks in a row: they are then blocked (I/O, sleeps), and more
        # threads add throughput. Workers busy with short jobs get no company: with the
        # GIL, more threads would only contend for it. Counting checks rather than time
        # keeps a garbage-collection pause (which stops this thread too) from looking
        # like blocked workers.
        stalled = 0
        seen = -1
        while True:
            time.sleep(CHECK_INTERVAL)
            with self._cond:
                if self._shutdown or not self._jobs or self._threads >= self.max_workers:
                    self._manager = None
                    return
                stalled = stalled + 1 if self._taken == seen else 0
                seen = self._taken
                if stalled >= STALLED_CHECKS:
                    stalled = 0
                    waiting = len(self._jobs) - self._idle
                    for _ in range(min(waiting, self.max_workers - self._threads)):
                        self._start_worker()

    def help(self) -> bool:
        """Run one queued job in the calling thread when every worker is busy.

        Returns False (and runs nothing) when no job waits for a worker: a waiting
        thread then sleeps rather than take on a job a free worker is about to start.
        """
        with self._cond:
            if len(self._jobs) <= self._idle or self._threads < self.max_workers:
                return False
            job = self._jobs.popleft()
        _run(job)
        return True

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._jobs:
                    if self._shutdown:
                        self._threads -= 1
                        return
                    self._idle += 1
                    self._cond.wait()
                    self._idle -= 1
                job = self._jobs.popleft()
                self._taken += 1
            _run(job)

    def run_coroutine(self, coro: Coroutine[Any, Any, Any]) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self._event_loop())

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        # One loop thread serves every async body; started on first use so sync-only
        # programs never pay for it.
        with self._loop_lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="legato-loop", daemon=True)
                thread.start()
                self._loop = loop
            return self._loop

    def shutdown(self) -> None:
        """Stop the workers once the queue is empty; queued jobs still run."""
        with self._cond:
            self._shutdown = True
            self._cond.notify_all()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)


def _run(job: _Job) -> None:
    fn, args = job
    try:
        fn(*args)
    except BaseException:  # noqa: BLE001 - jobs report their own outcome; keep the worker
        _log.exception("a job on the legato executor raised")
