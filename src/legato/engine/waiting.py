"""The one wait mechanism: every durable wait, whatever it waits for, goes through here.

A wait is a step (``sleep#0``, ``wait_for_event#1``, ``wait_for_input#0``) whose spec
(``records.WaitSpec``) says what it waits for. ``wait_step`` runs it:

1. replay: a completed wait step returns its recorded outcome;
2. the step is recorded ``waiting`` with its detail (wake time, deadline, question), so
   a replay waits for the same thing, until the same time;
3. ``await_arrival`` looks for what it waits for; a wait due within ``INLINE_WAIT``
   (or any wait of a run started with ``wait=True``) is waited out in this thread;
   otherwise the run is suspended (``Suspended``) and a worker resumes it by replay;
4. the outcome (a frozen ``WaitOutcome``) is recorded with the step and delivered.

A parent waiting for its child run (``ChildWait``) uses the same ``await_arrival`` and
suspension; its step is the child run's step (``engine/children.py``).

Each kind of wait is one ``Waiter``: what it records, where it looks, what it returns.
A new kind (a model's decision that falls back to a person) is one spec in
``records.py`` and one waiter here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from legato.clock import utcnow
from legato.engine.context import NO_DEFAULT
from legato.engine.inputs import as_model
from legato.engine.signals import Suspended
from legato.errors import InputRejected, RunStateError, WaitTimeout
from legato.records import (
    ChildWait,
    EventWait,
    InputWait,
    SentEvent,
    StepRecord,
    TimerWait,
    WaitSpec,
)
from legato.serialization import dumps, loads
from legato.states import RunState, StepState

if TYPE_CHECKING:
    from legato.engine.runner import RunExecution

INLINE_WAIT = 1.0  # seconds: shorter waits are slept through instead of suspending
WAIT_POLL_SECONDS = 0.2  # how often a blocking wait (wait=True) looks for its answer

T = TypeVar("T")
_ABSENT = object()  # a payload entry that is not there matches nothing


# -- outcomes: frozen in code, stored as the JSON objects stores have always held ----------


@dataclass(frozen=True, kw_only=True, slots=True)
class WaitTimedOut:
    """The wait's timeout came first (never confused with a payload of None)."""

    def to_json(self) -> dict[str, Any]:
        return {"timeout": True}


@dataclass(frozen=True, kw_only=True, slots=True)
class EventReceived:
    event_id: int | None
    payload: Any

    def to_json(self) -> dict[str, Any]:
        return {"timeout": False, "event_id": self.event_id, "payload": self.payload}


@dataclass(frozen=True, kw_only=True, slots=True)
class InputReceived:
    decision: str  # "answered" or "rejected" (older records say "approved")
    value: Any  # the accepted input (the schema's JSON form), or the rejection's reason
    by: str | None
    at: str  # ISO time of the answer

    def to_json(self) -> dict[str, Any]:
        return {
            "timeout": False,
            "decision": self.decision,
            "value": self.value,
            "by": self.by,
            "at": self.at,
        }


WaitOutcome = WaitTimedOut | EventReceived | InputReceived


def event_outcome(data: dict[str, Any]) -> EventReceived | WaitTimedOut:
    if data["timeout"]:
        return WaitTimedOut()
    return EventReceived(event_id=data.get("event_id"), payload=data.get("payload"))


def input_outcome(data: dict[str, Any]) -> InputReceived | WaitTimedOut:
    if data["timeout"]:
        return WaitTimedOut()
    return InputReceived(
        decision=data["decision"], value=data["value"], by=data.get("by"), at=data.get("at", "")
    )


# -- waiters: one per kind of wait ---------------------------------------------------------


class Waiter(Generic[T]):
    """How one kind of wait is recorded, looked for and delivered. ``T`` is what
    ``look`` finds when it has arrived."""

    step_name: str

    def __init__(self, ex: RunExecution, default: Any) -> None:
        self.ex = ex
        self.default = default

    def first_detail(self, timeout: float | None) -> Any:
        """What the waiting step records the first time (JSON-able)."""
        deadline = None if timeout is None else utcnow() + timedelta(seconds=timeout)
        return {"deadline": None if deadline is None else deadline.isoformat()}

    def deadline(self, detail: Any) -> datetime | None:
        text = detail.get("deadline")
        return None if text is None else datetime.fromisoformat(text)

    def waiting_message(self, detail: Any) -> str | None:
        return None

    def look(self) -> T | None:
        return None

    def outcome(self, found: T | None) -> WaitOutcome:
        return WaitTimedOut()

    def done_message(self, outcome: WaitOutcome) -> str | None:
        return None

    def result_text(self, waiting: StepRecord, outcome: WaitOutcome) -> str | None:
        """The completed step's result: its outcome, as stored."""
        return dumps(outcome.to_json())

    def recorded(self, result: str | None) -> WaitOutcome:
        """The outcome a completed step recorded."""
        return WaitTimedOut()

    def deliver(self, outcome: WaitOutcome) -> Any:
        return None

    def timed_out(self, what: str) -> Any:
        """``default`` if the wait has one, else ``WaitTimeout``."""
        if self.default is NO_DEFAULT:
            raise WaitTimeout(
                f"run {self.ex.run_id}: no answer to {what!r} came before the wait's timeout; "
                "catch legato.WaitTimeout, or give the wait a default="
            )
        return self.default


class TimerWaiter(Waiter[None]):
    """``sleep#n``: its detail is the wake time; it completes once that time is reached."""

    step_name = "sleep"

    def __init__(self, ex: RunExecution, spec: TimerWait) -> None:
        super().__init__(ex, NO_DEFAULT)
        self.spec = spec

    def first_detail(self, timeout: float | None) -> Any:
        assert self.spec.wake_at is not None
        return self.spec.wake_at.isoformat()

    def deadline(self, detail: Any) -> datetime | None:
        return datetime.fromisoformat(detail)

    def waiting_message(self, detail: Any) -> str | None:
        return f"until {detail}"

    def result_text(self, waiting: StepRecord, outcome: WaitOutcome) -> str | None:
        return waiting.result  # a timer keeps its wake time


class EventWaiter(Waiter[SentEvent]):
    step_name = "wait_for_event"

    def __init__(self, ex: RunExecution, spec: EventWait, default: Any) -> None:
        super().__init__(ex, default)
        self.spec = spec

    def first_detail(self, timeout: float | None) -> Any:
        return {"name": self.spec.name, **super().first_detail(timeout)}

    def waiting_message(self, detail: Any) -> str | None:
        until = f" until {detail['deadline']}" if detail.get("deadline") else ""
        return f"for event {self.spec.name!r}{until}"

    def look(self) -> SentEvent | None:
        return find_event(self.ex, self.spec)

    def outcome(self, found: SentEvent | None) -> WaitOutcome:
        if found is None:
            return WaitTimedOut()
        return EventReceived(event_id=found.id, payload=loads(found.payload))

    def done_message(self, outcome: WaitOutcome) -> str | None:
        if isinstance(outcome, EventReceived):
            return f"event {outcome.event_id}"
        return "timed out"

    def recorded(self, result: str | None) -> WaitOutcome:
        return event_outcome(loads(result or "null"))

    def deliver(self, outcome: WaitOutcome) -> Any:
        if isinstance(outcome, EventReceived):
            return outcome.payload
        return self.timed_out(self.spec.name)


class InputWaiter(Waiter[Any]):
    step_name = "wait_for_input"

    def __init__(self, ex: RunExecution, spec: InputWait, default: Any) -> None:
        super().__init__(ex, default)
        self.spec = spec

    def first_detail(self, timeout: float | None) -> Any:
        return {**(self.spec.question or {}), **super().first_detail(timeout)}

    def waiting_message(self, detail: Any) -> str | None:
        prompt = detail.get("prompt") or "an answer"
        return f"input {self.spec.name!r}: {prompt}"

    def look(self) -> Any:
        return self.ex.store.get_input(self.ex.run_id, self.spec.name)

    def outcome(self, found: Any) -> WaitOutcome:
        if found is None:
            return WaitTimedOut()
        return InputReceived(
            decision=found.decision,
            value=loads(found.payload),
            by=found.answered_by,
            at=found.answered_at.isoformat(),
        )

    def done_message(self, outcome: WaitOutcome) -> str | None:
        said = (
            f"{outcome.decision} by {outcome.by}"
            if isinstance(outcome, InputReceived)
            else "timed out"
        )
        return f"input {self.spec.name!r} {said}"

    def recorded(self, result: str | None) -> WaitOutcome:
        return input_outcome(loads(result or "null"))

    def deliver(self, outcome: WaitOutcome) -> Any:
        name = self.spec.name
        if not isinstance(outcome, InputReceived):
            return self.timed_out(f"input {name!r}")
        if outcome.decision == "rejected":
            raise InputRejected(
                run_id=self.ex.run_id, name=name, reason=outcome.value, by=outcome.by
            )
        return as_model(self.spec.schema, outcome.value)


def waiter_for(ex: RunExecution, spec: WaitSpec, default: Any) -> Waiter[Any]:
    if isinstance(spec, TimerWait):
        return TimerWaiter(ex, spec)
    if isinstance(spec, EventWait):
        return EventWaiter(ex, spec, default)
    if isinstance(spec, InputWait):
        return InputWaiter(ex, spec, default)
    raise TypeError(f"{spec!r} is not waited for as a step of its own (see engine/children.py)")


# -- the mechanism -------------------------------------------------------------------------


def wait_step(ex: RunExecution, spec: WaitSpec, *, timeout: float | None, default: Any) -> Any:
    """Run the wait for ``spec`` as a step; returns what it delivers, or raises
    ``Suspended`` (the run waits), ``WaitTimeout``, ``InputRejected``, ``Cancelled``."""
    waiter = waiter_for(ex, spec, default)
    key, seq = ex.next_key(waiter.step_name)
    prior = ex.replayed(key, seq, waiter.step_name)
    if prior is not None and prior.state is StepState.COMPLETED:
        return waiter.deliver(waiter.recorded(prior.result))
    ex.check_live()
    if prior is not None and prior.state is StepState.WAITING and prior.result:
        detail = loads(prior.result)  # as first recorded: the same deadline on every replay
        waiting = prior
    else:
        detail = waiter.first_detail(timeout)
        waiting = waiting_step(ex, key, seq, waiter.step_name, detail)
        ex.record_step(waiting, message=waiter.waiting_message(detail), wait=True)
    look = None if isinstance(spec, TimerWait) else waiter.look
    found = await_arrival(ex, spec, waiter.deadline(detail), look)
    outcome = waiter.outcome(found)
    done = replace(
        waiting,
        state=StepState.COMPLETED,
        finished_at=utcnow(),
        result=waiter.result_text(waiting, outcome),
    )
    ex.record_step(done, message=waiter.done_message(outcome), wait=True)
    return waiter.deliver(outcome)


def await_arrival(
    ex: RunExecution,
    spec: WaitSpec,
    deadline: datetime | None,
    look: Callable[[], T | None] | None,
    *,
    inline: bool = True,
) -> T | None:
    """What ``look`` finds, or None once ``deadline`` has passed; else raises
    ``Suspended`` for ``spec``. With ``inline``, a deadline due within ``INLINE_WAIT``
    (or any, for a run that blocks on its waits) is waited out in this thread."""
    found = look() if look is not None else None
    reached = False
    if found is None and inline and deadline is not None:
        remaining = (deadline - utcnow()).total_seconds()
        if remaining <= INLINE_WAIT:
            ex.sleep(max(0.0, remaining))
            reached = True
            found = look() if look is not None else None
    if found is None and not reached and inline and blocks_on_waits(ex):
        found = _block_until(ex, look, deadline)
        reached = found is None
    if found is not None:
        return found
    if reached or (deadline is not None and utcnow() >= deadline):
        return None
    arrived = None if look is None else (lambda: look() is not None)
    raise suspend(ex, spec, deadline, arrived)


def suspend(
    ex: RunExecution,
    spec: WaitSpec,
    wake_at: datetime | None,
    arrived: Callable[[], bool] | None,
) -> BaseException:
    """The signal that suspends the run until ``wake_at`` or until ``spec`` arrives."""
    return ex.lifecycle.stopping_with(Suspended(ex.run_id, wake_at, spec, arrived))


def record_suspended(ex: RunExecution, suspended: Suspended) -> BaseException:
    """The flow waits: record the run waiting (giving up any worker lease), so its thread
    is free and a worker resumes it by replay when it is due. Returns what the run's
    handle raises: for a child run the signal itself (its parent's step waits for it),
    else a ``RunStateError`` saying what the run waits for and what to do."""
    what = suspended.spec.describe()
    until = f" until {suspended.wake_at.isoformat()}" if suspended.wake_at else ""
    wake_at = suspended.wake_at
    deadline_at = ex.run.deadline_at
    if deadline_at is not None and (wake_at is None or deadline_at < wake_at):
        wake_at = deadline_at  # woken at its deadline, to fail then rather than wait on
        until += f" (or its deadline, {deadline_at.isoformat()})"
    waiting = replace(
        ex.run,
        state=RunState.WAITING,
        owner=None,
        wake_at=wake_at,
        waiting_for=suspended.spec.waiting_for,
    )
    ex.record_run(waiting, message=f"waiting for {what}{until}")
    if suspended.arrived is not None and suspended.arrived():
        # An event sent while the run was being suspended: due at once.
        ex.record_run(replace(waiting, wake_at=utcnow()), message=f"{what} arrived")
    if ex.parent is not None and ex.run.parent_step_key is not None:
        return suspended
    return RunStateError(_waiting_message(ex, suspended.spec, until))


def _waiting_message(ex: RunExecution, spec: WaitSpec, until: str) -> str:
    """What a direct call that suspended raises: what the run waits for, what to do."""
    what = spec.describe()
    if not isinstance(spec, ChildWait):
        return (
            f"run {ex.run_id} is waiting for {what}{until}; a worker (legato worker) "
            f"resumes it when it is due, or `legato runs resume {ex.run_id}` then"
        )
    return (
        f"run {ex.run_id} is waiting for its {what} to end; a worker (legato "
        f"worker) resumes the child when it is due and then this run, or `legato runs "
        f"resume {spec.run_id}` then `legato runs resume {ex.run_id}`"
    )


def blocks_on_waits(ex: RunExecution) -> bool:
    """Waits are waited out in this thread (``with_options(wait=True)``) instead of
    suspending the run; a run executed by a worker always suspends."""
    root = ex.root
    return bool(root.flow.options.wait) and root.fence is None


def _block_until(
    ex: RunExecution, look: Callable[[], T | None] | None, deadline: datetime | None
) -> T | None:
    """Poll ``look()`` until it finds something or ``deadline`` passes."""
    while True:
        found = look() if look is not None else None
        if found is not None:
            return found
        if deadline is not None and utcnow() >= deadline:
            return None
        left = 0.2 if deadline is None else (deadline - utcnow()).total_seconds()
        ex.sleep(min(WAIT_POLL_SECONDS, max(0.0, left)))


def find_event(ex: RunExecution, spec: EventWait) -> SentEvent | None:
    """The oldest event for this run's wait that no earlier wait of the run took."""
    taken = {
        outcome.event_id
        for step in ex.recorded.values()
        if step.task_name == "wait_for_event" and step.state is StepState.COMPLETED
        for outcome in (event_outcome(loads(step.result or "null")),)
        if isinstance(outcome, EventReceived)
    }
    events: list[SentEvent] = ex.store.events_for(
        spec.name, run_id=ex.run_id, since=ex.run.created_at
    )
    for event in events:
        if event.id in taken or (spec.key is not None and event.key != spec.key):
            continue
        if spec.match and not _matches(loads(event.payload), spec.match):
            continue
        return event
    return None


def _matches(payload: Any, match: dict[str, Any]) -> bool:
    return isinstance(payload, dict) and all(payload.get(k, _ABSENT) == v for k, v in match.items())


def waiting_step(ex: RunExecution, key: str, seq: int, task_name: str, detail: Any) -> StepRecord:
    """A wait step as first recorded: ``detail`` (its wake time, deadline or question)
    is kept in its result, so a replay waits for the same thing."""
    return StepRecord(
        run_id=ex.run_id,
        key=key,
        seq=seq,
        task_name=task_name,
        state=StepState.WAITING,
        attempts=1,
        started_at=utcnow(),
        result=dumps(detail),
    )
