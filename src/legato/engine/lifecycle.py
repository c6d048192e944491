"""The lifecycle of one execution of a run, as a named state machine.

How the execution began (``Start``) is fixed when it is created; where it is now
(``Phase``) only moves along ``TRANSITIONS``:

    RUNNING ──cancel told──> CANCELLING ──signal──> STOPPING ──body left──> HALTED
       │                         │                                         ^
       └──────── signal ─────────┼──────────> STOPPING                     │
       └──────────────── lease lost, worker stopping, Ctrl-C ──────────────┘

- ``CANCELLING``: the flow was told of a cancel; tasks it calls from ``finally`` or
  ``except Cancelled`` run as cleanup steps, which the cancel does not stop.
- ``STOPPING``: the flow is being stopped by a control signal (suspended, paused,
  released); tasks a ``finally`` block calls on the way out raise it again instead of
  running, and run when the flow is resumed and really ends.
- ``HALTED``: the body was left for good (paused, released, lease lost, interrupted):
  submitted steps still queued do not start.

Also here: the marker event that says a run is unwinding (failure handlers and
compensations), read back by ``unwinding_from`` when a run is resumed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from legato.records import EventRecord


class Start(Enum):
    """How an execution of a run began."""

    FRESH = "fresh"  # started, resumed or retried: the flow runs normally
    # Resumed after it stopped while unwinding: replay completed steps only, so the
    # failure is met again and the unwinding picks up where it stopped.
    REPLAY_UNWIND = "replay-unwind"
    # Claimed to unwind a run cancelled while it waited: replay up to its wait, then
    # stop as cancelled (no deadline, no liveness check before the body).
    UNWIND_CANCEL = "unwind-cancel"


class Phase(Enum):
    RUNNING = "running"
    CANCELLING = "cancelling"
    STOPPING = "stopping"
    HALTED = "halted"


TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.RUNNING: frozenset({Phase.CANCELLING, Phase.STOPPING, Phase.HALTED}),
    Phase.CANCELLING: frozenset({Phase.CANCELLING, Phase.STOPPING, Phase.HALTED}),
    Phase.STOPPING: frozenset({Phase.STOPPING, Phase.HALTED}),
    Phase.HALTED: frozenset({Phase.HALTED}),
}


class Lifecycle:
    """Where one execution is in its lifecycle; changed only through its verbs."""

    __slots__ = ("start", "phase", "signal")

    def __init__(self, start: Start = Start.FRESH) -> None:
        self.start = start
        self.phase = Phase.RUNNING
        self.signal: BaseException | None = None  # set while STOPPING (and after)

    def _move(self, to: Phase) -> None:
        if to not in TRANSITIONS[self.phase]:
            raise AssertionError(f"run lifecycle: no transition {self.phase.value} -> {to.value}")
        self.phase = to

    def cancel_told(self) -> None:
        """The flow was told of a cancel: what it calls from now on is cleanup. Once it
        is stopping or halted, the signal already decides what its calls do."""
        if self.phase in (Phase.RUNNING, Phase.CANCELLING):
            self._move(Phase.CANCELLING)

    def stopping_with(self, signal: BaseException) -> BaseException:
        """The flow is stopped by ``signal``; returns it, to be raised."""
        if self.phase is not Phase.HALTED:
            self._move(Phase.STOPPING)
        self.signal = signal
        return signal

    def halt(self) -> None:
        """The body was left for good: queued steps must not start."""
        self._move(Phase.HALTED)

    @property
    def calls_are_cleanup(self) -> bool:
        """Calls from the flow are cleanup steps (told of a cancel, no signal pending)."""
        return self.phase is Phase.CANCELLING

    @property
    def halted(self) -> bool:
        return self.phase is Phase.HALTED

    @property
    def replay_only(self) -> bool:
        return self.start is Start.REPLAY_UNWIND

    @property
    def unwinding_cancel(self) -> bool:
        return self.start is Start.UNWIND_CANCEL


# The run event that marks failure handling in progress. Stored as the event's message
# (existing stores hold it so); only this module writes or reads it.
_UNWINDING = "unwinding after"


@dataclass(frozen=True, kw_only=True, slots=True)
class UnwindingMarker:
    """The run event recorded before failure handlers and compensations run, so that a
    crash in them resumes the unwinding rather than the flow."""

    cause: str  # the error's summary

    @property
    def message(self) -> str:
        return f"{_UNWINDING} {self.cause}"

    @classmethod
    def parse(cls, message: str | None) -> UnwindingMarker | None:
        if message is None or not message.startswith(_UNWINDING):
            return None
        return cls(cause=message.removeprefix(_UNWINDING).strip())


def unwinding_from(events: Sequence[EventRecord]) -> bool:
    """Whether the run's last run event is the unwinding marker: it stopped while running
    its failure handlers or compensations."""
    for event in reversed(events):
        if event.kind == "run":
            return UnwindingMarker.parse(event.message) is not None
    return False
