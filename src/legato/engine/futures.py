"""Futures of submitted steps, and ``gather``.

A ``StepFuture`` is deliberately small: a run can hold 100,000 of them. They share their
run's lock instead of carrying one each; a thread that must block on one registers a
private wake-up lock, so a completion wakes only the threads waiting for that step.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

if TYPE_CHECKING:
    from legato.engine.recorder import Recorder

R = TypeVar("R")

_PENDING, _OK, _ERROR = 0, 1, 2


class StepFuture(Generic[R]):
    """The eventual result of ``task.submit(...)``. Its step key is fixed at submit time."""

    __slots__ = (
        "key",
        "task_name",
        "_signal",
        "_helper",
        "_state",
        "_value",
        "_callbacks",
        "_waiters",
        "_recorder",
        "observed",
        "durable_at",
    )

    def __init__(
        self,
        key: str,
        task_name: str,
        signal: threading.Lock | None = None,
        helper: Callable[[], bool] | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        self.key = key
        self.task_name = task_name
        self._signal = signal if signal is not None else threading.Lock()
        self._helper = helper  # runs one queued job; used while waiting
        self._state = _PENDING
        self._value: Any = None
        self._callbacks: list[Callable[[StepFuture[Any]], None]] | None = None
        self._waiters: list[threading.Lock] | None = None
        self.observed = False  # someone looked at the outcome; a failure is not silent
        self._recorder = recorder
        self.durable_at = 0  # the recorder's sequence number of the completion record

    # -- completing (the engine) ----------------------------------------------------

    def set_result(self, value: Any) -> None:
        self._settle(_OK, value)

    def set_exception(self, error: BaseException) -> None:
        self._settle(_ERROR, error)

    def _settle(self, state: int, value: Any) -> None:
        with self._signal:
            self._value = value
            self._state = state
            callbacks, self._callbacks = self._callbacks, None
            waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            waiter.release()
        for callback in callbacks or ():
            callback(self)

    def add_done_callback(self, fn: Callable[[StepFuture[Any]], None]) -> None:
        """Call ``fn(future)`` when done (at once, in this thread, if it is done)."""
        with self._signal:
            if self._state == _PENDING:
                if self._callbacks is None:
                    self._callbacks = []
                self._callbacks.append(fn)
                return
        fn(self)

    # -- waiting (the flow) ---------------------------------------------------------

    def done(self) -> bool:
        return self._state != _PENDING

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the step to finish without looking at its outcome; True when done."""
        if self._state != _PENDING:
            self._make_durable()
            return True
        helper = self._helper
        if helper is not None:
            while self._state == _PENDING and helper():
                pass
        with self._signal:
            if self._state == _PENDING:
                waiter = threading.Lock()
                waiter.acquire()
                if self._waiters is None:
                    self._waiters = []
                self._waiters.append(waiter)
            else:
                waiter = None
        if waiter is not None and not waiter.acquire(timeout=-1 if timeout is None else timeout):
            with self._signal:
                if self._waiters is not None and waiter in self._waiters:
                    self._waiters.remove(waiter)
            if self._state == _PENDING:
                return False
        self._make_durable()
        return True

    def _make_durable(self) -> None:
        # The step's completion was committed without waiting; nobody sees its result
        # before it is durable.
        if self.durable_at and self._recorder is not None:
            self._recorder.wait_durable(self.durable_at)

    def result(self, timeout: float | None = None) -> R:
        """Wait for the step; return its result or raise its exception."""
        if not self.wait(timeout):
            raise TimeoutError(f"step {self.key} is not done after {timeout}s")
        self.observed = True
        if self._state == _ERROR:
            raise self._value
        value: R = self._value
        return value

    def exception(self, timeout: float | None = None) -> BaseException | None:
        if not self.wait(timeout):
            raise TimeoutError(f"step {self.key} is not done after {timeout}s")
        self.observed = True
        return self._value if self._state == _ERROR else None

    def __repr__(self) -> str:
        state = ("pending", "completed", "failed")[self._state]
        return f"<StepFuture {self.key} {state}>"


@overload
def gather(futures: Iterable[StepFuture[R]], /) -> list[R]: ...
@overload
def gather(*futures: StepFuture[R]) -> list[R]: ...
def gather(*futures: Any) -> list[Any]:
    """Wait for every future (given as arguments or one iterable); return their results.

    Every future is waited for, so none is left running; the first failure in argument
    order is then raised. Gathering counts as looking at every future given: a flow that
    catches that failure has handled the others too (none fails the run as unobserved).
    """
    if len(futures) == 1 and not isinstance(futures[0], StepFuture):
        futures = tuple(futures[0])
    for future in futures:
        future.wait()
    for future in futures:
        future.observed = True
    return [future.result() for future in futures]
