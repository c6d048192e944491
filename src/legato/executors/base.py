"""Where step bodies run. The engine hands an executor plain callables and coroutines."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, Protocol


class Executor(Protocol):
    def submit(self, fn: Callable[..., Any], /, *args: Any) -> None:
        """Run ``fn(*args)`` soon. ``fn`` reports its own outcome (the engine's jobs
        complete a ``StepFuture``)."""

    def run_coroutine(self, coro: Coroutine[Any, Any, Any]) -> Future[Any]:
        """Run a coroutine on the executor's event loop."""

    def help(self) -> bool:
        """Run one queued job in the calling thread, if any (a waiting thread helps)."""

    def shutdown(self) -> None:
        """Stop accepting work; running bodies are left to finish."""


class RemoteExecutor(Executor, Protocol):
    """An executor that runs task bodies somewhere else (a Dask cluster).

    The engine's jobs (replay, retries, recording) still go through ``submit`` and run
    in this process; only each attempt's body is handed to ``run_body``.
    """

    def run_body(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], *, name: str
    ) -> Future[Any]:
        """Start ``fn(*args, **kwargs)`` elsewhere; the future holds its value or exception.

        ``name`` (the task's name) labels the work on the remote side. Cancelling the
        future gives up on the body: its late result is discarded.
        """
