"""Child runs: a flow called inside a flow is the step ``<flow>#n`` of its parent.

The child is executed here, in the parent's thread. A child that waits is left waiting
on its own (a worker resumes it when it is due), and the parent waits for it to end
(``ChildWait``, suspended through the wait mechanism in ``engine/waiting.py``). When the child
ends, the store makes the parent due, and the parent's replay returns the child's
result or raises its error.

Starting or resuming the child is ``engine/launch.py``'s job; it is handed to the runner
as a ``ChildLauncher``, so the runner does not import the module that imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from legato.clock import utcnow
from legato.engine.handles import RunHandle
from legato.engine.signals import Suspended
from legato.engine.steps import error_info
from legato.engine.waiting import suspend
from legato.errors import Cancelled, RunFailedError
from legato.ids import new_run_id
from legato.records import ChildWait, ErrorInfo, EventRecord, RunRecord, StepRecord, parse_wait
from legato.serialization import loads
from legato.states import RunState, StepState

if TYPE_CHECKING:
    from legato.engine.definitions import Flow
    from legato.engine.runner import RunExecution


class ChildLauncher(Protocol):
    """Starts and resumes child runs (``engine/launch.py`` implements it)."""

    def start(
        self,
        flow: Flow[Any, Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        parent: RunExecution,
        parent_step_key: str | None,
        run_id: str | None,
        listeners: Sequence[Callable[[EventRecord], None]],
    ) -> RunHandle:
        """Create the child run ``run_id`` (a new id if None) and execute it here."""
        ...

    def resume(self, run_id: str, *, flow: Flow[Any, Any], parent: RunExecution) -> RunHandle:
        """Resume the unfinished child run ``run_id`` here, by replay."""
        ...


def call_child(
    ex: RunExecution, flow: Flow[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """The step ``<flow>#n``: a child run executed here, in this thread. A child that
    waits is left waiting on its own, and this run waits for it to end."""
    key, seq = ex.next_key(flow.name)
    prior = ex.replayed(key, seq, flow.name)
    if prior is not None and prior.state is StepState.COMPLETED:
        return loads(prior.result, prior.serializer)  # type: ignore[arg-type]
    ex.check_live()
    existing = _child_of(ex, prior)
    if prior is not None and existing is not None and _left_waiting(prior, existing):
        return _await_child(ex, prior, existing)
    step = StepRecord(
        run_id=ex.run_id,
        key=key,
        seq=seq,
        task_name=flow.name,
        state=StepState.RUNNING,
        attempts=(prior.attempts if prior else 0) + 1,
        started_at=utcnow(),
        child_run_id=_child_id_for(prior, existing),
    )
    ex.record_step(step, message=f"child run {step.child_run_id}", wait=True)
    handle = _execute_child(ex, flow, args, kwargs, step, existing)
    try:
        value = handle.result()
    except Suspended as waiting:
        raise _wait_for_child(ex, step, waiting) from None
    except BaseException as exc:
        if isinstance(exc, Cancelled):
            ex.lifecycle.cancel_told()  # told of a cancel: `finally` tasks are cleanup
        if isinstance(exc, Exception):
            failed = replace(
                step, state=StepState.FAILED, error=error_info(exc), finished_at=utcnow()
            )
            ex.record_step(failed, message=error_info(exc).summary(), wait=True)
        raise
    record = handle.record
    done = replace(
        step,
        state=StepState.COMPLETED,
        finished_at=utcnow(),
        result=record.result,
        serializer=record.serializer,
    )
    ex.record_step(done, wait=True)
    return value


def _left_waiting(prior: StepRecord, child: RunRecord) -> bool:
    """Whether the step's child run was left to live on its own (workers resume it), so
    this run may only wait for its outcome, never execute it: the step recorded it
    waiting, or this run stopped right after the child suspended (it waits, was taken by
    a worker or ``runs resume``, or was cancelled meanwhile)."""
    if prior.state is StepState.WAITING:
        return True
    if prior.state is not StepState.RUNNING:
        return False  # the step failed: a retry of this run starts the child anew
    if child.lease_epoch > 0:
        return True
    return child.state not in (RunState.RUNNING, RunState.COMPLETED, RunState.FAILED)


def _restarts(child: RunRecord) -> bool:
    """A child run that failed or was cancelled: calling it again starts a new run."""
    return child.state in (RunState.FAILED, RunState.CANCELLED)


def _child_of(ex: RunExecution, prior: StepRecord | None) -> RunRecord | None:
    """The child run an earlier execution of this step started, if any."""
    if prior is None or not prior.child_run_id:
        return None
    try:
        return ex.store.get_run(prior.child_run_id)
    except LookupError:
        return None


def _child_id_for(prior: StepRecord | None, existing: RunRecord | None) -> str:
    """The step's child run id: the one recorded, unless that run failed or was
    cancelled (a retry of this run starts the child anew, under a new id)."""
    if existing is not None and _restarts(existing):
        return new_run_id()
    return prior.child_run_id if prior and prior.child_run_id else new_run_id()


def _execute_child(
    ex: RunExecution,
    flow: Flow[Any, Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    step: StepRecord,
    existing: RunRecord | None,
) -> RunHandle:
    """Execute the step's child run here: resumed by replay if an earlier execution
    left it unfinished, else started (anew when it failed or was cancelled)."""
    child_id = step.child_run_id
    assert child_id is not None
    if existing is not None and not _restarts(existing):
        return ex.launcher.resume(child_id, flow=flow, parent=ex)
    return ex.launcher.start(
        flow.with_options(store=ex.store),
        args,
        kwargs,
        parent=ex,
        parent_step_key=step.key,
        run_id=child_id,
        listeners=ex.listeners,
    )


def _wait_for_child(ex: RunExecution, step: StepRecord, waiting: Suspended) -> BaseException:
    """The child suspended: record the step waiting, and suspend this run until the
    child ends (the store makes this run due then)."""
    child_id = step.child_run_id
    assert child_id is not None
    ex.record_step(
        replace(step, state=StepState.WAITING),
        message=f"child run {child_id} waits for {waiting.spec.describe()}",
        wait=True,
    )
    return suspend(ex, ChildWait(run_id=child_id), None, lambda: _ended(ex, child_id) is not None)


def _ended(ex: RunExecution, child_id: str) -> RunRecord | None:
    """The child run once it has ended, else None."""
    child = ex.store.get_run(child_id)
    return child if child.state.is_final and child.finished_at is not None else None


def _await_child(ex: RunExecution, prior: StepRecord, child: RunRecord) -> Any:
    """A child left waiting on its own: its outcome once it ended, else this run
    waits for it again. Never executed here, so it runs in one place only."""
    if not (child.state.is_final and child.finished_at is not None):
        if prior.state is not StepState.WAITING:
            prior = replace(prior, state=StepState.WAITING)
        waiting = Suspended(child.run_id, None, parse_wait(child.waiting_for))
        raise _wait_for_child(ex, prior, waiting)
    ended = child
    if ended.state is RunState.COMPLETED:
        done = replace(
            prior,
            state=StepState.COMPLETED,
            finished_at=utcnow(),
            result=ended.result,
            serializer=ended.serializer,
        )
        ex.record_step(done, wait=True)
        return loads(ended.result, ended.serializer)  # type: ignore[arg-type]
    exc: Exception
    if ended.state is RunState.CANCELLED:
        ex.lifecycle.cancel_told()  # told of a cancel: `finally` tasks are cleanup
        exc = Cancelled(f"child run {ended.run_id} of run {ex.run_id} was cancelled")
    else:
        error = ended.error or ErrorInfo(type="Exception", message="no error recorded")
        exc = RunFailedError(ended.run_id, error.type, error.message)
    failed = replace(prior, state=StepState.FAILED, error=error_info(exc), finished_at=utcnow())
    ex.record_step(failed, message=error_info(exc).summary(), wait=True)
    raise exc
