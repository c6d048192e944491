"""Futures of submitted steps, and ``gather``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import Any, Generic, TypeVar, overload

R = TypeVar("R")


class StepFuture(Generic[R]):
    """The eventual result of ``task.submit(...)``. Its step key is fixed at submit time."""

    __slots__ = ("key", "task_name", "_future", "_helper", "observed")

    def __init__(
        self,
        key: str,
        task_name: str,
        future: Future[Any],
        helper: Callable[[], bool] | None = None,
    ) -> None:
        self.key = key
        self.task_name = task_name
        self._future = future
        self._helper = helper  # runs one queued job; used while waiting
        self.observed = False  # someone looked at the outcome; a failure is not silent

    def result(self, timeout: float | None = None) -> R:
        """Wait for the step; return its result or raise its exception."""
        self.observed = True
        self._help_until_done()
        return self._future.result(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        self.observed = True
        self._help_until_done()
        return self._future.exception(timeout)

    def _help_until_done(self) -> None:
        helper = self._helper
        if helper is not None:
            future = self._future
            while not future.done() and helper():
                pass

    def done(self) -> bool:
        return self._future.done()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the step to finish without looking at its outcome."""
        self._help_until_done()
        try:
            self._future.exception(timeout)
        except Exception:  # noqa: BLE001 - cancelled futures raise here
            pass

    def add_done_callback(self, fn: Any) -> None:
        self._future.add_done_callback(lambda _: fn(self))

    def __repr__(self) -> str:
        state = "done" if self._future.done() else "pending"
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
