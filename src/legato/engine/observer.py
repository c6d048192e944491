"""Typed events of runs and steps, and the one hook that delivers them.

Whatever watches runs executing in this process (the live CLI view, metrics, traces, a
UI's live updates) subclasses ``Observer``, overrides the methods it cares about and
``subscribe``s it::

    class Timings(Observer):
        def on_step_finished(self, event: StepFinished) -> None:
            print(event.step_key, event.state, event.error)

    with subscribe(Timings()):
        my_flow()

Subscriptions are process-wide and thread-safe. Events arrive on the engine's threads
(the flow's, a step's, or the recorder's background flush), in the order the
transitions were committed; an observer must be quick and must not wait for another
run's thread. It may call legato, even run a flow (the events of that flow's records
are then delivered right after the observer returns). An observer that raises is
logged (logger ``legato.observer``) and the run goes on.

When each event fires:

- ``RunStarted``: when this process begins executing a run (new, resumed, retried,
  claimed by a worker, or taken up to unwind a cancel), after its state is durable.
- ``StepSubmitted``: when the flow submits a step (``task.submit``, ``task.map``),
  before anything about it is recorded; it may never start if the run stops.
- Every other event fires once the transition it reports is committed to the store
  (``engine.recorder``), before the engine goes on from that transition when it waited
  for the commit (a step's completion in the flow's thread, every run transition); a
  transition whose commit failed, or whose run lost its lease, fires nothing. A step's
  start and a submitted step's completion are committed with the next commit or the
  background flush (within about 50 ms).

Events are frozen keyword-only dataclasses: new fields and new events break no
observer. ``message`` is the human-readable note of the run's history (the same text
``legato runs show`` prints); never parse it, use the typed fields.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, ClassVar

from legato.clock import utcnow
from legato.records import ErrorInfo, EventRecord, RunRecord, StepRecord
from legato.states import RunState, StepState

logger = logging.getLogger("legato.observer")

# -- the events ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class RunEvent:
    """What every run event carries. ``by``: who made the change (an operator), if
    known. ``parent_run_id``/``parent_step_key``: set for a child run."""

    hook: ClassVar[str] = ""
    run_id: str
    flow_name: str
    state: RunState
    at: datetime
    message: str | None = None
    by: str | None = None
    parent_run_id: str | None = None
    parent_step_key: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class RunStarted(RunEvent):
    """This process began executing the run. ``resumed``: it had recorded steps to
    replay (a resume, a retry, a worker taking it over)."""

    hook: ClassVar[str] = "on_run_started"
    resumed: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class RunUpdated(RunEvent):
    """The run's record changed without a new state of its own: a resume noted, its
    deadline fixed, a flow attempt retried by replay, failure handling begun, or what a
    waiting run waits for arrived while it was being suspended."""

    hook: ClassVar[str] = "on_run_updated"


@dataclass(frozen=True, kw_only=True, slots=True)
class RunWaiting(RunEvent):
    """The run is suspended on a durable wait. ``waiting_for``: an event name,
    ``input:NAME`` or a child run (as the run record says); ``wake_at``: when it is due
    at the latest (its timer, its wait's timeout, or its deadline)."""

    hook: ClassVar[str] = "on_run_waiting"
    waiting_for: str | None = None
    wake_at: datetime | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class RunPaused(RunEvent):
    """The run stopped at a step boundary, paused (by an operator or Ctrl-C)."""

    hook: ClassVar[str] = "on_run_paused"


@dataclass(frozen=True, kw_only=True, slots=True)
class RunFinished(RunEvent):
    """The run ended: ``state`` is completed, failed or cancelled; ``error`` says why
    it failed or was cancelled."""

    hook: ClassVar[str] = "on_run_finished"
    error: ErrorInfo | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class StepEvent:
    """What every step event carries. ``attempt`` counts from 1 across executions (0
    for a step that never ran); ``child_run_id``: the run a child-flow step executes."""

    hook: ClassVar[str] = ""
    run_id: str
    flow_name: str
    step_key: str
    task_name: str
    state: StepState
    at: datetime
    attempt: int = 0
    message: str | None = None
    by: str | None = None
    child_run_id: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class StepSubmitted(StepEvent):
    """The flow submitted the step (it waits for its inputs or a free thread)."""

    hook: ClassVar[str] = "on_step_submitted"


@dataclass(frozen=True, kw_only=True, slots=True)
class StepStarted(StepEvent):
    """An attempt of the step began (a child-flow step: its child run starts)."""

    hook: ClassVar[str] = "on_step_started"


@dataclass(frozen=True, kw_only=True, slots=True)
class StepRetrying(StepEvent):
    """An attempt failed and another follows at ``retry_at``; ``error``: the failure."""

    hook: ClassVar[str] = "on_step_retrying"
    error: ErrorInfo | None = None
    retry_at: datetime | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class StepWaiting(StepEvent):
    """A wait step (timer, event, input, child run) began or went on waiting."""

    hook: ClassVar[str] = "on_step_waiting"


@dataclass(frozen=True, kw_only=True, slots=True)
class StepFinished(StepEvent):
    """The step ended: ``state`` is completed, failed, skipped or cancelled. ``cached``:
    its result came from the cache; ``error``: why it failed."""

    hook: ClassVar[str] = "on_step_finished"
    error: ErrorInfo | None = None
    cached: bool = False


Event = RunEvent | StepEvent

# -- the hook --------------------------------------------------------------------------


class Observer:
    """Receives the events of runs executing in this process; every method does
    nothing unless overridden, so a new event breaks no subclass."""

    def on_run_started(self, event: RunStarted) -> None:
        """See ``RunStarted``."""

    def on_run_updated(self, event: RunUpdated) -> None:
        """See ``RunUpdated``."""

    def on_run_waiting(self, event: RunWaiting) -> None:
        """See ``RunWaiting``."""

    def on_run_paused(self, event: RunPaused) -> None:
        """See ``RunPaused``."""

    def on_run_finished(self, event: RunFinished) -> None:
        """See ``RunFinished``."""

    def on_step_submitted(self, event: StepSubmitted) -> None:
        """See ``StepSubmitted``."""

    def on_step_started(self, event: StepStarted) -> None:
        """See ``StepStarted``."""

    def on_step_retrying(self, event: StepRetrying) -> None:
        """See ``StepRetrying``."""

    def on_step_waiting(self, event: StepWaiting) -> None:
        """See ``StepWaiting``."""

    def on_step_finished(self, event: StepFinished) -> None:
        """See ``StepFinished``."""


_observers: tuple[Observer, ...] = ()  # replaced whole, so publishing takes no lock
_observers_lock = threading.Lock()


class Subscription:
    """The handle ``subscribe`` returns: ``unsubscribe()`` (or leaving a ``with``
    block) stops the deliveries. Unsubscribing twice is harmless."""

    def __init__(self, observer: Observer) -> None:
        self.observer = observer

    def unsubscribe(self) -> None:
        """Stop delivering to the observer; events being delivered right now on other
        threads may still reach it."""
        global _observers
        with _observers_lock:
            _observers = tuple(o for o in _observers if o is not self.observer)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.unsubscribe()


def subscribe(observer: Observer) -> Subscription:
    """Deliver the events of every run executing in this process to ``observer`` until
    the returned subscription is unsubscribed. Subscribing the same observer twice
    delivers each event to it once."""
    global _observers
    with _observers_lock:
        if not any(o is observer for o in _observers):
            _observers = (*_observers, observer)
    return Subscription(observer)


def observing() -> bool:
    """Whether anyone is subscribed: the engine builds no event otherwise."""
    return bool(_observers)


def publish(events: Sequence[Event]) -> None:
    """Deliver ``events`` in order to every observer; one that raises is logged."""
    for observer in _observers:
        for event in events:
            method: Callable[[Event], None] | None = getattr(observer, event.hook, None)
            if method is None:
                continue
            try:
                method(event)
            except Exception:  # noqa: BLE001 - an observer's bug must never fail a run
                logger.exception(
                    "observer %r failed on %s of run %s; the run goes on",
                    observer,
                    type(event).__name__,
                    event.run_id,
                )


# -- from records to events ------------------------------------------------------------


def run_started(run: RunRecord, *, resumed: bool) -> RunStarted:
    return RunStarted(
        run_id=run.run_id,
        flow_name=run.flow_name,
        state=run.state,
        at=run.started_at or run.created_at,
        parent_run_id=run.parent_run_id,
        parent_step_key=run.parent_step_key,
        resumed=resumed,
    )


def run_event(run: RunRecord, event: EventRecord, *, previous: RunState) -> RunEvent:
    """The typed event of a run record written with its history ``event``; ``previous``
    is the run's state before (a run that stays waiting is updated, not waiting anew)."""
    state = run.state
    common: dict[str, Any] = {
        "run_id": run.run_id,
        "flow_name": run.flow_name,
        "state": state,
        "at": event.at,
        "message": event.message,
        "by": event.by,
        "parent_run_id": run.parent_run_id,
        "parent_step_key": run.parent_step_key,
    }
    if state.is_final:
        return RunFinished(**common, error=run.error)
    if state is RunState.PAUSED and previous is not RunState.PAUSED:
        return RunPaused(**common)
    if state is RunState.WAITING and previous is not RunState.WAITING:
        return RunWaiting(**common, waiting_for=run.waiting_for, wake_at=run.wake_at)
    return RunUpdated(**common)


_STEP_EVENTS: dict[StepState, type[StepEvent]] = {
    StepState.PENDING: StepSubmitted,
    StepState.RUNNING: StepStarted,
    StepState.WAITING: StepWaiting,
}


def step_event(step: StepRecord, event: EventRecord, *, flow_name: str) -> StepEvent:
    """The typed event of a step record written with its history ``event``."""
    kind = _STEP_EVENTS.get(step.state)
    common: dict[str, Any] = {
        "run_id": step.run_id,
        "flow_name": flow_name,
        "step_key": step.key,
        "task_name": step.task_name,
        "state": step.state,
        "at": event.at,
        "attempt": step.attempts,
        "message": event.message,
        "by": event.by,
        "child_run_id": step.child_run_id,
    }
    if step.state is StepState.RETRYING:
        return StepRetrying(**common, error=step.error, retry_at=step.retry_at)
    if kind is None:  # a final state
        return StepFinished(**common, error=step.error, cached=step.cached)
    return kind(**common)


def announce_started(run: RunRecord, *, resumed: bool) -> None:
    """Deliver ``RunStarted`` now (if anyone observes)."""
    if _observers:
        publish((run_started(run, resumed=resumed),))


def announce_submitted(run: RunRecord, *, step_key: str, task_name: str) -> None:
    """Deliver ``StepSubmitted`` now (if anyone observes): nothing is recorded for it."""
    if _observers:
        submitted = StepSubmitted(
            run_id=run.run_id,
            flow_name=run.flow_name,
            step_key=step_key,
            task_name=task_name,
            state=StepState.PENDING,
            at=utcnow(),
        )
        publish((submitted,))
