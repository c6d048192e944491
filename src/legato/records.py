"""The rows legato persists. Frozen; change one with ``dataclasses.replace``.

Payloads (parameters, results) are already-serialized text: the store never interprets
them. Times are aware UTC datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from legato.states import RunState, StepState


@dataclass(frozen=True, kw_only=True, slots=True)
class ErrorInfo:
    """A failure as stored: exception type (``module.Qualname``), message, traceback."""

    type: str
    message: str
    traceback: str = ""

    def summary(self) -> str:
        return f"{self.type.rsplit('.', 1)[-1]}: {self.message}"


@dataclass(frozen=True, kw_only=True, slots=True)
class RunRecord:
    run_id: str
    flow_name: str
    state: RunState
    created_at: datetime
    target: str | None = None  # "pkg.module:flow" or "path/to/file.py:flow", to resume it
    flow_version: str | None = None
    params: str = "{}"  # serialized keyword arguments
    result: str | None = None
    serializer: str = "json"
    error: ErrorInfo | None = None
    parent_run_id: str | None = None
    parent_step_key: str | None = None
    owner: str | None = None  # "host:pid" of the process executing it, while it runs
    started_at: datetime | None = None
    finished_at: datetime | None = None
    tags: tuple[str, ...] = ()
    queue: str = "default"
    priority: int = 0  # higher runs first
    idempotency_key: str | None = None
    lease_epoch: int = 0  # incremented by every claim; fences the claimer's writes
    lease_expires_at: datetime | None = None  # set while a worker holds the run
    wake_at: datetime | None = None  # a waiting run is runnable again from this time
    # What a waiting run expects, as stored: ``parse_wait`` reads it, ``WaitSpec`` writes it.
    waiting_for: str | None = None
    deadline_at: datetime | None = None  # the flow's timeout, counted from the run's start
    # Times a worker took the run over after its lease expired (its worker died or lost
    # it); only claims change it, an operator's resume or retry resets it.
    recoveries: int = 0

    @property
    def wakes_parent(self) -> bool:
        """The run is a child run that has ended: its parent, if it waits for it, is
        due now (``Store.record`` makes it so in the same transaction)."""
        return (
            self.parent_run_id is not None and self.state.is_final and self.finished_at is not None
        )


# -- what a waiting run waits for ----------------------------------------------------------
#
# ``RunRecord.waiting_for`` keeps it as text, in the format stores have always held: None
# for a timer, the event's name, "input:NAME", or "child:RUN_ID". ``parse_wait`` and
# ``WaitSpec.waiting_for`` are the one boundary between that text and the typed specs;
# nothing else looks at prefixes.

INPUT_PREFIX = "input:"
CHILD_PREFIX = "child:"


@dataclass(frozen=True, kw_only=True, slots=True)
class TimerWait:
    """``sleep``/``sleep_until``: due at ``wake_at`` (None when only its kind is known)."""

    wake_at: datetime | None = None

    @property
    def waiting_for(self) -> str | None:
        return None

    def describe(self) -> str:
        return "its timer"


@dataclass(frozen=True, kw_only=True, slots=True)
class EventWait:
    """``wait_for_event(name, match=..., key=...)``; only ``name`` is stored with the run."""

    name: str
    match: dict[str, Any] | None = None
    key: str | None = None

    @property
    def waiting_for(self) -> str:
        return self.name

    def describe(self) -> str:
        return f"event {self.name!r}"


@dataclass(frozen=True, kw_only=True, slots=True)
class InputWait:
    """``wait_for_input(name, ...)``: a person's answer to the question ``name``;
    only ``name`` is stored with the run (the question is recorded with its step)."""

    name: str
    question: dict[str, Any] | None = None  # prompt, JSON schema, model path, roles
    schema: Any = None  # the pydantic model the answer is rebuilt as

    @property
    def waiting_for(self) -> str:
        return INPUT_PREFIX + self.name

    def describe(self) -> str:
        return f"input {self.name!r}"


@dataclass(frozen=True, kw_only=True, slots=True)
class ChildWait:
    """A parent waits for its child run ``run_id`` to end (the child itself waits for a
    timer, an event or an input of its own)."""

    run_id: str

    @property
    def waiting_for(self) -> str:
        return CHILD_PREFIX + self.run_id

    def describe(self) -> str:
        return f"child run {self.run_id}"


# A new kind of wait (a model's decision that falls back to a person, ...) is one more
# spec here, with its own stored prefix, and one more waiter in ``engine/waiting.py``.
WaitSpec = TimerWait | EventWait | InputWait | ChildWait


def parse_wait(waiting_for: str | None) -> WaitSpec:
    """The typed spec of a stored ``waiting_for``: never raises; text without a known
    prefix is an event name (as it always was)."""
    if waiting_for is None:
        return TimerWait()
    if waiting_for.startswith(INPUT_PREFIX):
        return InputWait(name=waiting_for.removeprefix(INPUT_PREFIX))
    if waiting_for.startswith(CHILD_PREFIX):
        return ChildWait(run_id=waiting_for.removeprefix(CHILD_PREFIX))
    return EventWait(name=waiting_for)


def waits_for_child(child_run_id: str) -> str:
    """The ``waiting_for`` of a parent run that waits for its child ``child_run_id`` to
    end (the child waits for a timer, an event or an input of its own)."""
    return ChildWait(run_id=child_run_id).waiting_for


@dataclass(frozen=True, kw_only=True, slots=True)
class Fence:
    """Writes for ``run_id`` are accepted only while its lease epoch is still ``epoch``."""

    run_id: str
    epoch: int


@dataclass(frozen=True, kw_only=True, slots=True)
class SentEvent:
    """An event sent to flows (``legato events send``); kept so that none is lost."""

    name: str
    payload: str  # JSON text
    sent_at: datetime
    key: str | None = None
    run_id: str | None = None  # for one run only, else for any run waiting on ``name``
    by: str | None = None
    id: int | None = None  # assigned by the store


@dataclass(frozen=True, kw_only=True, slots=True)
class InputAnswer:
    """A person's answer to ``wait_for_input``: the first one for a run and name wins."""

    run_id: str
    name: str
    decision: str  # "answered" or "rejected" (older records say "approved" for answered)
    payload: str  # JSON: the accepted input, or the rejection's reason
    answered_at: datetime
    answered_by: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class WorkerRecord:
    worker_id: str
    host: str
    pid: int
    queues: tuple[str, ...]
    concurrency: int
    started_at: datetime
    heartbeat_at: datetime
    running: tuple[str, ...] = ()  # run ids it executes now


@dataclass(frozen=True, kw_only=True, slots=True)
class StepRecord:
    run_id: str
    key: str  # "{task}#{n}"
    seq: int  # position among the run's steps, in program order
    task_name: str
    state: StepState
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: str | None = None
    serializer: str = "json"
    error: ErrorInfo | None = None
    child_run_id: str | None = None
    cached: bool = False
    retries_used: int = 0  # retries made of the task's budget (retries=N), crash or not
    retry_at: datetime | None = None  # a retrying step's next attempt starts no earlier


@dataclass(frozen=True, kw_only=True, slots=True)
class EventRecord:
    """One state transition, appended to the run's history and never changed."""

    run_id: str
    at: datetime
    kind: str  # "run" or "step"
    state: str
    step_key: str | None = None
    attempt: int | None = None
    message: str | None = None
    by: str | None = None
    id: int | None = None  # assigned by the store


@dataclass(frozen=True, kw_only=True, slots=True)
class LogRecord:
    run_id: str
    at: datetime
    level: str
    message: str
    step_key: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class CacheRecord:
    cache_key: str
    task_name: str
    result: str
    serializer: str
    created_at: datetime
    expires_at: datetime | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class RunFilter:
    state: RunState | None = None
    flow_name: str | None = None
    parent_run_id: str | None = None
    limit: int = 50
    roots_only: bool = False
    states: tuple[RunState, ...] = field(default=())


# What ``Store.record`` accepts in one atomic batch.
Change = RunRecord | StepRecord | EventRecord | LogRecord | CacheRecord


@dataclass(frozen=True, kw_only=True, slots=True)
class FireRecord:
    """One firing of a deployment's trigger. ``key`` is unique in the store, and a fire
    is recorded in the same transaction as the run it starts, so nothing fires twice."""

    deployment: str
    # Unique per fire, chosen by its trigger: "cron:<UTC ISO time>", "event:<event id>",
    # "file:<path>:<size>:<mtime_ns>", "redis:<stream>:<entry id>", "webhook:<key>", ...
    key: str
    kind: str  # cron | interval | event | file | webhook | stream | after | manual | backfill
    fired_at: datetime  # the fire's scheduled time, or when its cause was observed
    payload: str = "{}"  # JSON: the event's data, the webhook body, the file's facts, ...
    run_id: str | None = None  # the run it started (set when recorded)


@dataclass(frozen=True, kw_only=True, slots=True)
class DeploymentRecord:
    """A flow bound to its triggers and default parameters, created or updated by name.

    ``triggers`` is the JSON list of trigger definitions (``legato.scheduler.triggers``);
    ``scheduled_until`` is how far the scheduler has evaluated its schedules (a cron or
    interval fire time at or before it has been fired or deliberately skipped)."""

    name: str
    flow_name: str
    target: str  # "pkg.module:flow" or "path/to/file.py:flow"
    created_at: datetime
    updated_at: datetime
    params: str = "{}"  # JSON: default keyword arguments of every run it starts
    queue: str = "default"
    priority: int = 0
    triggers: str = "[]"
    overlap: str = "allow"  # allow | skip | queue | cancel
    catchup: str = "skip"  # skip | one | all
    catchup_limit: int = 100
    paused: bool = False
    scheduled_until: datetime | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class SchedulerLease:
    """The one row that elects the active scheduler; ``event_cursor`` is the id of the
    last sent event it has matched against event triggers."""

    holder: str
    expires_at: datetime
    event_cursor: int = 0
