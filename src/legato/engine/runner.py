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
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from legato.clock import utcnow
from legato.engine.context import (
    cleaning_up,
    current_run,
    register_execution,
    unregister_execution,
)
from legato.engine.failures import compensate, failure_of, run_handlers
from legato.engine.futures import StepFuture
from legato.engine.handles import RunHandle
from legato.engine.observer import (
    announce_started,
    announce_submitted,
    observing,
    run_event,
    step_event,
)
from legato.engine.recorder import Recorder
from legato.engine.steps import error_info, execute_step, futures_in
from legato.engine.waits import INLINE_WAIT, Suspended, describe_wait
from legato.errors import (
    Cancelled,
    FlowTimeoutError,
    LeaseLostError,
    NonDeterminismError,
    RunFailedError,
    RunStateError,
    SerializationError,
    WaitTimeout,
)
from legato.executors.base import Executor
from legato.ids import new_run_id
from legato.records import (
    CHILD_PREFIX,
    Change,
    ErrorInfo,
    EventRecord,
    Fence,
    LogRecord,
    RunRecord,
    SentEvent,
    StepRecord,
    waits_for_child,
)
from legato.serialization import _PICKLE_HINT as PICKLE_HINT
from legato.serialization import dumps, loads
from legato.states import RunState, StepState
from legato.store.base import Store

if TYPE_CHECKING:
    from legato.engine.definitions import Flow, Task

Listener = Callable[[EventRecord], None]

CANCEL_POLL_SECONDS = 1.0
WAIT_POLL_SECONDS = 0.2  # how often a blocking wait (wait=True) looks for its answer  # how often a running flow looks for a cancel made elsewhere

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


_ABSENT = object()  # a payload entry that is not there matches nothing
DERIVED_SEQ = 1 << 40  # derived steps (handlers, compensations) sort after the flow's own
COMPENSATING = "unwinding after"  # the run event that marks failure handling in progress


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


class RunReleased(BaseException):  # noqa: N818 - a control signal, like KeyboardInterrupt
    """The worker executing the run is stopping: the run goes back to the queue.

    A ``BaseException`` so that a flow's ``except Exception`` does not swallow it.
    """

    def __init__(self, run_id: str) -> None:
        super().__init__(f"run {run_id}: its worker is stopping; another worker resumes it")


class RunPaused(BaseException):  # noqa: N818 - a control signal, like KeyboardInterrupt
    """An operator paused the run: it stops at the next step boundary."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"run {run_id} was paused")


class RunExecution:
    """The in-memory state of one run while this process executes it."""

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
        self.stopping = False  # interrupted: queued steps must not start
        self.cancel_raised = False  # the flow was told of a cancel: later tasks are cleanup
        self.stopping_for: BaseException | None = None  # see _stopping_with
        self.unwinding_cancel = False  # claimed to unwind a run cancelled while it waited
        # Resuming a run that crashed while compensating: replay completed steps only,
        # so the failure is met again and compensation picks up where it stopped.
        self.replay_only = False
        self.compensable: dict[str, tuple[str, Any, Any]] = {}  # key -> (key, undo, result)
        self._derived_seq = DERIVED_SEQ
        self._derived_lock = threading.Lock()
        self.signal = threading.Lock()  # shared by this run's futures
        self._helper = getattr(executor, "help", None)
        self.deadline: float | None = None  # time.monotonic() of run.deadline_at, see _arm_deadline
        self._next_poll = time.monotonic() + CANCEL_POLL_SECONDS

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
        if self.stopping_for is not None:
            raise self.stopping_for
        key, seq = self.next_key(task.name)
        prior = self.replayed(key, seq, task.name)
        if prior is not None and prior.state is StepState.COMPLETED:
            value = loads(prior.result, prior.serializer)  # type: ignore[arg-type]
            self.completed(task, key, value)
            return value
        if self.cancel_raised:
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

    def wait_until(self, wake_at: Callable[[], datetime]) -> None:
        """A durable timer as the step ``sleep#n``: slept through when due soon, else the
        run is suspended (``Suspended``) until a worker resumes it at its wake time."""
        key, seq = self.next_key("sleep")
        prior = self.replayed(key, seq, "sleep")
        if prior is not None and prior.state is StepState.COMPLETED:
            return
        self.check_live()
        if prior is not None and prior.state is StepState.WAITING and prior.result:
            wake = datetime.fromisoformat(loads(prior.result))  # the time first recorded
            waiting = prior
        else:
            wake = wake_at()
            waiting = self._waiting_step(key, seq, "sleep", wake.isoformat())
            self.record_step(waiting, message=f"until {wake.isoformat()}", wait=True)
        remaining = (wake - utcnow()).total_seconds()
        if remaining > INLINE_WAIT and not self.blocks_on_waits:
            raise self._stopping_with(Suspended(self.run_id, wake))
        self.sleep(max(0.0, remaining))
        done = replace(waiting, state=StepState.COMPLETED, finished_at=utcnow())
        self.record_step(done, wait=True)

    def wait_for_event(
        self,
        name: str,
        *,
        match: dict[str, Any] | None,
        key: str | None,
        timeout: float | None,
        default: Any,
    ) -> Any:
        """The step ``wait_for_event#n``: an event's payload, or the timeout's outcome."""
        step_key, seq = self.next_key("wait_for_event")
        prior = self.replayed(step_key, seq, "wait_for_event")
        if prior is not None and prior.state is StepState.COMPLETED:
            return self._event_outcome(loads(prior.result), name, default)  # type: ignore[arg-type]
        self.check_live()
        if prior is not None and prior.state is StepState.WAITING and prior.result:
            deadline_text = loads(prior.result).get("deadline")
            waiting = prior
        else:
            deadline = None if timeout is None else utcnow() + timedelta(seconds=timeout)
            deadline_text = None if deadline is None else deadline.isoformat()
            waiting = self._waiting_step(
                step_key, seq, "wait_for_event", {"name": name, "deadline": deadline_text}
            )
            until = f" until {deadline_text}" if deadline_text else ""
            self.record_step(waiting, message=f"for event {name!r}{until}", wait=True)
        deadline = None if deadline_text is None else datetime.fromisoformat(deadline_text)
        event = self.find_event(name, match=match, key=key)
        if event is None and self._due_soon(deadline):
            event = self.find_event(name, match=match, key=key)
        if event is None and self.blocks_on_waits:
            event = self._block_until(lambda: self.find_event(name, match=match, key=key), deadline)
        if event is not None:
            outcome = {"timeout": False, "event_id": event.id, "payload": loads(event.payload)}
        elif deadline is not None and utcnow() >= deadline:
            outcome = {"timeout": True}
        else:
            raise self._stopping_with(
                Suspended(
                    self.run_id,
                    deadline,
                    waiting_for=name,
                    arrived=lambda: self.find_event(name, match=match, key=key) is not None,
                )
            )
        done = replace(
            waiting, state=StepState.COMPLETED, finished_at=utcnow(), result=dumps(outcome)
        )
        message = "timed out" if outcome["timeout"] else f"event {event.id if event else ''}"
        self.record_step(done, message=message, wait=True)
        return self._event_outcome(outcome, name, default)

    def wait_for_input(
        self,
        name: str,
        *,
        question: dict[str, Any],
        timeout: float | None,
        default: Any,
        schema: Any,
    ) -> Any:
        """The step ``wait_for_input#n``: the accepted input, a rejection, or a timeout."""
        from legato.engine.inputs import InputRejected, as_model

        step_key, seq = self.next_key("wait_for_input")
        prior = self.replayed(step_key, seq, "wait_for_input")
        if prior is None or prior.state is not StepState.COMPLETED:
            self.check_live()
            if prior is not None and prior.state is StepState.WAITING and prior.result:
                question = loads(prior.result)
                waiting = prior
            else:
                deadline = None if timeout is None else utcnow() + timedelta(seconds=timeout)
                question = {**question, "deadline": deadline and deadline.isoformat()}
                waiting = self._waiting_step(step_key, seq, "wait_for_input", question)
                prompt = question.get("prompt") or "an answer"
                self.record_step(waiting, message=f"input {name!r}: {prompt}", wait=True)
            deadline_text = question.get("deadline")
            deadline = None if deadline_text is None else datetime.fromisoformat(deadline_text)
            answer = self.store.get_input(self.run_id, name)
            if answer is None and self._due_soon(deadline):
                answer = self.store.get_input(self.run_id, name)
            if answer is None and self.blocks_on_waits:
                answer = self._block_until(
                    lambda: self.store.get_input(self.run_id, name),
                    deadline,
                )
            if answer is not None:
                outcome = {
                    "timeout": False,
                    "decision": answer.decision,
                    "value": loads(answer.payload),
                    "by": answer.answered_by,
                    "at": answer.answered_at.isoformat(),
                }
            elif deadline is not None and utcnow() >= deadline:
                outcome = {"timeout": True}
            else:
                raise self._stopping_with(
                    Suspended(
                        self.run_id,
                        deadline,
                        waiting_for=f"input:{name}",
                        arrived=lambda: self.store.get_input(self.run_id, name) is not None,
                    )
                )
            done = replace(
                waiting, state=StepState.COMPLETED, finished_at=utcnow(), result=dumps(outcome)
            )
            said = (
                "timed out" if outcome["timeout"] else f"{outcome['decision']} by {outcome['by']}"
            )
            self.record_step(done, message=f"input {name!r} {said}", wait=True)
        else:
            outcome = loads(prior.result)  # type: ignore[arg-type]
        if outcome["timeout"]:
            return self._event_outcome(outcome, f"input {name!r}", default)
        if outcome["decision"] == "rejected":
            raise InputRejected(
                run_id=self.run_id, name=name, reason=outcome["value"], by=outcome["by"]
            )
        return as_model(schema, outcome["value"])

    @property
    def blocks_on_waits(self) -> bool:
        """Waits are waited out in this thread (``with_options(wait=True)``) instead of
        suspending the run; a run executed by a worker always suspends."""
        return bool(self.root.flow.options.wait) and self.root.fence is None

    def _block_until(self, arrived: Callable[[], Any], deadline: datetime | None) -> Any:
        """Poll ``arrived()`` until it returns something or ``deadline`` passes."""
        while True:
            found = arrived()
            if found is not None:
                return found
            if deadline is not None and utcnow() >= deadline:
                return None
            left = 0.2 if deadline is None else (deadline - utcnow()).total_seconds()
            self.sleep(min(WAIT_POLL_SECONDS, max(0.0, left)))

    def _due_soon(self, deadline: datetime | None) -> bool:
        """A wait whose timeout comes within ``INLINE_WAIT`` is slept through here rather
        than suspended; True when it slept (the caller looks once more)."""
        if deadline is None:
            return False
        remaining = (deadline - utcnow()).total_seconds()
        if remaining > INLINE_WAIT:
            return False
        self.sleep(max(0.0, remaining))
        return True

    def _event_outcome(self, outcome: dict[str, Any], name: str, default: Any) -> Any:
        if not outcome["timeout"]:
            return outcome["payload"]
        from legato.engine.waits import _NO_DEFAULT

        if default is _NO_DEFAULT:
            raise WaitTimeout(
                f"run {self.run_id}: no answer to {name!r} came before the wait's timeout; "
                "catch legato.WaitTimeout, or give the wait a default="
            )
        return default

    def find_event(
        self, name: str, *, match: dict[str, Any] | None = None, key: str | None = None
    ) -> SentEvent | None:
        """The oldest event for this run's wait that no earlier wait of the run took."""
        taken = {
            loads(step.result).get("event_id")  # type: ignore[arg-type]
            for step in self.recorded.values()
            if step.task_name == "wait_for_event" and step.state is StepState.COMPLETED
        }
        events = self.store.events_for(name, run_id=self.run_id, since=self.run.created_at)
        for event in events:
            if event.id in taken or (key is not None and event.key != key):
                continue
            if match:
                payload = loads(event.payload)
                if not isinstance(payload, dict) or any(
                    payload.get(k, _ABSENT) != v for k, v in match.items()
                ):
                    continue
            return event
        return None

    def _waiting_step(self, key: str, seq: int, task_name: str, detail: Any) -> StepRecord:
        """A wait step as first recorded: ``detail`` (its wake time, deadline or question)
        is kept in its result, so a replay waits for the same thing."""
        return StepRecord(
            run_id=self.run_id,
            key=key,
            seq=seq,
            task_name=task_name,
            state=StepState.WAITING,
            attempts=1,
            started_at=utcnow(),
            result=dumps(detail),
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
        self, task: Task[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> StepFuture[Any]:
        if self.stopping_for is not None:
            raise self.stopping_for
        key, seq = self.next_key(task.name)
        prior = self.replayed(key, seq, task.name)
        handle: StepFuture[Any] = StepFuture(
            key, task.name, self.signal, self._helper, self.recorder
        )
        self.futures.append(handle)
        announce_submitted(self.run, step_key=key, task_name=task.name)
        if self.listeners:  # lets a live view size its progress bars up front
            submitted = EventRecord(
                run_id=self.run_id, at=utcnow(), kind="step", state="pending", step_key=key
            )
            for listener in self.listeners:
                listener(submitted)
        if prior is not None and prior.state is StepState.COMPLETED:
            value = loads(prior.result, prior.serializer)  # type: ignore[arg-type]
            self.completed(task, key, value)
            handle.set_result(value)
            return handle

        def launch() -> None:
            self.executor.submit(self._run_submitted, task, key, seq, args, kwargs, prior, handle)

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
        self,
        task: Task[Any, Any],
        key: str,
        seq: int,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        prior: StepRecord | None,
        future: StepFuture[Any],
    ) -> None:
        if self.stopping:
            future.set_exception(Cancelled(f"run {self.run_id} was interrupted"))
            return
        try:
            value = execute_step(self, task, key, seq, args, kwargs, prior, future)
        except BaseException as exc:  # noqa: BLE001 - delivered through the future
            future.set_exception(exc)
        else:
            future.set_result(value)

    def call_child(
        self, flow: Flow[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """The step ``<flow>#n``: a child run executed here, in this thread. A child that
        waits is left waiting on its own, and this run waits for it to end."""
        key, seq = self.next_key(flow.name)
        prior = self.replayed(key, seq, flow.name)
        if prior is not None and prior.state is StepState.COMPLETED:
            return loads(prior.result, prior.serializer)  # type: ignore[arg-type]
        self.check_live()
        existing = self._child_of(prior)
        if prior is not None and existing is not None and _left_waiting(prior, existing):
            return self._await_child(prior, existing)
        now = utcnow()
        step = StepRecord(
            run_id=self.run_id,
            key=key,
            seq=seq,
            task_name=flow.name,
            state=StepState.RUNNING,
            attempts=(prior.attempts if prior else 0) + 1,
            started_at=now,
            child_run_id=self._child_id_for(prior, existing),
        )
        self.record_step(step, message=f"child run {step.child_run_id}", wait=True)
        handle = self._execute_child(flow, args, kwargs, step, existing)
        try:
            value = handle.result()
        except Suspended as waiting:
            raise self._wait_for_child(step, waiting) from None
        except BaseException as exc:
            if isinstance(exc, Cancelled):
                self.cancel_raised = True  # told of a cancel: `finally` tasks are cleanup
            if isinstance(exc, Exception):
                failed = replace(
                    step, state=StepState.FAILED, error=error_info(exc), finished_at=utcnow()
                )
                self.record_step(failed, message=error_info(exc).summary(), wait=True)
            raise
        record = handle.record
        done = replace(
            step,
            state=StepState.COMPLETED,
            finished_at=utcnow(),
            result=record.result,
            serializer=record.serializer,
        )
        self.record_step(done, wait=True)
        return value

    def _child_of(self, prior: StepRecord | None) -> RunRecord | None:
        """The child run an earlier execution of this step started, if any."""
        if prior is None or not prior.child_run_id:
            return None
        try:
            return self.store.get_run(prior.child_run_id)
        except LookupError:
            return None

    def _child_id_for(self, prior: StepRecord | None, existing: RunRecord | None) -> str:
        """The step's child run id: the one recorded, unless that run failed or was
        cancelled (a retry of this run starts the child anew, under a new id)."""
        if existing is not None and _restarts(existing):
            return new_run_id()
        return prior.child_run_id if prior and prior.child_run_id else new_run_id()

    def _execute_child(
        self,
        flow: Flow[Any, Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        step: StepRecord,
        existing: RunRecord | None,
    ) -> RunHandle:
        """Execute the step's child run here: resumed by replay if an earlier execution
        left it unfinished, else started (anew when it failed or was cancelled)."""
        from legato.engine.launch import execute_new, resume

        child_id = step.child_run_id
        assert child_id is not None
        if existing is not None and not _restarts(existing):
            return resume(
                child_id, store=self.store, flow=flow, listeners=self.listeners, parent=self
            )
        return execute_new(
            flow.with_options(store=self.store),
            args,
            kwargs,
            parent=self,
            parent_step_key=step.key,
            run_id=child_id,
            listeners=self.listeners,
        )

    def _wait_for_child(self, step: StepRecord, waiting: Suspended) -> BaseException:
        """The child suspended: record the step waiting, and suspend this run until the
        child ends (the store makes this run due then)."""
        child_id = step.child_run_id
        assert child_id is not None
        self.record_step(
            replace(step, state=StepState.WAITING),
            message=f"child run {child_id} waits for {describe_wait(waiting.waiting_for)}",
            wait=True,
        )
        return self._stopping_with(
            Suspended(
                self.run_id,
                None,
                waiting_for=waits_for_child(child_id),
                arrived=lambda: self._child_ended(child_id),
            )
        )

    def _child_ended(self, child_id: str) -> bool:
        child = self.store.get_run(child_id)
        return child.state.is_final and child.finished_at is not None

    def _await_child(self, prior: StepRecord, child: RunRecord) -> Any:
        """A child left waiting on its own: its outcome once it ended, else this run
        waits for it again. Never executed here, so it runs in one place only."""
        if not (child.state.is_final and child.finished_at is not None):
            if prior.state is not StepState.WAITING:
                prior = replace(prior, state=StepState.WAITING)
            raise self._wait_for_child(prior, Suspended(child.run_id, None, child.waiting_for))
        if child.state is RunState.COMPLETED:
            done = replace(
                prior,
                state=StepState.COMPLETED,
                finished_at=utcnow(),
                result=child.result,
                serializer=child.serializer,
            )
            self.record_step(done, wait=True)
            return loads(child.result, child.serializer)  # type: ignore[arg-type]
        if child.state is RunState.CANCELLED:
            self.cancel_raised = True  # told of a cancel: `finally` tasks are cleanup
            exc: Exception = Cancelled(
                f"child run {child.run_id} of run {self.run_id} was cancelled"
            )
        else:
            error = child.error or ErrorInfo(type="Exception", message="no error recorded")
            exc = RunFailedError(child.run_id, error.type, error.message)
        failed = replace(prior, state=StepState.FAILED, error=error_info(exc), finished_at=utcnow())
        self.record_step(failed, message=error_info(exc).summary(), wait=True)
        raise exc

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

    # -- liveness: cancel and timeout ----------------------------------------------------

    cancel_poll_seconds = CANCEL_POLL_SECONDS

    def check_live(self, *, poll: bool = False) -> None:
        """Called at every step boundary: raise if the run was cancelled or timed out,
        its lease was lost, or its worker is stopping."""
        root = self.root
        if root.fence is not None and self.recorder.is_lost(root.fence.run_id):
            root.lost.set()
        if root.lost.is_set():
            raise LeaseLostError(root.run_id, root.fence.epoch if root.fence else 0)
        if root.released.is_set():
            raise self._stopping_with(RunReleased(root.run_id))
        if cleaning_up.get():
            return  # failure handlers and compensations run despite a cancel or timeout
        if poll:
            self._next_poll = 0.0
        if self.cancelled.is_set() or (self.parent is not None and self.parent.cancelled.is_set()):
            self.cancelled.set()
            self.cancel_raised = True
            raise Cancelled(f"run {self.run_id} was cancelled")
        now = time.monotonic()
        if self.deadline is not None and now > self.deadline and not self.replay_only:
            raise self._timed_out(resumed=False)
        if now >= self._next_poll:
            self._next_poll = now + CANCEL_POLL_SECONDS
            state = self.store.get_run(self.run_id).state
            if state is RunState.CANCELLED:
                self.cancelled.set()
                self.cancel_raised = True
                raise Cancelled(f"run {self.run_id} was cancelled")
            if state is RunState.PAUSED and self.parent is None:
                raise self._stopping_with(RunPaused(self.run_id))

    @property
    def root(self) -> RunExecution:
        """The outermost run executing in this process (its lease covers child runs)."""
        execution = self
        while execution.parent is not None:
            execution = execution.parent
        return execution

    def sleep(self, seconds: float) -> None:
        """Wait between attempts; wakes early (raising ``Cancelled``) on a cancel."""
        end = time.monotonic() + seconds
        while True:
            now = time.monotonic()
            left = end - now
            if left <= 0:
                return
            chunk = min(left, CANCEL_POLL_SECONDS)
            if self.deadline is not None and now < self.deadline:
                chunk = min(chunk, self.deadline - now + 0.001)  # wake to fail at the deadline
            if self.cancelled.wait(chunk):
                self.cancel_raised = True
                raise Cancelled(f"run {self.run_id} was cancelled")
            self._next_poll = 0.0
            self.check_live()

    # -- the run as a whole --------------------------------------------------------------

    def execute(self, handle: RunHandle, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Run the flow body (with flow-level retries) and record how the run ended."""
        token = current_run.set(self)
        register_execution(self)
        announce_started(self.run, resumed=bool(self.recorded))
        try:
            if not self.unwinding_cancel:
                self._arm_deadline()
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
                self._suspend(handle, suspended)
                return
            except RunPaused:
                # An operator paused the run: stop here, holding nothing; unpausing puts
                # it back in the queue and a worker resumes it by replay.
                self.stopping = True
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
                self.stopping = True  # the worker gives the run back, or lost it
                self._drain_futures()
                raise
            except KeyboardInterrupt:
                self.stopping = True  # queued steps do not start; running ones finish
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
                    and not self.replay_only
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

    def _suspend(self, handle: RunHandle, suspended: Suspended) -> None:
        """The flow waits: record it waiting (giving up any worker lease) and free this
        thread; a worker resumes it by replay when it is due."""
        what = describe_wait(suspended.waiting_for)
        until = f" until {suspended.wake_at.isoformat()}" if suspended.wake_at else ""
        wake_at = suspended.wake_at
        deadline_at = self.run.deadline_at
        if deadline_at is not None and (wake_at is None or deadline_at < wake_at):
            wake_at = deadline_at  # woken at its deadline, to fail then rather than wait on
            until += f" (or its deadline, {deadline_at.isoformat()})"
        waiting = replace(
            self.run,
            state=RunState.WAITING,
            owner=None,
            wake_at=wake_at,
            waiting_for=suspended.waiting_for,
        )
        self.record_run(waiting, message=f"waiting for {what}{until}")
        if suspended.arrived is not None and suspended.arrived():
            # An event sent while the run was being suspended: due at once.
            self.record_run(replace(waiting, wake_at=utcnow()), message=f"{what} arrived")
        if self.parent is not None and self.run.parent_step_key is not None:
            handle._finish(exception=suspended)  # the parent's step waits for this run
            return
        handle._finish(exception=RunStateError(self._waiting_message(what, until)))

    def _waiting_message(self, what: str, until: str) -> str:
        """What a direct call that suspended raises: what the run waits for, what to do."""
        waiting_for = self.run.waiting_for or ""
        if not waiting_for.startswith(CHILD_PREFIX):
            return (
                f"run {self.run_id} is waiting for {what}{until}; a worker (legato worker) "
                f"resumes it when it is due, or `legato runs resume {self.run_id}` then"
            )
        child_id = waiting_for.removeprefix(CHILD_PREFIX)
        return (
            f"run {self.run_id} is waiting for its {what} to end; a worker (legato "
            f"worker) resumes the child when it is due and then this run, or `legato runs "
            f"resume {child_id}` then `legato runs resume {self.run_id}`"
        )

    def _unwind(self, exc: BaseException, *, attempts: int) -> None:
        """The run ends failed or cancelled: run the flow's ``on_failure`` handlers, then
        compensate its completed steps, newest first. A marker event first, so that a
        crash in here resumes the unwinding rather than the flow."""
        handlers = self.flow.options.on_failure
        if not handlers and not self.compensable:
            return
        if not self.replay_only:
            self.record_run(self.run, message=f"{COMPENSATING} {error_info(exc).summary()}")
        failure = failure_of(self, exc, step_key=None, task_name=None, attempts=attempts)
        run_handlers(self, handlers, failure, key_prefix="", original=exc)
        compensate(self, exc)

    def _arm_deadline(self) -> None:
        """Fix the run's deadline when it first starts (``@flow(timeout=...)`` from now)
        and keep it in the run record: waits, pauses, crashes and resumes do not move it.
        A retried failed run starts with none, so it gets a new one here."""
        timeout = self.flow.options.timeout
        if self.run.deadline_at is None and timeout is not None:
            deadline_at = utcnow() + timedelta(seconds=timeout)
            self.record_run(
                replace(self.run, deadline_at=deadline_at),
                message=f"deadline {deadline_at.isoformat()} (timeout of {timeout:g}s)",
            )
        if self.run.deadline_at is not None:
            left = (self.run.deadline_at - utcnow()).total_seconds()
            self.deadline = time.monotonic() + left

    def _timed_out(self, *, resumed: bool) -> FlowTimeoutError:
        """The run passed its deadline: at a step boundary, or before it was resumed."""
        deadline_at = self.run.deadline_at
        assert deadline_at is not None
        timeout = self.flow.options.timeout
        limit = f"timeout of {timeout:g}s" if timeout is not None else "timeout"
        rule = "counted from the run's start, across waits, pauses and crashes"
        if not resumed:
            return FlowTimeoutError(
                f"run {self.run_id} of flow {self.flow_name!r} ran past its {limit} "
                f"({rule}): its deadline was {deadline_at.isoformat()}. Raise "
                "@flow(timeout=...) if the flow needs longer"
            )
        late = (utcnow() - deadline_at).total_seconds()
        return FlowTimeoutError(
            f"run {self.run_id} of flow {self.flow_name!r} passed its deadline at "
            f"{deadline_at.isoformat()} ({limit}, {rule}) and was resumed {late:.3g}s "
            "after it, so it fails without running further. `legato runs retry "
            f"{self.run_id}` runs it again with a new deadline; raise @flow(timeout=...) "
            "if the flow needs longer"
        )

    def _stopping_with(self, signal: BaseException) -> BaseException:
        """Remember why the flow is being stopped (suspended, paused, released): tasks a
        `finally` block calls on the way out raise it again instead of running, and run
        when the flow is resumed and really ends."""
        self.stopping_for = signal
        return signal

    def _call_body(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not self.unwinding_cancel:  # a cancelled run is replayed up to its cancel
            if self.deadline is not None and time.monotonic() > self.deadline:
                if not self.replay_only:
                    raise self._timed_out(resumed=True)
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
