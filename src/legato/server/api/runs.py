"""``/api/v1/runs``: list, show, logs (also followed live), start, and operator actions."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from legato.errors import RunNotFoundError
from legato.records import RunFilter, RunRecord
from legato.scheduler.deployments import deployment_tag
from legato.server import actions
from legato.server.api.deployments import get_deployment
from legato.server.api.deps import (
    ERRORS,
    RUN_CONFLICT,
    RUN_NOT_FOUND,
    Operator,
    Reader,
    ServerStore,
    Store,
    documented,
)
from legato.server.errors import ApiError
from legato.server.schemas import (
    LogsOut,
    Page,
    Reason,
    Retry,
    RunDetail,
    RunPage,
    RunStateOut,
    Started,
    StartRun,
    log_out,
    run_detail,
    run_list_item,
    task_counts,
)
from legato.states import RunState
from legato.store.rows import from_micros, micros
from legato.store.run_search import RunPosition, RunQuery

router = APIRouter(prefix="/runs", tags=["runs"], responses=ERRORS)

MAX_PAGE = 500
MAX_CHILDREN = 1000  # child runs listed with a run
MAX_ID = 200  # characters of a run id; longer ones name no run
STEPS_PAGE = 100  # steps (and history events) shown with a run unless asked otherwise
MAX_STEPS_PAGE = 1000
Item = TypeVar("Item")


@router.get("", response_model=RunPage)
def list_runs(
    store: Store,
    _: Reader,
    flow: Annotated[str | None, Query(max_length=500, description="Runs of this flow.")] = None,
    state: Annotated[
        list[RunState] | None, Query(description="In any of these states (repeatable).")
    ] = None,
    tag: Annotated[str | None, Query(max_length=500, description="Carrying this tag.")] = None,
    deployment: Annotated[
        str | None, Query(max_length=200, description="Started by this deployment.")
    ] = None,
    since: Annotated[datetime | None, Query(description="Created at or after (ISO 8601).")] = None,
    until: Annotated[datetime | None, Query(description="Created at or before (ISO 8601).")] = None,
    q: Annotated[
        str | None, Query(max_length=500, description="Text in run id, flow or parameters.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> RunPage:
    """Runs, newest first, a page at a time: pass ``next_cursor`` back as ``cursor``.
    Each with its steps done (completed or skipped), failed and total so far."""
    query = RunQuery(
        flow_name=plain_text(flow, "flow"),
        states=tuple(state or ()),
        tag=plain_text(tag, "tag"),
        tags=_deployment_tags(plain_text(deployment, "deployment")),
        since=_aware(since, "since"),
        until=_aware(until, "until"),
        text=plain_text(q, "q") or None,
        after=None if cursor is None else decode_cursor(cursor),
        limit=limit + 1,
    )
    found = store.search_runs(query)
    page = found[:limit]
    more = len(found) > limit
    counts = store.step_counts([run.run_id for run in page])  # one read for the page
    return RunPage(
        runs=[run_list_item(run, counts.get(run.run_id)) for run in page],
        next_cursor=encode_cursor(page[-1]) if more else None,
    )


def _deployment_tags(deployment: str | None) -> tuple[str, ...]:
    return () if deployment is None else (deployment_tag(deployment),)


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.utcoffset() is None:
        raise ApiError(
            422,
            "invalid_request",
            f"query.{name}: {value.isoformat()} has no time zone",
            "Give a UTC offset, e.g. 2026-05-01T00:00:00Z.",
        )
    return value


def encode_cursor(run: RunRecord) -> str:
    text = json.dumps([micros(run.created_at), run.run_id])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> RunPosition:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, run_id = json.loads(raw)
        created_at = from_micros(int(at))
        if created_at is None or not isinstance(run_id, str):
            raise ValueError(cursor)
        return RunPosition(created_at=created_at, run_id=run_id)
    except (binascii.Error, ValueError, TypeError, OverflowError, UnicodeDecodeError):
        raise ApiError(
            422,
            "invalid_cursor",
            f"query.cursor: {cursor[:60]!r} is not a cursor this server gave",
            "Pass next_cursor from the previous page as it came, or leave cursor out.",
        ) from None


def get_existing(store: ServerStore, run_id: str) -> RunRecord:
    """The run, or 404 naming the id (ids that cannot name a run included)."""
    if len(run_id) > MAX_ID or not run_id.isprintable():
        raise RunNotFoundError(
            repr(run_id[:MAX_ID])[1:-1] + ("..." if len(run_id) > MAX_ID else "")
        )
    return store.get_run(run_id)


def plain_text(value: str | None, name: str) -> str | None:
    """A query parameter's text, refused (422) with a control character in it."""
    if value is not None and not value.isprintable():
        raise ApiError(
            422,
            "invalid_request",
            f"query.{name}: must not contain control characters",
            "Send printable text.",
        )
    return value


@router.get("/{run_id}", response_model=RunDetail, responses=RUN_NOT_FOUND)
def show_run(
    run_id: str,
    store: Store,
    _: Reader,
    steps_limit: Annotated[
        int, Query(ge=0, le=MAX_STEPS_PAGE, description="Steps in this page.")
    ] = STEPS_PAGE,
    steps_cursor: Annotated[
        str | None, Query(max_length=40, description="next_steps_cursor of the last page.")
    ] = None,
    history_limit: Annotated[
        int, Query(ge=0, le=MAX_STEPS_PAGE, description="History events in this page.")
    ] = STEPS_PAGE,
    history_cursor: Annotated[
        str | None, Query(max_length=40, description="next_history_cursor of the last page.")
    ] = None,
) -> RunDetail:
    """The run with one page of its steps (in program order) and of its history (oldest
    first), every step counted per task and state, and its child runs; values as JSON
    objects. A run of 10,000 steps is never sent whole: follow the ``next_*_cursor``s."""
    run = get_existing(store, run_id)
    after_seq = position(steps_cursor, "steps_cursor")
    after_id = position(history_cursor, "history_cursor")
    counts = store.count_steps(run_id)
    steps = store.step_page(run_id, after_seq=after_seq, limit=steps_limit + 1)
    history = store.event_page(run_id, after_id=after_id, limit=history_limit + 1)
    children = store.list_runs(RunFilter(parent_run_id=run_id, limit=MAX_CHILDREN))
    return run_detail(
        run,
        steps=page_of(steps, steps_limit, sum(c.count for c in counts), lambda s: s.seq),
        step_counts=task_counts(counts),
        children=list(reversed(children)),
        history=page_of(history, history_limit, store.count_events(run_id), lambda e: e.id or 0),
    )


MAX_CURSOR = 18  # digits: every seq and event id fits, and no number too big for a store


def position(cursor: str | None, name: str) -> int | None:
    """A step or history cursor as the position it stands for (422 if no page gave it)."""
    if cursor is None:
        return None
    if not (cursor.isascii() and cursor.isdigit() and len(cursor) <= MAX_CURSOR):
        raise ApiError(
            422,
            "invalid_cursor",
            f"query.{name}: {cursor[:40]!r} is not a cursor this server gave",
            f"Pass next_{name} from the previous page as it came, or leave {name} out.",
        )
    return int(cursor)


def page_of(
    found: list[Item], limit: int, total: int, position: Callable[[Item], int]
) -> Page[Item]:
    """A page from ``found`` (up to ``limit + 1`` items read, the extra one telling that
    more follow), and the cursor of the page after it."""
    items = found[:limit]
    more = len(found) > limit and limit > 0
    return Page(items=items, total=total, next_cursor=str(position(items[-1])) if more else None)


@router.get(
    "/{run_id}/logs",
    response_model=LogsOut,
    responses={
        **RUN_NOT_FOUND,
        200: {"content": {"text/event-stream": {}}, "description": "With follow=1: SSE."},
    },
)
def run_logs(
    request: Request,
    run_id: str,
    store: Store,
    _: Reader,
    step: Annotated[str | None, Query(max_length=500, description="One step's logs.")] = None,
    follow: Annotated[
        bool, Query(description="Stream Server-Sent Events until the run ends.")
    ] = False,
) -> Any:
    """The run's logs, oldest first; with ``follow=1`` a ``text/event-stream`` of ``log``
    events (each a log line as JSON), then one ``end`` event with the run's final state."""
    get_existing(store, run_id)
    plain_text(step, "step")
    if not follow:
        return LogsOut(logs=[log_out(log) for log in store.get_logs(run_id, step)])
    poll = request.app.state.poll_interval
    return StreamingResponse(
        follow_logs(store, run_id, step, poll=poll),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def follow_logs(store: ServerStore, run_id: str, step: str | None, *, poll: float) -> Iterator[str]:
    """Server-Sent Events: every log line of the run (or step) as it is written, until the
    run ends; then ``end``. Runs on a worker thread (the store is blocking)."""
    import time

    sent = 0
    while True:
        state = store.get_run(run_id).state  # read first: no line written before the end is missed
        logs = store.get_logs(run_id, step)
        for log in logs[sent:]:
            yield f"event: log\ndata: {log_out(log).model_dump_json()}\n\n"
        sent = len(logs)
        if state.is_final:
            yield f"event: end\ndata: {json.dumps({'run_id': run_id, 'state': state.value})}\n\n"
            return
        yield ": waiting\n\n"  # a comment: keeps proxies from timing the stream out
        time.sleep(poll)


@router.post(
    "",
    status_code=201,
    response_model=Started,
    responses={
        200: {"model": Started, "description": "The run the Idempotency-Key named already."},
        404: documented("No such deployment."),
        409: documented("The Idempotency-Key names a run with other parameters."),
    },
)
def start_run(
    body: StartRun,
    request: Request,
    response: Response,
    store: Store,
    caller: Operator,
    idempotency_key: Annotated[
        str | None,
        Header(max_length=500, description="Sending the same key again returns that run."),
    ] = None,
) -> Started:
    """Submit a run of ``target``, or of ``deployment`` (its flow and parameters, ``params``
    overriding them), for a worker (201); with an ``Idempotency-Key`` that names a run
    already, that run (200)."""
    if body.deployment is not None:
        run, created = actions.run_deployment(
            store,
            get_deployment(store, body.deployment),
            params=body.params,
            queue=body.queue,
            priority=body.priority,
            idempotency_key=idempotency_key,
            now=request.app.state.clock(),
            actor=caller.name,
        )
    else:
        run, created = _start_target(store, body, idempotency_key, caller.name)
    if not created:
        response.status_code = 200
    response.headers["Location"] = f"/api/v1/runs/{run.run_id}"
    return Started(run_id=run.run_id, created=created)


def _start_target(
    store: ServerStore, body: StartRun, idempotency_key: str | None, actor: str
) -> tuple[RunRecord, bool]:
    assert body.target is not None  # StartRun checks it has a target or a deployment
    return actions.start_run(
        store,
        target=body.target,
        params=body.params,
        queue=body.queue,
        priority=body.priority,
        idempotency_key=idempotency_key,
        actor=actor,
    )


NoBody = Annotated[Reason | None, Body()]


@router.post("/{run_id}/cancel", response_model=RunStateOut, responses=RUN_CONFLICT)
def cancel_run(run_id: str, store: Store, caller: Operator, body: NoBody = None) -> RunStateOut:
    """Cancel the run (its running child runs first)."""
    get_existing(store, run_id)
    run = actions.cancel(store, run_id, reason=body.reason if body else None, actor=caller.name)
    return RunStateOut(run_id=run.run_id, state=run.state.value)


@router.post("/{run_id}/pause", response_model=RunStateOut, responses=RUN_CONFLICT)
def pause_run(run_id: str, store: Store, caller: Operator, body: NoBody = None) -> RunStateOut:
    """Pause the run: at once if pending or waiting, at its next step if running."""
    get_existing(store, run_id)
    run = actions.pause(store, run_id, reason=body.reason if body else None, actor=caller.name)
    return RunStateOut(run_id=run.run_id, state=run.state.value)


@router.post("/{run_id}/unpause", response_model=RunStateOut, responses=RUN_CONFLICT)
def unpause_run(run_id: str, store: Store, caller: Operator, body: NoBody = None) -> RunStateOut:
    """Put a paused run back in its queue; a worker resumes it by replay."""
    get_existing(store, run_id)
    run = actions.unpause(store, run_id, reason=body.reason if body else None, actor=caller.name)
    return RunStateOut(run_id=run.run_id, state=run.state.value)


@router.post("/{run_id}/retry", response_model=RunStateOut, responses=RUN_CONFLICT)
def retry_run(
    run_id: str, store: Store, caller: Operator, body: Annotated[Retry | None, Body()] = None
) -> RunStateOut:
    """Hand a failed run back to its queue; a worker retries it by replay (completed
    steps keep their results)."""
    get_existing(store, run_id)
    run = actions.retry(
        store, run_id, from_step=body.from_step if body else None, actor=caller.name
    )
    return RunStateOut(run_id=run.run_id, state=run.state.value)
