"""Submitted steps (``task.submit``, ``task.map``): keys fixed at submit time, in program
order; bodies run on the executor, each once its inputs are ready."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, TypeVar

from legato.clock import utcnow
from legato.engine.futures import StepFuture
from legato.engine.observer import announce_submitted
from legato.engine.steps import execute_step, futures_in
from legato.errors import Cancelled
from legato.records import EventRecord, StepRecord
from legato.serialization import loads
from legato.states import StepState

if TYPE_CHECKING:
    from legato.engine.definitions import Task
    from legato.engine.runner import RunExecution

R = TypeVar("R")


def submit_task(
    ex: RunExecution, task: Task[Any, R], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> StepFuture[R]:
    """Submit the step for this call of ``task``: replayed at once if recorded, else run
    on the executor once every future among its arguments is done (so no pool thread
    blocks on another step)."""
    if ex.lifecycle.signal is not None:
        raise ex.lifecycle.signal
    key, seq = ex.next_key(task.name)
    prior = ex.replayed(key, seq, task.name)
    handle: StepFuture[R] = StepFuture(key, task.name, ex.signal, ex.helper, ex.recorder)
    ex.futures.append(handle)
    announce_submitted(ex.run, step_key=key, task_name=task.name)
    if ex.listeners:  # lets a live view size its progress bars up front
        submitted = EventRecord(
            run_id=ex.run_id, at=utcnow(), kind="step", state="pending", step_key=key
        )
        for listener in ex.listeners:
            listener(submitted)
    if prior is not None and prior.state is StepState.COMPLETED:
        value = loads(prior.result, prior.serializer)  # type: ignore[arg-type]
        ex.completed(task, key, value)
        handle.set_result(value)
        return handle

    def launch() -> None:
        ex.executor.submit(_run_submitted, ex, task, key, seq, args, kwargs, prior, handle)

    pending = [f for f in futures_in(args, kwargs) if not f.done()]
    if not pending:
        launch()
        return handle
    # Start only when every input is ready, so no pool thread blocks on another step.
    remaining = [len(pending)]
    lock = threading.Lock()

    def input_ready(_: StepFuture[Any]) -> None:
        with lock:
            remaining[0] -= 1
            ready = remaining[0] == 0
        if ready:
            launch()

    for dependency in pending:
        dependency.add_done_callback(input_ready)
    return handle


def _run_submitted(
    ex: RunExecution,
    task: Task[Any, Any],
    key: str,
    seq: int,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    prior: StepRecord | None,
    future: StepFuture[Any],
) -> None:
    if ex.lifecycle.halted:
        future.set_exception(Cancelled(f"run {ex.run_id} was interrupted"))
        return
    try:
        value = execute_step(ex, task, key, seq, args, kwargs, prior, future)
    except BaseException as exc:  # noqa: BLE001 - delivered through the future
        future.set_exception(exc)
    else:
        future.set_result(value)
