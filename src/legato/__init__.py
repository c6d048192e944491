"""legato: durable workflow orchestration for Python.

Decorate functions with ``@task`` and ``@flow``; calling the flow runs it durably on
the default store (``~/.legato/legato.db`` or ``LEGATO_DB``) and returns its result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from legato.engine.context import get_run_context, use_executor, use_store
from legato.engine.decorators import flow, task
from legato.engine.definitions import Flow, Task
from legato.engine.failures import Failure
from legato.engine.futures import StepFuture, gather
from legato.engine.handles import RunHandle
from legato.engine.inputs import answer_input, wait_for_input
from legato.engine.launch import resume
from legato.engine.operations import cancel, pause, unpause
from legato.engine.waits import send_event, sleep, sleep_until, wait_for_event
from legato.errors import (
    Cancelled,
    DefinitionError,
    ExecutorError,
    ExpressionError,
    FlowTimeoutError,
    IdempotencyConflictError,
    InputError,
    InputRejected,
    LeaseLostError,
    LegatoError,
    NonDeterminismError,
    NotificationError,
    OptionError,
    ParameterError,
    Permanent,
    ResultRejected,
    RunFailedError,
    RunNotFoundError,
    RunStateError,
    ScheduleError,
    SerializationError,
    StepTimeoutError,
    StoreError,
    UsageError,
    WaitTimeout,
)
from legato.notifications.notify import notifier, notify
from legato.states import RunState, StepState

__version__ = "0.1.0"

if TYPE_CHECKING:
    from legato.scheduler.cron import Cron, Every
    from legato.scheduler.deployments import deploy
    from legato.scheduler.triggers import After, OnEvent, OnFile, OnStream, Webhook
    from legato.store.base import Store

# Deployments and their triggers load when first used: `import legato` stays light for
# code that only runs flows.
_LAZY = {
    "Cron": "legato.scheduler.cron",
    "Every": "legato.scheduler.cron",
    "deploy": "legato.scheduler.deployments",
    "After": "legato.scheduler.triggers",
    "OnEvent": "legato.scheduler.triggers",
    "OnFile": "legato.scheduler.triggers",
    "OnStream": "legato.scheduler.triggers",
    "Webhook": "legato.scheduler.triggers",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'legato' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "After",
    "Cancelled",
    "Cron",
    "DefinitionError",
    "Every",
    "ExecutorError",
    "ExpressionError",
    "Failure",
    "Flow",
    "FlowTimeoutError",
    "IdempotencyConflictError",
    "InputError",
    "InputRejected",
    "LeaseLostError",
    "LegatoError",
    "NonDeterminismError",
    "NotificationError",
    "OnEvent",
    "OnFile",
    "OnStream",
    "OptionError",
    "ParameterError",
    "Permanent",
    "ResultRejected",
    "RunFailedError",
    "RunHandle",
    "RunNotFoundError",
    "RunState",
    "RunStateError",
    "ScheduleError",
    "SerializationError",
    "StepFuture",
    "StepState",
    "StepTimeoutError",
    "StoreError",
    "Task",
    "UsageError",
    "WaitTimeout",
    "Webhook",
    "answer_input",
    "cancel",
    "deploy",
    "flow",
    "gather",
    "get_run",
    "get_run_context",
    "notifier",
    "notify",
    "pause",
    "resume",
    "send_event",
    "sleep",
    "sleep_until",
    "task",
    "unpause",
    "use_executor",
    "use_store",
    "wait_for_event",
    "wait_for_input",
]


def get_run(run_id: str, *, store: Store | str | None = None) -> RunHandle:
    """A handle on an existing run (any process); raises ``RunNotFoundError``."""
    from legato.engine.context import resolve_store

    opened = resolve_store(store)
    opened.get_run(run_id)
    return RunHandle(run_id, opened)
