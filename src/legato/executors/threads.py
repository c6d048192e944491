"""The default executor: worker threads for sync bodies, one event loop for async ones.

A thread that waits for a step's future may *help*: when every worker is busy, it takes a
queued job and runs it itself instead of sleeping. A flow waiting on a thousand mapped
steps thus adds its own thread to the workers rather than idling.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any

_log = logging.getLogger("legato.executor")
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
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> None:
        with self._cond:
            if self._shutdown:
                raise RuntimeError("the executor was shut down")
            self._jobs.append((fn, args))
            # Woken threads stay counted as idle until they take a job, so compare with
            # the queue: start a thread when the idle ones cannot cover every queued job.
            if self._idle >= len(self._jobs):
                self._cond.notify()
            elif self._threads < self.max_workers:
                self._threads += 1
                threading.Thread(
                    target=self._work, name=f"legato-{self._threads}", daemon=True
                ).start()

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
