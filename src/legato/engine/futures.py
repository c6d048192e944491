"""Futures of submitted steps, and ``gather``.

A ``StepFuture`` is deliberately small: a run can hold 100,000 of them. They share their
run's condition variable for waiting instead of carrying a lock each.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar, overload

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
        "observed",
    )

    def __init__(
        self,
        key: str,
        task_name: str,
        signal: threading.Condition | None = None,
        helper: Callable[[], bool] | None = None,
    ) -> None:
        self.key = key
        self.task_name = task_name
        self._signal = signal if signal is not None else threading.Condition()
        self._helper = helper  # runs one queued job; used while waiting
        self._state = _PENDING
        self._value: Any = None
        self._callbacks: list[Callable[[StepFuture[Any]], None]] | None = None
        self.observed = False  # someone looked at the outcome; a failure is not silent

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
            self._signal.notify_all()
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
            return True
        helper = self._helper
        if helper is not None:
            while self._state == _PENDING and helper():
                pass
        with self._signal:
            return self._signal.wait_for(self.done, timeout)

    def result(self, timeout: float | None = None) -> R:
        """Wait for the step; return its result or raise its exception."""
        if not self.wait(timeout):
            raise TimeoutError(f"step {self.key} is not done after {timeout}s")
        self.observed = True
        if self._state == _ERROR:
            raise self._value
        return self._value

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
    order is then raised.
    """
    if len(futures) == 1 and not isinstance(futures[0], StepFuture):
        futures = tuple(futures[0])
    for future in futures:
        future.wait()
    return [future.result() for future in futures]
