"""``@task`` and ``@flow``: bare or with options; both keep the function's signature."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar, overload

from legato.engine.definitions import Flow, Task, check_function, where
from legato.engine.options import CacheKey, FlowOptions, TaskOptions, build

P = ParamSpec("P")
R = TypeVar("R")


def _given(fn: Callable[..., Any], options: dict[str, Any]) -> dict[str, Any]:
    """The options given to a decorator; ``name`` defaults to the function's name."""
    name = options.get("name")
    return {**options, "name": fn.__name__ if name is None else name}


@overload
def task(fn: Callable[P, R], /) -> Task[P, R]: ...
@overload
def task(
    *,
    name: str | None = ...,
    retries: int = ...,
    retry_delay: float | timedelta | Sequence[float | timedelta] = ...,
    backoff: float = ...,
    max_retry_delay: float | timedelta | None = ...,
    jitter: float = ...,
    retry_on: Any = ...,
    timeout: float | timedelta | None = ...,
    cache_key: CacheKey = ...,
    cache_ttl: float | timedelta | None = ...,
    tags: Sequence[str] = ...,
    serializer: str = ...,
    on_failure: Any = ...,
    compensate: Any = ...,
    retry_on_result: Callable[[Any], bool] | None = ...,
    retry_policies: Any = ...,
) -> Callable[[Callable[P, R]], Task[P, R]]: ...
def task(fn: Any = None, /, **options: Any) -> Any:
    """Declare a task: ``@task`` or ``@task(retries=3, retry_delay=[1, 5, 30])``."""

    def decorate(function: Callable[P, R]) -> Task[P, R]:
        check_function(function, "task")
        at = f"@task on {where(function)}"
        known = TaskOptions.option_names()
        return Task(function, build(TaskOptions, _given(function, options), known=known, where=at))

    if fn is None:
        return decorate
    return decorate(fn)


@overload
def flow(fn: Callable[P, R], /) -> Flow[P, R]: ...
@overload
def flow(
    *,
    name: str | None = ...,
    version: str | None = ...,
    timeout: float | timedelta | None = ...,
    retries: int = ...,
    queue: str = ...,
    priority: int = ...,
    tags: Sequence[str] = ...,
    on_failure: Any = ...,
) -> Callable[[Callable[P, R]], Flow[P, R]]: ...
def flow(fn: Any = None, /, **options: Any) -> Any:
    """Declare a flow: ``@flow`` or ``@flow(name="etl", version="2", retries=1)``;
    ``queue``, ``priority`` and ``tags`` apply to runs submitted for workers."""

    def decorate(function: Callable[P, R]) -> Flow[P, R]:
        check_function(function, "flow")
        at = f"@flow on {where(function)}"
        known = FlowOptions.DECLARABLE
        return Flow(function, build(FlowOptions, _given(function, options), known=known, where=at))

    if fn is None:
        return decorate
    return decorate(fn)
