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
