"""Tasks and flows as declared: a function plus its options."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, cast

from legato.engine.context import current_run, current_step, resolve_store
from legato.engine.futures import StepFuture
from legato.engine.launch import execute_new, resume, submit
from legato.engine.targets import Loadable
from legato.errors import DefinitionError, ParameterError
from legato.sources import code_ref

if TYPE_CHECKING:
    from legato.engine.handles import RunHandle
    from legato.engine.options import FlowOptions, TaskOptions
    from legato.store.base import Store

P = ParamSpec("P")
R = TypeVar("R")


def where(fn: Callable[..., Any]) -> str:
    """``module.function (file.py:line)`` for error messages about a definition."""
    code = getattr(fn, "__code__", None)
    location = f" ({code.co_filename}:{code.co_firstlineno})" if code is not None else ""
    return f"{getattr(fn, '__qualname__', fn)!s}{location}"


def check_function(fn: object, decorator: str) -> None:
    """Refuse, at decoration, what would only fail when called: a non-function, a
    generator function, a method (its ``self`` is never passed)."""
    if isinstance(fn, Task | Flow):
        raise DefinitionError(f"@{decorator} applied twice to {where(fn.fn)}")
    if not inspect.isfunction(fn) and not inspect.ismethod(fn):
        raise DefinitionError(
            f"@{decorator} must decorate a function (def or async def), got "
            f"{type(fn).__name__} {fn!r}. Decorate the function itself, e.g. "
            f"@{decorator} above `def my_{decorator}(...):`."
        )
    if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
        raise DefinitionError(
            f"@{decorator} on {where(fn)}: a generator function (it yields) cannot be a "
            f"{decorator}: its result is a generator, which legato can neither store nor "
            "replay (not even with pickle). Return the items instead, e.g. a list: "
            "`return [...]` rather than `yield ...`."
        )
    if _is_method(fn):
        raise DefinitionError(
            f"@{decorator} on {where(fn)}: a method cannot be a {decorator}: legato calls "
            f"a {decorator} as a plain function, so its `self` is never passed. Define it at "
            "module level and pass what it needs from the object as arguments (or, if it "
            f"does not use self, make it a @staticmethod placed above @{decorator})."
        )


def _is_method(fn: Any) -> bool:
    """A function defined in a class body whose first parameter is ``self``."""
    if inspect.ismethod(fn):
        return False  # already bound: calling it passes self
    parts = fn.__qualname__.split(".")
    in_class = len(parts) > 1 and parts[-2] != "<locals>"
    params = list(inspect.signature(fn).parameters)
    return in_class and bool(params) and params[0] == "self"


class _Definition(Generic[P, R]):
    """What a task and a flow keep of their function, so they look like it."""

    def __init__(self, fn: Callable[P, R], name: str) -> None:
        self.fn = fn
        self.name = name
        self.is_async = inspect.iscoroutinefunction(fn)
        self.signature = inspect.signature(fn)
        self.__wrapped__ = fn
        self.__doc__ = fn.__doc__
        self.__name__ = getattr(fn, "__name__", name)
        self.__qualname__ = getattr(fn, "__qualname__", name)
        self.__module__ = fn.__module__


class Task(_Definition[P, R]):
    """A function whose calls inside a flow are durable steps.

    Outside a flow (or inside another task's body) calling it simply calls the function.
    """

    def __init__(self, fn: Callable[P, R], options: TaskOptions) -> None:
        super().__init__(fn, options.name)
        self.options = options

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        run = current_run.get()
        if run is None or current_step.get() is not None:
            return self.fn(*args, **kwargs)
        return run.call_task(self, args, kwargs)

    def submit(self, *args: P.args, **kwargs: P.kwargs) -> StepFuture[R]:
        """Start the step now and return its future; its key follows program order."""
        run = current_run.get()
        if run is None or current_step.get() is not None:
            future: StepFuture[R] = StepFuture(self.name, self.name)
            try:
                future.set_result(self.fn(*args, **kwargs))
            except Exception as exc:  # noqa: BLE001 - delivered through the future
                future.set_exception(exc)
            return future
        return run.submit_task(self, args, kwargs)

    def map(self, *iterables: Iterable[Any], **kwargs: Any) -> list[StepFuture[R]]:
        """Submit one step per item (several iterables are zipped); keyword arguments are
        passed unchanged to every call.

        Several iterables must have one length: ``ParameterError`` naming the task and
        the lengths is raised before any step is submitted.
        """
        if not iterables:
            raise DefinitionError(f"{self.name}.map() needs at least one iterable")
        if len(iterables) > 1:
            iterables = tuple(_same_length(self.name, [list(each) for each in iterables]))
        return [self.submit(*items, **kwargs) for items in zip(*iterables, strict=True)]

    def with_options(self, **changes: Any) -> Task[P, R]:
        """A copy with some options changed, e.g. ``fetch.with_options(retries=5)``;
        checked like ``@task`` options (``OptionError`` naming the option and value)."""
        at = f"{self.name}.with_options() for @task on {where(self.fn)}"
        return Task(self.fn, self.options.changed(changes, where=at))

    def __repr__(self) -> str:
        return f"<Task {self.name}>"


def _same_length(task_name: str, columns: list[list[Any]]) -> list[list[Any]]:
    """``columns`` unchanged when they have one length; else ``ParameterError``."""
    lengths = [len(column) for column in columns]
    if len(set(lengths)) > 1:
        raise ParameterError(
            f"{task_name}.map() got iterables of different lengths ("
            f"{', '.join(map(str, lengths))}); nothing was submitted. Give iterables of "
            "one length, or pass a value shared by every call as a keyword argument."
        )
    return columns


class Flow(_Definition[P, R], Loadable):
    """A function whose run is durable: calling it runs it and returns its result."""

    def __init__(self, fn: Callable[P, R], options: FlowOptions) -> None:
        super().__init__(fn, options.name)
        self.options = options

    @property
    def target(self) -> str | None:
        """``module:qualname`` (or ``/abs/file.py:qualname`` for code from a loose file) to
        import this flow again in another process; None if it cannot be (see
        :mod:`legato.sources`)."""
        if self.options.target is not None:
            return self.options.target
        return code_ref(self.fn.__module__, self.fn.__qualname__)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        run = current_run.get()
        if run is not None and current_step.get() is None:
            return run.call_child(self, args, kwargs)
        if run is not None:  # called from a step's body: a child run, not a step
            return cast(R, run.start_nested(self, args, kwargs).result())
        return cast(R, execute_new(self, args, kwargs).result())

    def run(self, *args: P.args, **kwargs: P.kwargs) -> RunHandle:
        """Run to the end and return the handle (does not raise the flow's error)."""
        return execute_new(self, args, kwargs)

    def start(self, *args: P.args, **kwargs: P.kwargs) -> RunHandle:
        """Start the run in a background thread and return its handle at once."""
        return execute_new(self, args, kwargs, background=True)

    def submit(self, *args: P.args, **kwargs: P.kwargs) -> RunHandle:
        """Put a run in the store for a worker (``legato worker``) and return its handle
        at once. ``with_options(queue=..., priority=..., idempotency_key=...)`` sets
        where and how it waits."""
        return submit(self, args, kwargs)

    def resume(self, run_id: str) -> RunHandle:
        """Resume a run of this flow by replay; completed steps are not run again."""
        return resume(run_id, store=self.options.store, flow=self)

    def with_options(self, **changes: Any) -> Flow[P, R]:
        """A copy with options changed, e.g. ``my_flow.with_options(store="memory://")``;
        checked like ``@flow`` options (``OptionError`` naming the option and value)."""
        at = f"{self.name}.with_options() for @flow on {where(self.fn)}"
        return Flow(self.fn, self.options.changed(changes, where=at))

    def resolve_store(self) -> Store:
        return resolve_store(self.options.store)

    def __repr__(self) -> str:
        return f"<Flow {self.name}>"
