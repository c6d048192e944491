"""The API's request and response bodies (pydantic), and records turned into them.

Stored values (parameters, results, answers) are decoded into plain JSON objects, never
JSON inside a string, and never by importing the code that made them
(``legato.stored_values``). Request bodies refuse fields they do not have.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from legato.records import ErrorInfo, EventRecord, LogRecord, RunRecord, StepRecord, WorkerRecord
from legato.store.run_pages import StepCount
from legato.store.step_counts import StepCounts
from legato.stored_values import decode_stored, plain_json

MAX_TEXT = 10_000  # characters of a reason, note or name in a request
Item = TypeVar("Item")


class Request(BaseModel):
    """A request body: unknown fields refused, no NUL character in its text fields (no
    store can keep one)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain a NUL character")
        return value


# -- errors -----------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable, machine-readable: run_not_found, forbidden, ...")
    message: str = Field(description="What went wrong, naming the run, field or option.")
    hint: str | None = Field(description="What to do about it.")


class ErrorBody(BaseModel):
    error: ErrorDetail


# -- runs -------------------------------------------------------------------------------


class ErrorOut(BaseModel):
    type: str
    message: str
    traceback: str | None = None


class RunSummary(BaseModel):
    run_id: str
    flow: str
    state: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    tags: list[str]
    queue: str
    priority: int
    parent_run_id: str | None
    target: str | None
    deployment: str | None = Field(
        default=None, description="The deployment that started the run, if one did."
    )


class RunListItem(RunSummary):
    steps_done: int = Field(description="Steps completed or skipped.")
    steps_failed: int = Field(description="Steps that failed.")
    steps_total: int = Field(description="Steps recorded so far (later ones are not known).")


class StepOut(BaseModel):
    key: str
    seq: int
    task: str
    state: str
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    result: Any = None
    error: ErrorOut | None
    child_run_id: str | None
    cached: bool


class EventOut(BaseModel):
    id: int | None
    at: datetime
    kind: str
    state: str
    step_key: str | None
    attempt: int | None
    message: str | None
    by: str | None = Field(description="Who did it: a token's name, a user@host, a worker.")


class TaskCounts(BaseModel):
    task: str
    total: int = Field(description="Steps of this task in the run.")
    states: dict[str, int] = Field(description="How many of them are in each state.")


class RunDetail(RunSummary):
    params: Any = None
    result: Any = None
    error: ErrorOut | None
    idempotency_key: str | None
    waiting_for: str | None
    steps: list[StepOut] = Field(description="One page of the steps, in program order.")
    steps_total: int = Field(description="Steps the run has in all.")
    step_counts: list[TaskCounts] = Field(
        description="Every step summarised: per task, in order of its first step."
    )
    next_steps_cursor: str | None = Field(
        description="Pass as ?steps_cursor= for the next page of steps."
    )
    children: list[RunSummary]
    history: list[EventOut] = Field(description="One page of the history, oldest first.")
    history_total: int = Field(description="Events the run's history has in all.")
    next_history_cursor: str | None = Field(
        description="Pass as ?history_cursor= for the next page of the history."
    )


class RunPage(BaseModel):
    runs: list[RunListItem]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next (older) page.")


class LogOut(BaseModel):
    at: datetime
    level: str
    step_key: str | None
    message: str


class LogsOut(BaseModel):
    logs: list[LogOut]


class StartRun(Request):
    """A run of a flow (``target``) or of a deployment (``deployment``): one of the two."""

    target: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="package.module:flow, importable by the server",
    )
    deployment: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="A deployment's name: its flow, with overriding its parameters with params.",
    )
    params: dict[str, Any] = Field(default_factory=dict, description="The flow's arguments.")
    queue: str | None = Field(default=None, min_length=1, max_length=200)
    priority: int | None = Field(default=None, ge=-1_000_000, le=1_000_000)

    @model_validator(mode="after")
    def _one_of_target_and_deployment(self) -> StartRun:
        if (self.target is None) == (self.deployment is None):
            raise ValueError("give target (package.module:flow) or deployment (a name), one")
        return self


class Started(BaseModel):
    run_id: str
    created: bool = Field(description="False when the Idempotency-Key named an existing run.")


class Reason(Request):
    reason: str | None = Field(default=None, max_length=MAX_TEXT)


class Retry(Request):
    from_step: str | None = Field(default=None, max_length=MAX_TEXT)


class RunStateOut(BaseModel):
    run_id: str
    state: str


# -- inputs -----------------------------------------------------------------------------


class Approve(Request):
    input: Any = Field(default=None, description="The answer, checked against its schema.")
    note: str | None = Field(default=None, max_length=MAX_TEXT)


class Reject(Request):
    reason: str = Field(min_length=1, max_length=MAX_TEXT)


class Answered(BaseModel):
    run_id: str
    name: str
    decision: str
    answered_by: str | None
    answered_at: datetime
    value: Any = Field(default=None, description="The recorded answer, or the reason.")


class InputOut(BaseModel):
    run_id: str
    step: str
    name: str
    prompt: str | None
    json_schema: dict[str, Any] | None = Field(alias="schema", serialization_alias="schema")
    roles: list[str]
    waiting_since: datetime | None

    model_config = ConfigDict(populate_by_name=True)


class InputsOut(BaseModel):
    inputs: list[InputOut]


# -- events and workers -----------------------------------------------------------------


class SendEvent(Request):
    name: str = Field(min_length=1, max_length=500)
    data: Any = None
    key: str | None = Field(default=None, max_length=MAX_TEXT)
    run_id: str | None = Field(default=None, max_length=200, description="For this run only.")


class EventSent(BaseModel):
    event_id: int
    name: str


class WorkerOut(BaseModel):
    worker_id: str
    host: str
    pid: int
    queues: list[str]
    concurrency: int
    started_at: datetime
    heartbeat_at: datetime
    running: list[str]


class WorkersOut(BaseModel):
    workers: list[WorkerOut]


class Health(BaseModel):
    status: str
    store: str


# -- deployments ------------------------------------------------------------------------


class TriggerOut(BaseModel):
    kind: str = Field(description="cron, interval, event, after, webhook, file or stream.")
    description: str = Field(description="For people: cron '0 9 * * 1-5' (Europe/Paris).")
    config: dict[str, Any] = Field(description="The trigger as stored; passwords hidden.")


class FireOut(BaseModel):
    key: str = Field(description="Unique per fire: cron:<time>, event:<id>, webhook:<key>...")
    kind: str
    fired_at: datetime
    run_id: str | None


class DeploymentOut(BaseModel):
    name: str
    flow: str
    target: str
    params: Any = Field(default=None, description="Default parameters of every run.")
    queue: str
    priority: int
    triggers: list[TriggerOut]
    overlap: str
    catchup: str
    catchup_limit: int
    paused: bool
    created_at: datetime
    updated_at: datetime
    next_fire_at: datetime | None = Field(description="The next schedule time; none if paused.")
    last_fire: FireOut | None


class DeploymentDetail(DeploymentOut):
    next_fires: list[datetime] = Field(description="The next schedule times (up to 5).")
    fires: list[FireOut] = Field(description="The latest fires, newest first.")


class DeploymentsOut(BaseModel):
    deployments: list[DeploymentOut]


class DeploymentStateOut(BaseModel):
    name: str
    paused: bool


class HookFired(BaseModel):
    run_id: str


class RunDeployment(Request):
    params: dict[str, Any] = Field(
        default_factory=dict, description="Override the deployment's parameters."
    )


# -- records into bodies ----------------------------------------------------------------


def stored(text: str | None, serializer: str) -> Any:
    """A stored value as plain JSON data, decoded without importing its classes."""
    return plain_json(decode_stored(text, serializer))


def seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def error_out(error: ErrorInfo | None) -> ErrorOut | None:
    if error is None:
        return None
    return ErrorOut(type=error.type, message=error.message, traceback=error.traceback or None)


DEPLOYMENT_TAG = "deployment:"  # legato.scheduler.deployments.deployment_tag's prefix


def deployment_of(run: RunRecord) -> str | None:
    """The deployment named by the run's ``deployment:NAME`` tag, if it has one."""
    for tag in run.tags:
        if tag.startswith(DEPLOYMENT_TAG):
            return tag.removeprefix(DEPLOYMENT_TAG)
    return None


def run_summary(run: RunRecord) -> RunSummary:
    return RunSummary(
        run_id=run.run_id,
        flow=run.flow_name,
        state=run.state.value,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_seconds=seconds(run.started_at, run.finished_at),
        tags=list(run.tags),
        queue=run.queue,
        priority=run.priority,
        parent_run_id=run.parent_run_id,
        target=run.target,
        deployment=deployment_of(run),
    )


def run_list_item(run: RunRecord, counts: StepCounts | None) -> RunListItem:
    """The run as a row of the runs list, with its step counts (None: no steps yet)."""
    counts = counts or StepCounts()
    return RunListItem(
        **run_summary(run).model_dump(),
        steps_done=counts.done,
        steps_failed=counts.failed,
        steps_total=counts.total,
    )


def step_out(step: StepRecord) -> StepOut:
    return StepOut(
        key=step.key,
        seq=step.seq,
        task=step.task_name,
        state=step.state.value,
        attempts=step.attempts,
        started_at=step.started_at,
        finished_at=step.finished_at,
        duration_seconds=seconds(step.started_at, step.finished_at),
        result=stored(step.result, step.serializer),
        error=error_out(step.error),
        child_run_id=step.child_run_id,
        cached=step.cached,
    )


def event_out(event: EventRecord) -> EventOut:
    return EventOut(
        id=event.id,
        at=event.at,
        kind=event.kind,
        state=event.state,
        step_key=event.step_key,
        attempt=event.attempt,
        message=event.message,
        by=event.by,
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class Page(Generic[Item]):
    """A page of a run's steps or history, how many there are in all, and where the
    next page starts (``None`` after the last)."""

    items: Sequence[Item]
    total: int
    next_cursor: str | None


def task_counts(counts: Sequence[StepCount]) -> list[TaskCounts]:
    """Step counts per task and state folded per task, tasks in order of their first
    step."""
    by_task: dict[str, dict[str, int]] = {}
    for count in sorted(counts, key=lambda c: c.first_seq):
        by_task.setdefault(count.task_name, {})[count.state.value] = count.count
    return [
        TaskCounts(task=task, total=sum(states.values()), states=states)
        for task, states in by_task.items()
    ]


def run_detail(
    run: RunRecord,
    *,
    steps: Page[StepRecord],
    step_counts: list[TaskCounts],
    children: list[RunRecord],
    history: Page[EventRecord],
) -> RunDetail:
    return RunDetail(
        **run_summary(run).model_dump(),
        params=stored(run.params, "json"),
        result=stored(run.result, run.serializer),
        error=error_out(run.error),
        idempotency_key=run.idempotency_key,
        waiting_for=run.waiting_for,
        steps=[step_out(step) for step in steps.items],
        steps_total=steps.total,
        step_counts=step_counts,
        next_steps_cursor=steps.next_cursor,
        children=[run_summary(child) for child in children],
        history=[event_out(event) for event in history.items],
        history_total=history.total,
        next_history_cursor=history.next_cursor,
    )


def log_out(log: LogRecord) -> LogOut:
    return LogOut(at=log.at, level=log.level, step_key=log.step_key, message=log.message)


def worker_out(worker: WorkerRecord) -> WorkerOut:
    return WorkerOut(
        worker_id=worker.worker_id,
        host=worker.host,
        pid=worker.pid,
        queues=list(worker.queues),
        concurrency=worker.concurrency,
        started_at=worker.started_at,
        heartbeat_at=worker.heartbeat_at,
        running=list(worker.running),
    )


# -- graph and caller -------------------------------------------------------------------


class GraphNodeOut(BaseModel):
    id: str
    label: str
    task: str
    state: str
    counts: dict[str, int]
    keys: list[str]
    child_run_id: str | None
    attempts: int
    x: int
    y: int


class GraphOut(BaseModel):
    layers: list[list[GraphNodeOut]]
    width: int
    height: int


def graph_out(graph: Any) -> GraphOut:
    """``legato.run_graph.RunGraph`` as its response body."""
    return GraphOut(
        layers=[
            [
                GraphNodeOut(
                    id=n.id,
                    label=n.label,
                    task=n.task,
                    state=n.state,
                    counts=n.counts,
                    keys=list(n.keys),
                    child_run_id=n.child_run_id,
                    attempts=n.attempts,
                    x=n.x,
                    y=n.y,
                )
                for n in layer
            ]
            for layer in graph.layers
        ],
        width=graph.width,
        height=graph.height,
    )


class MeOut(BaseModel):
    name: str
    role: str
    permissions: list[str]
