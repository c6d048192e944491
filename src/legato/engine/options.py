"""The options of a task and of a flow: frozen records that check themselves.

``TaskOptions`` and ``FlowOptions`` are the one place options are validated. ``@task``
and ``@flow``, ``with_options`` and declarative files (``from_mapping``) all build them,
so no path skips a check. Construction checks every field and normalizes it (durations
become seconds, lists tuples, handler functions tasks); a value it cannot take raises
``OptionError`` naming the option, the value, what is allowed and where it was given.
The options table in docs/reference.md lists the same rules.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from legato.engine.definitions import Task, check_function
from legato.engine.definitions import where as _where_defined
from legato.engine.retries import (
    RetryOn,
    RetryPolicy,
    check_count,
    policies_by_type,
    to_seconds,
)
from legato.errors import DefinitionError, OptionError, StoreError
from legato.serialization import SERIALIZERS
from legato.store.urls import parse_store_url, redact_url

if TYPE_CHECKING:
    from legato.store.base import Store

CacheKey = Callable[..., str] | str | None
Options = TypeVar("Options", "TaskOptions", "FlowOptions")

# Run priorities are stored as 32-bit integers (PostgreSQL INTEGER).
PRIORITY_RANGE = (-(2**31), 2**31 - 1)


@dataclass(frozen=True, kw_only=True, slots=True)
class TaskOptions:
    """How a task's steps run: retries, timeout, caching, serialization, handlers.

    Construction accepts durations as seconds or a timedelta and lists as any sequence,
    stores them normalized (seconds as float, ``cache_ttl`` as timedelta, tuples) and
    raises ``OptionError`` for any value it cannot take. ``retry`` is derived: the retry
    policy the step loop uses."""

    KIND: ClassVar[str] = "task"

    name: str
    retries: int = 0
    retry_delay: tuple[float, ...] = (0.0,)
    backoff: float = 1.0
    max_retry_delay: float | None = None
    jitter: float = 0.0
    retry_on: RetryOn = (Exception,)
    retry_on_result: Callable[[Any], bool] | None = None  # True: retry as if it failed
    retry_policies: tuple[tuple[type[BaseException], RetryPolicy], ...] = ()  # by type
    timeout: float | None = None  # seconds per attempt
    cache_key: CacheKey = None
    cache_ttl: timedelta | None = None
    tags: tuple[str, ...] = ()
    serializer: str = "json"
    on_failure: tuple[Task[Any, Any], ...] = ()  # run with a Failure when the step fails
    compensate: Task[Any, Any] | None = None  # run with the result if the run fails later
    retry: RetryPolicy = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        name = check_name(self.name)
        with _named(f"task {name}"):
            retry = RetryPolicy(
                retries=self.retries,
                delays=self.retry_delay,
                backoff=self.backoff,
                max_delay=self.max_retry_delay,
                jitter=self.jitter,
                retry_on=self.retry_on,
            )
            ttl = self.cache_ttl
            _assign(
                self,
                name=name,
                retries=retry.retries,
                retry_delay=retry.delays,
                backoff=retry.backoff,
                max_retry_delay=retry.max_delay,
                jitter=retry.jitter,
                retry_on=retry.retry_on,
                retry=retry,
                retry_on_result=_predicate(self.retry_on_result, option="retry_on_result"),
                retry_policies=policies_by_type(self.retry_policies, base=retry),
                timeout=check_timeout(self.timeout),
                cache_key=_cache_key(self.cache_key),
                cache_ttl=None
                if ttl is None
                else timedelta(seconds=to_seconds(ttl, option="cache_ttl")),
                tags=_labels(self.tags, option="tags"),
                serializer=_serializer(self.serializer),
                on_failure=_handlers(self.on_failure),
                compensate=_compensation(self.compensate),
            )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, where: str) -> TaskOptions:
        """Options from plain data (a declarative file): keys are option names and
        ``name`` is required. Unknown keys raise ``DefinitionError`` naming them and the
        known ones; a bad value raises ``OptionError`` located at ``where``
        (``flows.yaml:12``). Callables (``retry_on``, handlers) must be resolved first."""
        return build(cls, data, known=cls.option_names(), where=where)

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        """Every option a task takes, in declaration order."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.init)

    def changed(self, changes: Mapping[str, Any], *, where: str) -> TaskOptions:
        """A copy with ``changes``, checked like a new one (``with_options``)."""
        return build(self.__class__, changes, known=self.option_names(), where=where, base=self)


@dataclass(frozen=True, kw_only=True, slots=True)
class FlowOptions:
    """How a flow's runs are made: version, deadline, retries, queue, limits, store.

    ``DECLARABLE`` are the options ``@flow`` and declarative files take; the others
    (``store``, ``target``, ``idempotency_key``, ``wait``) are per use, through
    ``with_options``. Construction checks every field like ``TaskOptions``."""

    KIND: ClassVar[str] = "flow"
    DECLARABLE: ClassVar[tuple[str, ...]] = (
        "name",
        "version",
        "timeout",
        "retries",
        "queue",
        "priority",
        "tags",
        "on_failure",
    )

    name: str
    version: str | None = None
    timeout: float | None = None  # seconds for the whole run from its start
    retries: int = 0
    store: Store | str | None = None  # a Store or URL; None means the process default
    target: str | None = None  # how another process imports this flow
    queue: str = "default"  # where submitted runs wait for a worker
    priority: int = 0  # higher runs first
    tags: tuple[str, ...] = ()  # for concurrency limits ("tag:T")
    idempotency_key: str | None = None  # submitting again returns the same run
    on_failure: tuple[Task[Any, Any], ...] = ()  # run with a Failure when the run fails
    wait: bool = False  # True: durable waits block the caller instead of suspending

    def __post_init__(self) -> None:
        name = check_name(self.name)
        with _named(f"flow {name}"):
            _assign(
                self,
                name=name,
                version=_optional_text(self.version, option="version", example="'2'"),
                timeout=check_timeout(self.timeout),
                retries=check_count(self.retries, option="retries"),
                store=_store(self.store),
                target=_target(self.target),
                queue=_text(self.queue, option="queue", example="'gpu'"),
                priority=_priority(self.priority),
                tags=_labels(self.tags, option="tags"),
                idempotency_key=_optional_text(
                    self.idempotency_key, option="idempotency_key", example="'order-42'"
                ),
                on_failure=_handlers(self.on_failure),
                wait=_flag(self.wait, option="wait"),
            )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, where: str) -> FlowOptions:
        """Options from plain data (a declarative file): the ``DECLARABLE`` keys, with
        ``name`` required. Errors as for ``TaskOptions.from_mapping``."""
        return build(cls, data, known=cls.DECLARABLE, where=where)

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        """Every option a flow takes through ``with_options``, in declaration order."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.init)

    def changed(self, changes: Mapping[str, Any], *, where: str) -> FlowOptions:
        """A copy with ``changes``, checked like a new one (``with_options``)."""
        return build(self.__class__, changes, known=self.option_names(), where=where, base=self)


def build(
    cls: type[Options],
    data: Mapping[str, Any],
    *,
    known: tuple[str, ...],
    where: str,
    base: Options | None = None,
) -> Options:
    """``cls`` from ``data`` (or ``base`` changed by it): ``DefinitionError`` for a
    non-mapping, a non-text key or an unknown or missing option; ``OptionError`` (at
    ``where``) for a value the options cannot take."""
    if not isinstance(data, Mapping):
        raise DefinitionError(
            f"{where}: {cls.KIND} options must be a mapping of option names to values, "
            f"got {type(data).__name__}"
        )
    unknown = sorted(str(key) for key in data if key not in known)
    if unknown:
        raise DefinitionError(
            f"{where}: unknown option(s) {unknown}; a {cls.KIND} takes {', '.join(known)}"
        )
    if base is None and "name" not in data:
        raise DefinitionError(f"{where}: a {cls.KIND} needs a name, e.g. name: fetch")
    try:
        if base is not None:
            return dataclasses.replace(base, **data)
        return cls(**data)
    except OptionError as exc:
        raise exc.at(where) from None


@contextmanager
def _named(where: str) -> Iterator[None]:
    """Locate an ``OptionError`` raised inside at ``where`` (builders relocate it)."""
    try:
        yield
    except OptionError as exc:
        raise exc.at(where) from None


def _assign(options: object, **values: object) -> None:
    for name, value in values.items():
        object.__setattr__(options, name, value)


def check_name(value: object) -> str:
    """A task or flow name: a non-empty string without ``#``, ``/`` or outer spaces
    (it prefixes step keys such as ``fetch#0`` and child keys ``parent/child``)."""
    if (
        not isinstance(value, str)
        or not value
        or "#" in value
        or "/" in value
        or value.strip() != value
    ):
        raise OptionError(
            option="name",
            value=value,
            allowed="must be a non-empty string without '#', '/' or surrounding spaces",
        )
    return value


def check_timeout(value: object) -> float | None:
    """Seconds (from a number or timedelta) > 0, or None for no limit."""
    if value is None:
        return None
    seconds = to_seconds(value, option="timeout")
    if seconds == 0:
        raise OptionError(
            option="timeout",
            value=value,
            allowed="would fail every attempt; use None for no limit",
        )
    return seconds


def _text(value: object, *, option: str, example: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise OptionError(
            option=option, value=value, allowed=f"must be a non-empty string, e.g. {example}"
        )
    return value


def _optional_text(value: object, *, option: str, example: str) -> str | None:
    return None if value is None else _text(value, option=option, example=example)


def _labels(value: object, *, option: str) -> tuple[str, ...]:
    items = () if value is None else value
    if (
        isinstance(items, str | bytes | Mapping)
        or not isinstance(items, list | tuple | set | frozenset)
        or not all(isinstance(each, str) and each.strip() for each in items)
    ):
        raise OptionError(
            option=option,
            value=value,
            allowed="must be a list of non-empty strings, e.g. ['io', 'gpu']",
        )
    return tuple(items)


def _flag(value: object, *, option: str) -> bool:
    if not isinstance(value, bool):
        raise OptionError(option=option, value=value, allowed="must be True or False")
    return value


def _priority(value: object) -> int:
    low, high = PRIORITY_RANGE
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise OptionError(
            option="priority",
            value=value,
            allowed=f"must be an integer from {low} to {high}; higher runs first, default 0",
        )
    return value


def _predicate(value: object, *, option: str) -> Callable[[Any], bool] | None:
    if value is not None and not callable(value):
        raise OptionError(
            option=option,
            value=value,
            allowed="must be a function of the result returning True to retry",
        )
    return value


def _cache_key(value: object) -> CacheKey:
    if value is None or value == "inputs" or callable(value):
        return value
    raise OptionError(
        option="cache_key",
        value=value,
        allowed="must be 'inputs' (hash of the arguments) or a function taking the "
        "task's arguments and returning a string",
    )


def _serializer(value: object) -> str:
    if value not in SERIALIZERS:
        raise OptionError(
            option="serializer",
            value=value,
            allowed=f"must be one of {', '.join(map(repr, SERIALIZERS))} (pickle is opt-in)",
        )
    return value


def _handlers(value: object) -> tuple[Task[Any, Any], ...]:
    return handler_tasks(value, option="on_failure", where="")


def _compensation(value: object) -> Task[Any, Any] | None:
    return None if value is None else as_task(value, option="compensate", where="")


def _store(value: object) -> Store | str | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            parse_store_url(value)
        except StoreError as exc:
            raise OptionError(
                option="store",
                value=value,
                shown=repr(redact_url(value)),
                allowed=f"is not a store URL: {exc}",
            ) from None
        return value
    if not callable(getattr(value, "get_run", None)):
        raise OptionError(
            option="store",
            value=value,
            allowed="must be a Store or a store URL, e.g. 'sqlite:///runs.db' or 'memory://'",
        )
    return value  # type: ignore[return-value]  # a Store by its verbs


def _target(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value.count(":") < 1 or not value.rpartition(":")[2]:
        raise OptionError(
            option="target",
            value=value,
            allowed="must be 'package.module:flow' or '/path/file.py:flow'",
        )
    return value


def as_task(handler: Any, *, option: str, where: str) -> Task[Any, Any]:
    """The handler as a task: a ``@task`` as it is, a plain function as a task named
    after it (built like ``@task`` would); else ``OptionError``."""
    if isinstance(handler, Task):
        return handler
    if callable(handler) and hasattr(handler, "__name__"):
        check_function(handler, "task")
        at = f"@task on {_where_defined(handler)}"  # as if decorated where it is defined
        built = build(
            TaskOptions, {"name": handler.__name__}, known=TaskOptions.option_names(), where=at
        )
        return Task(handler, built)
    raise OptionError(
        option=option,
        value=handler,
        allowed="must be a function or a @task taking one argument",
        where=where,
    )


def handler_tasks(value: Any, *, option: str, where: str) -> tuple[Task[Any, Any], ...]:
    """``on_failure=`` as tasks: None, one handler, or a list of them."""
    if value is None:
        return ()
    handlers = value if isinstance(value, list | tuple) else [value]
    return tuple(as_task(h, option=option, where=where) for h in handlers)
