"""Starting, submitting and resuming runs: how a run gets its record and an execution.

``RunExecution`` (``engine.runner``) executes a run; this module decides which run to
execute, creates or loads its record, and hands it over. Operator actions (cancel,
pause, requeue, answers, with who did them) are the operations service's
(``engine.operations``), which starts and resumes runs through this module.
"""

from __future__ import annotations

import inspect
import os
import socket
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from legato.clock import utcnow
from legato.engine.context import default_executor, resolve_store
from legato.engine.handles import RunHandle
from legato.engine.lifecycle import Start, unwinding_from
from legato.engine.runner import DERIVED_SEQ, Listener, RunExecution, owner_id
from legato.engine.targets import load_target
from legato.errors import ParameterError, RunStateError, SerializationError
from legato.ids import new_run_id
from legato.records import EventRecord, Fence, RunRecord, StepRecord
from legato.serialization import dumps, loads
from legato.states import RunState
from legato.store.base import QueueStore, Store

if TYPE_CHECKING:
    from legato.engine.definitions import Flow

# -- starting and resuming runs ------------------------------------------------------------


def bind_params(
    flow: Flow[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """The run's parameters by name; raises ``ParameterError`` listing the signature."""
    try:
        bound = flow.signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise ParameterError(
            f"flow {flow.name!r}: {exc}. It takes {describe_params(flow)}"
        ) from None
    bound.apply_defaults()
    return dict(bound.arguments)


def _params_text(flow: Flow[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    params = bind_params(flow, args, kwargs)
    try:
        return dumps(params)
    except SerializationError as exc:
        raise SerializationError(
            f"flow {flow.name!r}: a parameter cannot be stored: {exc}"
        ) from None


def describe_params(flow: Flow[Any, Any]) -> str:
    parts = []
    for param in flow.signature.parameters.values():
        text = param.name
        if param.annotation is not inspect.Parameter.empty:
            annotation = param.annotation
            text += f": {getattr(annotation, '__name__', annotation)}"
        if param.default is not inspect.Parameter.empty:
            text += f" = {param.default!r}"
        parts.append(text)
    return f"({', '.join(parts)})" if parts else "no parameters"


def execute_new(
    flow: Flow[Any, Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    parent: RunExecution | None = None,
    parent_step_key: str | None = None,
    run_id: str | None = None,
    background: bool = False,
    listeners: Sequence[Listener] = (),
    store: Store | None = None,
    by: str | None = None,
) -> RunHandle:
    """Create a run of ``flow`` and execute it here (or on a background thread); ``by``
    (who started it) is recorded with its first event."""
    params_text = _params_text(flow, args, kwargs)
    store = store or (parent.store if parent is not None and flow.options.store is None else None)
    store = store or flow.resolve_store()
    now = utcnow()
    timeout = flow.options.timeout
    run = RunRecord(
        run_id=run_id or new_run_id(),
        flow_name=flow.name,
        state=RunState.RUNNING,
        created_at=now,
        started_at=now,
        target=flow.target,
        flow_version=flow.options.version,
        params=params_text,
        parent_run_id=parent.run_id if parent is not None else None,
        parent_step_key=parent_step_key,
        owner=owner_id(),
        # Where a worker resumes it if it waits: a child run waits in its parent's queue.
        queue=parent.run.queue if parent is not None else flow.options.queue,
        priority=parent.run.priority if parent is not None else flow.options.priority,
        deadline_at=None if timeout is None else now + timedelta(seconds=timeout),
    )
    started = EventRecord(run_id=run.run_id, at=now, kind="run", state=run.state.value, by=by)
    store.create_run(run, events=(started,))
    execution = RunExecution(
        flow=flow,
        run=run,
        store=store,
        executor=parent.executor if parent is not None else default_executor(),
        listeners=listeners,
        parent=parent,
        launcher=CHILDREN,
    )
    for listener in listeners:
        listener(started)
    return _launch(execution, args, kwargs, background=background)


def submit(
    flow: Flow[Any, Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    store: Store | None = None,
    by: str | None = None,
) -> RunHandle:
    """Put a pending run of ``flow`` in the store for a worker; return its handle. ``by``
    (who submits) is recorded in the run's history.

    As ``enqueue``, on ``store`` or else the flow's store.
    """
    opened = store or flow.resolve_store()
    stored, _created = enqueue(flow, args, kwargs, store=opened)
    return RunHandle(stored.run_id, opened)


def enqueue(
    flow: Flow[Any, Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    store: Store,
    by: str | None = None,
    now: datetime | None = None,
) -> tuple[RunRecord, bool]:
    """Put a pending run of ``flow`` (its queue, priority, tags and idempotency key from
    its options) in ``store`` for a worker: ``(run, True)``, and ``by`` in its history.

    With an idempotency key that already names a run, nothing is written and that run
    comes back as ``(existing, False)`` (``IdempotencyConflictError`` if its parameters
    differ). Raises ``ParameterError``, ``SerializationError``, ``RunStateError`` (a flow
    workers cannot import), before anything is written.
    """
    params_text = _params_text(flow, args, kwargs)
    target = flow.target
    if target is None:
        raise RunStateError(
            f"flow {flow.name!r} is defined inside a function, so a worker cannot import "
            "it: define it at module level to submit it, or call it to run it here."
        )
    now = now or utcnow()
    options = flow.options
    run = RunRecord(
        run_id=new_run_id(),
        flow_name=flow.name,
        state=RunState.PENDING,
        created_at=now,
        target=target,
        flow_version=options.version,
        params=params_text,
        tags=options.tags,
        queue=options.queue,
        priority=options.priority,
        idempotency_key=options.idempotency_key,
    )
    event = EventRecord(
        run_id=run.run_id,
        at=now,
        kind="run",
        state="pending",
        message=f"submitted to queue {options.queue!r}",
        by=by,
    )
    return store.submit_run(run, events=(event,))


def execute_claimed(
    run: RunRecord,
    *,
    store: Store,
    flow: Flow[Any, Any],
    executor: Any,
    listeners: Sequence[Listener] = (),
    lost: threading.Event | None = None,
    released: threading.Event | None = None,
) -> RunHandle:
    """Execute a run this worker just claimed, by replay, its writes fenced by the claim's
    lease epoch. Raises ``LeaseLostError`` when the lease is lost on the way, and
    ``RunReleased`` when the worker stops before the run ends."""
    params = loads(run.params)
    bound = inspect.BoundArguments(flow.signature, params)
    execution = RunExecution(
        flow=flow,
        run=run,
        store=store,
        executor=executor,
        steps=store.get_steps(run.run_id),
        listeners=listeners,
        fence=Fence(run_id=run.run_id, epoch=run.lease_epoch),
        lost=lost,
        released=released,
        launcher=CHILDREN,
        # Claimed to unwind a cancelled run: replay up to where it waited, then stop as
        # cancelled.
        start=Start.UNWIND_CANCEL if run.state is RunState.CANCELLED else Start.FRESH,
    )
    if run.state is RunState.CANCELLED:
        execution.cancelled.set()
    return _launch(execution, bound.args, bound.kwargs, background=False)


def resume(
    run_id: str,
    *,
    store: Store | str | None = None,
    flow: Flow[Any, Any] | None = None,
    listeners: Sequence[Listener] = (),
    background: bool = False,
    retry_failed: bool = False,
    parent: RunExecution | None = None,
    from_step: str | None = None,
    by: str | None = None,
) -> RunHandle:
    """Resume a run by replay: completed steps return their recorded results.

    A completed run returns its handle at once. A failed run is re-run only with
    ``retry_failed``; ``from_step`` then also runs that step and every later one again.
    ``by`` (who resumed it) is recorded with the event of its restart (else this
    process's owner id). Raises ``RunNotFoundError``, ``RunStateError``.
    """
    opened = resolve_store(store)
    run = opened.get_run(run_id)
    handle = RunHandle(run_id, opened)
    if run.state is RunState.COMPLETED and from_step is None:
        return handle
    if run.state is RunState.CANCELLED or (run.state is RunState.FAILED and not retry_failed):
        raise RunStateError(
            f"run {run_id} is {run.state.value}; only unfinished runs can be resumed."
            + (
                " Retry a failed run with `legato runs retry`."
                if run.state is RunState.FAILED
                else ""
            )
        )
    _refuse_if_alive(run)
    steps = _replayable_steps(opened, run, from_step)
    if flow is None:
        if run.target is None:
            raise RunStateError(
                f"run {run_id} of flow {run.flow_name!r} was started from code legato cannot "
                "import again (a flow defined inside a function?). Resume it from Python with "
                "my_flow.resume(run_id)."
            )
        flow = load_target(run.target)
    params = loads(run.params)
    bound = inspect.BoundArguments(flow.signature, params)
    unwinding = run.state is not RunState.FAILED and unwinding_from(opened.get_events(run_id))
    verb = "retried" if run.state is RunState.FAILED else "resumed"
    message = f"{verb} by replay on {owner_id()}"
    fence = None
    if parent is None and isinstance(opened, QueueStore):
        # Take the run as it was read and judged free: a compare-and-set on its epoch, so
        # that of workers and resumes racing for it exactly one executes it.
        taken = opened.take_run(
            run_id,
            owner=owner_id(),
            epoch=run.lease_epoch,
            now=utcnow(),
            message=message,
            retry_failed=retry_failed,
            by=by,
        )
        if taken is None:
            current = opened.get_run(run_id)
            if current.state is RunState.COMPLETED and from_step is None:
                return handle  # finished by whoever took it meanwhile
            raise _taken_elsewhere(current)
        # A retried failed run gets a new deadline when it starts (RunExecution).
        run = replace(taken, deadline_at=None) if run.state is RunState.FAILED else taken
        fence = Fence(run_id=run_id, epoch=taken.lease_epoch)
    execution = RunExecution(
        flow=flow,
        run=run,
        store=opened,
        executor=parent.executor if parent is not None else default_executor(),
        steps=steps,
        listeners=listeners,
        parent=parent,
        fence=fence,
        launcher=CHILDREN,
        start=Start.REPLAY_UNWIND if unwinding else Start.FRESH,
    )
    if fence is None:
        restarted = replace(
            run,
            state=RunState.RUNNING,
            owner=owner_id(),
            error=None,
            finished_at=None,
            started_at=utcnow() if run.state is RunState.FAILED else run.started_at,
            deadline_at=None if run.state is RunState.FAILED else run.deadline_at,
        )
        execution.record_run(restarted, message=message, by=by)
    return _launch(execution, bound.args, bound.kwargs, background=background)


def _replayable_steps(store: Store, run: RunRecord, from_step: str | None) -> list[StepRecord]:
    """The run's recorded steps, without ``from_step`` and what followed it."""
    steps = store.get_steps(run.run_id)
    if from_step is None:
        return steps
    if run.state is not RunState.FAILED:
        raise RunStateError(
            f"run {run.run_id} is {run.state.value}; --from applies to a failed run"
        )
    start = next((s.seq for s in steps if s.key == from_step), None)
    if start is None or start >= DERIVED_SEQ:
        keys = ", ".join(s.key for s in steps if s.seq < DERIVED_SEQ) or "none"
        raise RunStateError(
            f"run {run.run_id} has no step {from_step!r} to retry from; its steps: {keys}"
        )
    return [s for s in steps if s.seq < start]


def _refuse_if_alive(run: RunRecord) -> None:
    """One run executes in one place: refuse to resume a run whose process still lives.

    Only a process on this host can be checked; ``take_run``'s compare-and-set then
    makes sure that of several resumes that found it gone, one takes the run."""
    if run.state is not RunState.RUNNING or not run.owner:
        return
    host, _, pid_text = run.owner.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return
    pid = int(pid_text)
    alive = pid == os.getpid()
    if not alive:
        try:
            os.kill(pid, 0)
            alive = True
        except ProcessLookupError:
            alive = False
        except PermissionError:
            alive = True
    if alive:
        raise _taken_elsewhere(run)


def _taken_elsewhere(run: RunRecord) -> RunStateError:
    """The answer to a resume that lost the run to another process: where it is now."""
    run_id = run.run_id
    show = f"`legato runs show {run_id}`"
    if run.state is RunState.RUNNING and run.lease_expires_at is not None:
        return RunStateError(
            f"run {run_id} is already running in worker {run.owner} (its lease runs until "
            f"{run.lease_expires_at.isoformat()}); wait for it ({show}), or cancel it with "
            f"`legato runs cancel {run_id}`."
        )
    if run.state is RunState.RUNNING:
        host, _, pid = (run.owner or "").rpartition(":")
        where = f"process {pid} on {host}" if host and pid.isdigit() else "another process"
        return RunStateError(
            f"run {run_id} is already running in {where}; wait for it to finish ({show}), "
            "or stop that process before resuming the run."
        )
    return RunStateError(
        f"run {run_id} was taken by another process while this one resumed it, and is "
        f"{run.state.value} now; see {show}."
    )


class _ChildLauncher:
    """How the runner starts and resumes child runs (``engine.children.ChildLauncher``)."""

    def start(
        self,
        flow: Flow[Any, Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        parent: RunExecution,
        parent_step_key: str | None,
        run_id: str | None,
        listeners: Sequence[Listener],
    ) -> RunHandle:
        return execute_new(
            flow,
            args,
            kwargs,
            parent=parent,
            parent_step_key=parent_step_key,
            run_id=run_id,
            listeners=listeners,
        )

    def resume(self, run_id: str, *, flow: Flow[Any, Any], parent: RunExecution) -> RunHandle:
        return resume(
            run_id, store=parent.store, flow=flow, listeners=parent.listeners, parent=parent
        )


CHILDREN = _ChildLauncher()


def _launch(
    execution: RunExecution, args: tuple[Any, ...], kwargs: dict[str, Any], *, background: bool
) -> RunHandle:
    handle = RunHandle(execution.run_id, execution.store)
    handle._local = True
    if background:
        thread = threading.Thread(
            target=_execute_quietly,
            args=(execution, handle, args, kwargs),
            name=f"legato-run-{execution.run_id}",
            daemon=True,
        )
        thread.start()
    else:
        execution.execute(handle, tuple(args), dict(kwargs))
    return handle


def _execute_quietly(
    execution: RunExecution, handle: RunHandle, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    try:
        execution.execute(handle, tuple(args), dict(kwargs))
    except BaseException:  # noqa: BLE001 - the handle carries the outcome
        pass
