"""What is running now, and the process-wide defaults behind a direct ``my_flow()`` call.

``Runtime`` is what flows, tasks and waits talk to while a run executes: ``current_run``
holds one, and the runner (``engine.runner.RunExecution``) implements it. Typing the
context against this protocol, not the runner, keeps the engine's modules free of
import cycles: definitions and waits need only this module.

The default store and executor are resolved here and nowhere else.
"""

from __future__ import annotations

import logging
import threading
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from legato.clock import utcnow
from legato.engine.trigger import RunTrigger, trigger_of
from legato.errors import UsageError
from legato.executors.base import Executor
from legato.executors.threads import ThreadExecutor
from legato.records import LogRecord, WaitSpec
from legato.settings import load_settings
from legato.store import Store, open_store

if TYPE_CHECKING:
    from legato.engine.definitions import Flow, Task
    from legato.engine.futures import StepFuture
    from legato.engine.handles import RunHandle

R = TypeVar("R")

# What a wait without ``default=`` was given: its timeout raises ``WaitTimeout``.
NO_DEFAULT: Any = object()


class Runtime(Protocol):
    """A run executing in this process, as its flow body, tasks and waits see it."""

    @property
    def run_id(self) -> str: ...

    @property
    def flow_name(self) -> str: ...

    # The store the run is recorded in: calls that name no store (a submit, an event,
    # a nested run) land there too.
    @property
    def store(self) -> Store: ...

    # Set when the run is cancelled here (``legato.cancel``): it stops at its next step
    # boundary.
    @property
    def cancelled(self) -> threading.Event: ...

    def call_task(self, task: Task[Any, R], args: tuple[Any, ...], kwargs: dict[str, Any]) -> R:
        """The step for this call of ``task``: replayed if recorded, else executed."""
        ...

    def submit_task(
        self, task: Task[Any, R], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> StepFuture[R]:
        """The step for this call of ``task``, started now; its key follows program
        order."""
        ...

    def call_child(self, flow: Flow[Any, R], args: tuple[Any, ...], kwargs: dict[str, Any]) -> R:
        """The step for this call of ``flow`` in the flow body: a child run."""
        ...

    def start_nested(
        self, flow: Flow[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> RunHandle:
        """A run of ``flow`` called from inside a step's body: executed here, as a child
        of this run but not a step of it."""
        ...

    def wait(self, spec: WaitSpec, *, timeout: float | None, default: Any) -> Any:
        """The durable wait for ``spec`` as a step: what arrived, or the timeout's
        outcome (``default``, else ``WaitTimeout``); the run may be suspended meanwhile."""
        ...

    def log(self, record: LogRecord) -> None:
        """Store a log record emitted by the run's flow or one of its steps."""
        ...


# The run whose flow body is executing in this thread (or task).
current_run: ContextVar[Runtime | None] = ContextVar("legato_run", default=None)
# The step whose body is executing in this thread (or task).
current_step: ContextVar[StepContext | None] = ContextVar("legato_step", default=None)

# True while a failure handler or compensation runs: cancels and timeouts do not stop it.
cleaning_up: ContextVar[bool] = ContextVar("legato_cleaning_up", default=False)

STEP_LOGGER = "legato.steps"


@dataclass(frozen=True, slots=True)
class StepContext:
    """What a task body can learn about itself through ``get_run_context()``."""

    run_id: str
    flow_name: str
    step_key: str
    task_name: str
    attempt: int

    @property
    def logger(self) -> logging.Logger:
        """Records logged here are stored with the step (``legato runs logs``)."""
        return logging.getLogger(f"{STEP_LOGGER}.{self.task_name}")

    @property
    def idempotency_key(self) -> str:
        """Stable across attempts and replays: use it for external side effects."""
        return f"{self.run_id}:{self.step_key}"

    @property
    def trigger(self) -> RunTrigger | None:
        """The trigger that started the run (``legato.deploy``), or None."""
        return _trigger(self.run_id)


@dataclass(frozen=True, slots=True)
class FlowContext:
    """``get_run_context()`` in a flow body, outside any step."""

    run_id: str
    flow_name: str
    logger: logging.Logger
    step_key: None = None
    attempt: None = None
    idempotency_key: None = None

    @property
    def trigger(self) -> RunTrigger | None:
        """The trigger that started the run (``legato.deploy``), or None."""
        return _trigger(self.run_id)


def _trigger(run_id: str) -> RunTrigger | None:
    execution = executions().get(run_id) or current_run.get()
    return None if execution is None else trigger_of(run_id, execution.store)


def get_run_context() -> StepContext | FlowContext:
    """The current step's (or flow's) run id, step key, attempt, idempotency key, logger.

    Raises ``UsageError`` outside a running flow.
    """
    step = current_step.get()
    if step is not None:
        return step
    run = current_run.get()
    if run is not None:
        return FlowContext(
            run_id=run.run_id,
            flow_name=run.flow_name,
            logger=logging.getLogger(f"{STEP_LOGGER}.{run.flow_name}"),
        )
    raise UsageError(
        "get_run_context() was called outside a running flow; call it inside a @task "
        "or @flow function while the flow runs."
    )


class _StepLogHandler(logging.Handler):
    """Stores log records emitted through a step's logger with the step."""

    def emit(self, record: logging.LogRecord) -> None:
        step = current_step.get()
        run = current_run.get()
        if step is not None:
            run_id, step_key = step.run_id, step.step_key
        elif run is not None:
            run_id, step_key = run.run_id, None
        else:
            return
        execution = _executions.get(run_id)
        if execution is None:
            return
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not fail the step
            message = str(record.msg)
        execution.log(
            LogRecord(
                run_id=run_id,
                at=utcnow(),
                level=record.levelname,
                message=message,
                step_key=step_key,
            )
        )


_executions: dict[str, Runtime] = {}  # run id -> execution, for log routing


def register_execution(execution: Runtime) -> None:
    _executions[execution.run_id] = execution


def unregister_execution(run_id: str) -> None:
    _executions.pop(run_id, None)


def executions() -> dict[str, Runtime]:
    """Runs executing in this process, by id."""
    return _executions


_step_logger = logging.getLogger(STEP_LOGGER)
_step_logger.setLevel(logging.INFO)
_step_logger.addHandler(_StepLogHandler())


class _Defaults:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.store: Store | None = None
        self.executor: Executor | None = None
        self.by_url: dict[str, Store] = {}


_defaults = _Defaults()


def default_store() -> Store:
    """The store behind a direct flow call: ``use_store()``'s, else ``LEGATO_DB``'s."""
    with _defaults.lock:
        if _defaults.store is None:
            settings = load_settings()
            _defaults.store = open_store(settings.db_url, durability=settings.durability)
        return _defaults.store


def running_store() -> Store | None:
    """The store of the run executing in this context (a flow body, or one of its step
    bodies on any thread of the executor), or None outside a run."""
    run = current_run.get()
    if run is not None:
        return run.store
    step = current_step.get()
    execution = _executions.get(step.run_id) if step is not None else None
    return execution.store if execution is not None else None


def use_store(store: Store | str) -> Store:
    """Make ``store`` (a Store or a URL) the default for runs started in this process."""
    opened = open_store(store) if isinstance(store, str) else store
    with _defaults.lock:
        _defaults.store = opened
    return opened


def default_executor() -> Executor:
    """The executor of runs started in this process: ``use_executor()``'s, else threads."""
    with _defaults.lock:
        if _defaults.executor is None:
            _defaults.executor = ThreadExecutor(load_settings().max_workers)
        return _defaults.executor


def use_executor(executor: Executor) -> Executor:
    """Make ``executor`` run the steps of runs started in this process from now on.

    Runs already executing keep theirs; the previous executor is not shut down.
    """
    with _defaults.lock:
        _defaults.executor = executor
    return executor


def resolve_store(store: Store | str | None) -> Store:
    """A Store for ``store``: itself, the default for None, or the one opened for a URL
    (each URL is opened once per process, except ``memory://`` which is always new).

    The default is context-local first: inside a run (its flow body, or a step body of
    it) it is that run's store, so that what a flow starts, submits or sends lands where
    the flow itself runs; elsewhere it is the process default (``default_store()``).
    """
    if store is None:
        return running_store() or default_store()
    if not isinstance(store, str):
        return store
    if store.startswith("memory:"):
        return open_store(store)
    with _defaults.lock:
        opened = _defaults.by_url.get(store)
        if opened is None:
            opened = _defaults.by_url[store] = open_store(store)
        return opened


def describe(value: Any) -> str:
    return getattr(value, "__qualname__", type(value).__qualname__)
