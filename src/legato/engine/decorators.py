"""``@task`` and ``@flow``: bare or with options; both keep the function's signature."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar, overload

from legato.engine.definitions import (
    SERIALIZERS,
    CacheKey,
    Flow,
    FlowOptions,
    Task,
    TaskOptions,
    check_function,
    where,
)
from legato.engine.retries import RetryPolicy, policies_by_type, to_seconds
from legato.errors import DefinitionError

P = ParamSpec("P")
R = TypeVar("R")


def build_task_options(
    fn: Callable[..., Any],
    *,
    name: str | None = None,
    retries: int = 0,
    retry_delay: float | timedelta | Sequence[float | timedelta] = 0,
    backoff: float = 1.0,
    max_retry_delay: float | timedelta | None = None,
    jitter: float = 0.0,
    retry_on: Any = Exception,
    timeout: float | timedelta | None = None,
    cache_key: CacheKey = None,
    cache_ttl: float | timedelta | None = None,
    tags: Sequence[str] = (),
    serializer: str = "json",
    on_failure: Any = None,
    compensate: Any = None,
    retry_on_result: Callable[[Any], bool] | None = None,
    retry_policies: Any = None,
) -> TaskOptions:
    at = f"@task on {where(fn)}"
    task_name = _check_name(name, fn, at)
    if serializer not in SERIALIZERS:
        raise DefinitionError(f"{at}: serializer={serializer!r} must be one of {SERIALIZERS}")
    if cache_key is not None and cache_key != "inputs" and not callable(cache_key):
        raise DefinitionError(
            f"{at}: cache_key={cache_key!r} must be 'inputs' (hash of the arguments) or a "
            "function taking the task's arguments and returning a string"
        )
    if isinstance(tags, str):
        raise DefinitionError(f"{at}: tags={tags!r} must be a list of strings, e.g. ['io']")
    ttl = None if cache_ttl is None else to_seconds(cache_ttl, option="cache_ttl", where=at)
    if retry_on_result is not None and not callable(retry_on_result):
        raise DefinitionError(
            f"{at}: retry_on_result={retry_on_result!r} must be a function of the result "
            "returning True to retry"
        )
    base = RetryPolicy.build(
        where=at,
        retries=retries,
        retry_delay=retry_delay,
        backoff=backoff,
        max_retry_delay=max_retry_delay,
        jitter=jitter,
        retry_on=retry_on,
    )
    return TaskOptions(
        name=task_name,
        retry=base,
        retry_policies=policies_by_type(retry_policies, base=base, where=at),
        timeout=_timeout(timeout, at),
        cache_key=cache_key,
        cache_ttl=None if ttl is None else timedelta(seconds=ttl),
        tags=tuple(tags),
        serializer=serializer,
        on_failure=handler_tasks(on_failure, option="on_failure", where=at),
        compensate=(
            None if compensate is None else as_task(compensate, option="compensate", where=at)
        ),
        retry_on_result=retry_on_result,
    )


def _check_name(name: str | None, fn: Callable[..., Any], at: str) -> str:
    chosen = fn.__name__ if name is None else name
    if (
        not isinstance(chosen, str)
        or not chosen
        or "#" in chosen
        or "/" in chosen
        or chosen.strip() != chosen
    ):
        raise DefinitionError(
            f"{at}: name={chosen!r} must be a non-empty string without '#', '/' or "
            "surrounding spaces"
        )
    return chosen


def _timeout(value: float | timedelta | None, at: str) -> float | None:
    if value is None:
        return None
    seconds = to_seconds(value, option="timeout", where=at)
    if seconds == 0:
        raise DefinitionError(f"{at}: timeout=0 would fail every attempt; use None for no limit")
    return seconds


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
        try:
            built = build_task_options(function, **options)
        except TypeError as exc:
            if isinstance(exc, DefinitionError):
                raise
            raise DefinitionError(f"@task on {where(function)}: {_unknown(exc)}") from None
        return Task(function, built)

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
    known = {"name", "version", "timeout", "retries", "queue", "priority", "tags", "on_failure"}

    def decorate(function: Callable[P, R]) -> Flow[P, R]:
        check_function(function, "flow")
        at = f"@flow on {where(function)}"
        unknown = set(options) - known
        if unknown:
            raise DefinitionError(
                f"{at}: unknown option(s) {sorted(unknown)}; @flow takes {sorted(known)}"
            )
        retries = options.get("retries", 0)
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise DefinitionError(f"{at}: retries={retries!r} must be an integer >= 0")
        version = options.get("version")
        if version is not None and not isinstance(version, str):
            raise DefinitionError(f"{at}: version={version!r} must be a string, e.g. '2'")
        queue = options.get("queue", "default")
        if not isinstance(queue, str) or not queue.strip():
            raise DefinitionError(f"{at}: queue={queue!r} must be a non-empty string")
        priority = options.get("priority", 0)
        if not isinstance(priority, int) or isinstance(priority, bool):
            raise DefinitionError(f"{at}: priority={priority!r} must be an integer")
        tags = options.get("tags", ())
        if isinstance(tags, str) or not all(isinstance(t, str) for t in tags):
            raise DefinitionError(f"{at}: tags={tags!r} must be a list of strings, e.g. ['gpu']")
        return Flow(
            function,
            FlowOptions(
                name=_check_name(options.get("name"), function, at),
                version=version,
                timeout=_timeout(options.get("timeout"), at),
                retries=retries,
                queue=queue,
                priority=priority,
                tags=tuple(tags),
                on_failure=handler_tasks(options.get("on_failure"), option="on_failure", where=at),
            ),
        )

    if fn is None:
        return decorate
    return decorate(fn)


def _unknown(exc: TypeError) -> str:
    text = str(exc)
    if "unexpected keyword argument" in text:
        option = text.split("'")[-2] if "'" in text else text
        return (
            f"unknown option {option!r}; @task takes name, retries, retry_delay, backoff, "
            "max_retry_delay, jitter, retry_on, retry_on_result, retry_policies, timeout, cache_key, "
            "cache_ttl, tags, serializer, on_failure, compensate"
        )
    return text


def as_task(handler: Any, *, option: str, where: str) -> Task[Any, Any]:
    """The handler as a task (a plain function becomes one named after it)."""
    if isinstance(handler, Task):
        return handler
    if callable(handler) and hasattr(handler, "__name__"):
        made: Task[Any, Any] = task(name=f"{handler.__name__}")(handler)
        return made
    raise DefinitionError(
        f"{where}: {option}={handler!r} must be a function or a @task taking one argument"
    )


def handler_tasks(value: Any, *, option: str, where: str) -> tuple[Task[Any, Any], ...]:
    """``on_failure=`` as tasks: None, one handler, or a list of them."""
    if value is None:
        return ()
    handlers = value if isinstance(value, list | tuple) else [value]
    return tuple(as_task(h, option=option, where=where) for h in handlers)
