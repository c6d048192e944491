"""Executing a run: start or resume it, replay recorded steps, record the rest.

A ``RunExecution`` holds the run's step records in memory while it runs: replay is a
dict look-up and nothing just written is read back.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from legato.clock import utcnow
from legato.engine.children import ChildLauncher, call_child
from legato.engine.context import (
    cleaning_up,
    current_run,
    register_execution,
    unregister_execution,
)
from legato.engine.deadlines import arm_deadline, timed_out
from legato.engine.failures import compensate, failure_of, run_handlers
from legato.engine.futures import StepFuture
from legato.engine.handles import RunHandle
from legato.engine.lifecycle import Lifecycle, Start, UnwindingMarker
from legato.engine.liveness import CANCEL_POLL_SECONDS, check_live, sleep_live
from legato.engine.observer import announce_started, observing, run_event, step_event
from legato.engine.recorder import Recorder
from legato.engine.signals import RunPaused, RunReleased, Suspended
from legato.engine.steps import error_info, execute_step
from legato.engine.submissions import submit_task
from legato.engine.waiting import record_suspended, wait_step
from legato.errors import (
    Cancelled,
    FlowTimeoutError,
    LeaseLostError,
    NonDeterminismError,
    RunStateError,
    SerializationError,
)
from legato.executors.base import Executor
from legato.records import (
    Change,
    EventRecord,
    Fence,
    LogRecord,
    RunRecord,
    StepRecord,
    WaitSpec,
)
from legato.serialization import _PICKLE_HINT as PICKLE_HINT
from legato.serialization import dumps, loads
from legato.states import RunState, StepState
from legato.store.base import Store

if TYPE_CHECKING:
    from legato.engine.definitions import Flow, Task

R = TypeVar("R")
Listener = Callable[[EventRecord], None]

_recorders: dict[int, Recorder] = {}
_recorders_lock = threading.Lock()


def recorder_for(store: Store) -> Recorder:
    """One recorder per store in a process, so parallel runs share commits too."""
    with _recorders_lock:
        recorder = _recorders.get(id(store))
        if recorder is None or recorder.store is not store:
            recorder = _recorders[id(store)] = Recorder(store)
        return recorder


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


DERIVED_SEQ = 1 << 40  # derived steps (handlers, compensations) sort after the flow's own


def unstorable_result(flow_name: str, exc: SerializationError) -> SerializationError:
    """The error for a flow whose return value cannot be stored. A flow's result is always
    stored as JSON, so the hint meant for tasks (``serializer="pickle"``, which ``@flow``
    does not take) becomes one a flow can follow."""
    hint = (
        'keep that value inside a task with serializer="pickle" and return something JSON '
        "can hold from the flow (a path, an id, a summary): a flow's result is always "
        "stored as JSON"
    )
    return SerializationError(
        f"result of flow {flow_name!r}: {str(exc).replace(PICKLE_HINT, hint)}"
    )


class RunExecution:
    """The in-memory state of one run while this process executes it: the ``Runtime``
    (``engine/context.py``) its flow body, tasks and waits talk to.

    Waits are in ``engine/waiting.py``, child runs in ``engine/children.py``, steps in
    ``engine/steps.py``, the lifecycle's state machine in ``engine/lifecycle.py``; this
    class keeps replay, recording, liveness and the run's outcome."""

    def __init__(
        self,
        *,
        flow: Flow[Any, Any],
        run: RunRecord,
        store: Store,
        executor: Executor,
        steps: Sequence[StepRecord] = (),
        listeners: Sequence[Listener] = (),
        parent: RunExecution | None = None,
        fence: Fence | None = None,
        lost: threading.Event | None = None,
        released: threading.Event | None = None,
        launcher: ChildLauncher,
        start: Start = Start.FRESH,
    ) -> None:
        self.flow = flow
        self.parent = parent  # the run executing this child run in this process
        self.run = run
        self.run_id = run.run_id
        self.flow_name = run.flow_name
        self.store = store
        # A worker's run commits on its own, fenced by its lease epoch: a stale worker's
        # writes are refused instead of mixing with the new owner's.
        if fence is None and parent is not None:
            fence = parent.fence  # a child run of a worker's run: fenced by the root's lease
        self.recorder = recorder_for(store)
        self.fence: Fence | None = fence
        self.lost = lost or threading.Event()  # the lease was lost: stop at the next step
        self.released = released or threading.Event()  # the worker stops: give it back
        self.executor = executor
        self.listeners = tuple(listeners)
        self.recorded: dict[str, StepRecord] = {s.key: s for s in steps}
        self.keys_by_seq: dict[int, str] = {s.seq: s.key for s in steps}
        self.counters: dict[str, int] = {}
        self.next_seq = 0
        self.futures: list[StepFuture[Any]] = []
        self.cancelled = threading.Event()
        self.lifecycle = Lifecycle(start)  # see engine/lifecycle.py
        self.launcher = launcher
        self.compensable: dict[str, tuple[str, Any, Any]] = {}  # key -> (key, undo, result)
        self._derived_seq = DERIVED_SEQ
        self._derived_lock = threading.Lock()
        self.signal = threading.Lock()  # shared by this run's futures
        self.helper = getattr(executor, "help", None)
        self.deadline: float | None = None  # time.monotonic() of run.deadline_at (deadlines.py)
        self.next_poll = time.monotonic() + CANCEL_POLL_SECONDS

    # -- keys and replay ---------------------------------------------------------------

    def next_key(self, name: str) -> tuple[str, int]:
        count = self.counters.get(name, 0)
        self.counters[name] = count + 1
        seq = self.next_seq
        self.next_seq = seq + 1
        return f"{name}#{count}", seq

    def replayed(self, key: str, seq: int, name: str) -> StepRecord | None:
        """The recorded step at this position, checked for determinism."""
        recorded_key = self.keys_by_seq.get(seq)
        if recorded_key is not None and recorded_key != key:
            expected = self.recorded[recorded_key].task_name
            raise NonDeterminismError(
                run_id=self.run_id, step_key=recorded_key, expected=expected, found=name
            )
        return self.recorded.get(key)

    # -- calling tasks and flows from the flow body -------------------------------------

    def call_task(self, task: Task[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self.lifecycle.signal is not None:
            raise self.lifecycle.signal
        key, seq = self.next_key(task.name)
        prior = self.replayed(key, seq, task.name)
        if prior is not None and prior.state is StepState.COMPLETED:
            value = loads(prior.result, prior.serializer)  # type: ignore[arg-type]
            self.completed(task, key, value)
            return value
        if self.lifecycle.calls_are_cleanup:
            # Called from the flow's `finally` or `except Cancelled` after a cancel: a
            # cleanup step, which the cancel does not stop.
            token = cleaning_up.set(True)
            try:
                return execute_step(self, task, key, seq, args, kwargs, prior)
            finally:
                cleaning_up.reset(token)
        return execute_step(self, task, key, seq, args, kwargs, prior)

    def call_derived(
        self, task: Task[Any, Any], key: str, args: tuple[Any, ...], *, replay: bool = True
    ) -> Any:
        """Run ``task`` as the step ``key`` derived from another (a failure handler, a
        compensation): replayed like any step (unless ``replay`` is False: then a
        recorded completion is run again), run as a cleanup step (a cancel does not
        stop it), ordered after the flow's own steps."""
        prior = self.recorded.get(key)
        if not replay:
            prior = None
        if prior is not None and prior.state is StepState.COMPLETED:
            return loads(prior.result, prior.serializer)  # type: ignore[arg-type]
        with self._derived_lock:
            self._derived_seq += 1
            seq = self._derived_seq
        token = cleaning_up.set(True)
        try:
            return execute_step(self, task, key, seq, args, {}, prior)
        finally:
            cleaning_up.reset(token)

    # -- the runtime's waits and child runs (engine/waiting.py, engine/children.py) -----

    def wait(self, spec: WaitSpec, *, timeout: float | None, default: Any) -> Any:
        """The durable wait for ``spec`` as a step (``Runtime.wait``)."""
        return wait_step(self, spec, timeout=timeout, default=default)

    def call_child(self, flow: Flow[Any, R], args: tuple[Any, ...], kwargs: dict[str, Any]) -> R:
        """The step ``<flow>#n``: a child run executed here (``Runtime.call_child``)."""
        value: R = call_child(self, flow, args, kwargs)
        return value

    def start_nested(
        self, flow: Flow[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> RunHandle:
        """A run of ``flow`` called from a step's body (``Runtime.start_nested``)."""
        return self.launcher.start(
            flow, args, kwargs, parent=self, parent_step_key=None, run_id=None, listeners=()
        )

    def completed(self, task: Task[Any, Any], key: str, value: Any) -> None:
        """Note a completed (or replayed) step whose task has a compensation."""
        undo = task.options.compensate
        if undo is not None:
            self.compensable[key] = (key, undo, value)

    def seq_of(self, key: str) -> int:
        step = self.recorded.get(key)
        return step.seq if step is not None else -1

    def submit_task(
        self, task: Task[Any, R], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> StepFuture[R]:
        """The step for this call of ``task``, started now (``Runtime.submit_task``)."""
        return submit_task(self, task, args, kwargs)

    # -- recording ---------------------------------------------------------------------

    def record_step(
        self,
        step: StepRecord,
        *,
        message: str | None = None,
        extra: Sequence[Change] = (),
        wait: bool,
        kick: bool = False,
    ) -> int:
        if message is None and step.state is StepState.RUNNING and cleaning_up.get():
            message = "cleanup step"
        event = EventRecord(
            run_id=step.run_id,
            at=step.finished_at or utcnow(),
            kind="step",
            state=step.state.value,
            step_key=step.key,
            attempt=step.attempts,
            message=message,
        )
        notes = (step_event(step, event, flow_name=self.flow_name),) if observing() else ()
        changes = (step, event, *extra)
        seq = self.recorder.write(changes, wait=wait, kick=kick, fence=self.fence, events=notes)
        if step.state is StepState.COMPLETED:
            self.recorded[step.key] = step
            if step.seq < DERIVED_SEQ:
                self.keys_by_seq[step.seq] = step.key
        for listener in self.listeners:
            listener(event)
        return seq

    def record_run(
        self, run: RunRecord, *, message: str | None = None, by: str | None = None
    ) -> None:
        previous, self.run = self.run.state, run
        event = EventRecord(
            run_id=run.run_id,
            at=utcnow(),
            kind="run",
            state=run.state.value,
            message=message,
            by=by,
        )
        notes = (run_event(run, event, previous=previous),) if observing() else ()
        self.recorder.write((run, event), wait=True, fence=self.fence, events=notes)
        for listener in self.listeners:
            listener(event)

    def log(self, record: LogRecord) -> None:
        self.recorder.write((record,), wait=False, fence=self.fence)

    # -- liveness: cancel, timeout, lease, pause (engine/liveness.py) ------------------

    cancel_poll_seconds = CANCEL_POLL_SECONDS

    def check_live(self, *, poll: bool = False) -> None:
        """Called at every step boundary: raise if the run was cancelled or timed out,
        its lease was lost, or its worker is stopping (``liveness.check_live``)."""
        check_live(self, poll=poll)

    @property
    def root(self) -> RunExecution:
        """The outermost run executing in this process (its lease covers child runs)."""
        execution = self
        while execution.parent is not None:
            execution = execution.parent
        return execution

    def sleep(self, seconds: float) -> None:
        """Wait between attempts; wakes early (raising ``Cancelled``) on a cancel."""
        sleep_live(self, seconds)

    # -- the run as a whole --------------------------------------------------------------

    def execute(self, handle: RunHandle, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Run the flow body (with flow-level retries) and record how the run ended."""
        token = current_run.set(self)
        register_execution(self)
        announce_started(self.run, resumed=bool(self.recorded))
        try:
            if not self.lifecycle.unwinding_cancel:
                arm_deadline(self)
            self._execute_attempts(handle, args, kwargs)
        finally:
            current_run.reset(token)
            unregister_execution(self.run_id)

    def _execute_attempts(
        self, handle: RunHandle, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        retries = self.flow.options.retries
        for attempt in range(retries + 1):
            try:
                value = self._call_body(args, kwargs)
                self._settle_futures()
                try:
                    payload = dumps(value)
                except SerializationError as exc:
                    raise unstorable_result(self.flow_name, exc) from None
            except Suspended as suspended:
                self._drain_futures()
                handle._finish(exception=record_suspended(self, suspended))
                return
            except RunPaused:
                # An operator paused the run: stop here, holding nothing; unpausing puts
                # it back in the queue and a worker resumes it by replay.
                self.lifecycle.halt()
                self._drain_futures()
                self.record_run(
                    replace(self.run, state=RunState.PAUSED, owner=None),
                    message="stopped at a step boundary: paused",
                )
                handle._finish(
                    exception=RunStateError(
                        f"run {self.run_id} is paused; `legato runs unpause {self.run_id}` "
                        "puts it back in the queue"
                    )
                )
                return
            except (RunReleased, LeaseLostError):
                self.lifecycle.halt()  # the worker gives the run back, or lost it
                self._drain_futures()
                raise
            except KeyboardInterrupt:
                self.lifecycle.halt()  # queued steps do not start; running ones finish
                self._drain_futures()
                # Paused, not pending: whoever pressed Ctrl-C decides what happens next;
                # no worker picks the run up unasked.
                self.record_run(
                    replace(self.run, state=RunState.PAUSED, owner=None),
                    message=f"interrupted (Ctrl-C); `legato runs resume {self.run_id}` "
                    f"continues it here, `legato runs unpause {self.run_id}` hands it to a "
                    "worker",
                )
                handle._finish(exception=KeyboardInterrupt())
                raise
            except Cancelled as exc:
                self._drain_futures()
                self._unwind(exc, attempts=attempt + 1)
                self._finish_failed(handle, exc, state=RunState.CANCELLED)
                return
            except Exception as exc:
                self._drain_futures()
                if (
                    attempt < retries
                    and not self.lifecycle.replay_only
                    and not isinstance(exc, NonDeterminismError | FlowTimeoutError)
                ):
                    self.record_run(
                        self.run,
                        message=f"flow attempt {attempt + 1} failed ({error_info(exc).summary()}); "
                        "retrying by replay",
                    )
                    self._reset_for_replay()
                    continue
                self._unwind(exc, attempts=attempt + 1)
                self._finish_failed(handle, exc, state=RunState.FAILED)
                return
            if self.store.get_run(self.run_id).state is RunState.CANCELLED:
                # A cancel recorded since the last poll wins over the completion.
                self._finish_failed(
                    handle, Cancelled(f"run {self.run_id} was cancelled"), state=RunState.CANCELLED
                )
                return
            self.record_run(
                replace(
                    self.run,
                    wake_at=None,
                    waiting_for=None,
                    state=RunState.COMPLETED,
                    result=payload,
                    finished_at=utcnow(),
                    owner=None,
                )
            )
            handle._finish(value=value)
            return

    def _unwind(self, exc: BaseException, *, attempts: int) -> None:
        """The run ends failed or cancelled: run the flow's ``on_failure`` handlers, then
        compensate its completed steps, newest first. A marker event first, so that a
        crash in here resumes the unwinding rather than the flow."""
        handlers = self.flow.options.on_failure
        if not handlers and not self.compensable:
            return
        if not self.lifecycle.replay_only:
            marker = UnwindingMarker(cause=error_info(exc).summary())
            self.record_run(self.run, message=marker.message)
        failure = failure_of(self, exc, step_key=None, task_name=None, attempts=attempts)
        run_handlers(self, handlers, failure, key_prefix="", original=exc)
        compensate(self, exc)

    def _call_body(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not self.lifecycle.unwinding_cancel:  # a cancelled run is replayed up to its cancel
            if self.deadline is not None and time.monotonic() > self.deadline:
                if not self.lifecycle.replay_only:
                    raise timed_out(self, resumed=True)
            self.check_live()
        if self.flow.is_async:
            return asyncio.run(self.flow.fn(*args, **kwargs))
        return self.flow.fn(*args, **kwargs)

    def _finish_failed(self, handle: RunHandle, exc: BaseException, *, state: RunState) -> None:
        if self.store.get_run(self.run_id).state is RunState.CANCELLED:
            state = RunState.CANCELLED
        info = error_info(exc)
        self.record_run(
            replace(
                self.run,
                state=state,
                error=info,
                finished_at=utcnow(),
                owner=None,
                wake_at=None,
                waiting_for=None,
            ),
            message=info.summary(),
        )
        handle._finish(exception=exc)

    def _settle_futures(self) -> None:
        """Wait for every submitted step; a failure nobody looked at fails the run."""
        for future in self.futures:
            future.wait()
        for future in self.futures:
            if not future.observed:
                error = future.exception()
                if error is not None:
                    raise error

    def _drain_futures(self) -> None:
        for future in self.futures:
            future.wait()

    def _reset_for_replay(self) -> None:
        self.counters.clear()
        self.next_seq = 0
        self.futures = []
