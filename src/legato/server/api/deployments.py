"""``/api/v1/deployments``: list and show deployments (triggers, next fire times, latest
fires), pause and resume their triggers, and start one run of a deployment now."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response

from legato.records import DeploymentRecord, FireRecord
from legato.scheduler.deployments import triggers_of
from legato.scheduler.triggers import OnStream, describe, trigger_json
from legato.scheduler.upcoming import next_fire_times
from legato.server import actions
from legato.server.api.deps import (
    ERRORS,
    Operator,
    Reader,
    Responses,
    ServerStore,
    Store,
    documented,
)
from legato.server.errors import ApiError
from legato.server.schemas import (
    DeploymentDetail,
    DeploymentOut,
    DeploymentsOut,
    DeploymentStateOut,
    FireOut,
    RunDeployment,
    Started,
    TriggerOut,
    stored,
)
from legato.store.urls import redact_url

router = APIRouter(prefix="/deployments", tags=["deployments"], responses=ERRORS)

NEXT_FIRES = 5  # schedule times shown with a deployment
LATEST_FIRES = 20  # fires shown with a deployment
MAX_NAME = 200  # characters of a deployment name; longer ones name none


@router.get("", response_model=DeploymentsOut)
def list_deployments(request: Request, store: Store, _: Reader) -> DeploymentsOut:
    """Every deployment, by name, with its triggers, next fire time and latest fire (one
    small read per deployment: a store holds tens of deployments, not thousands)."""
    now = request.app.state.clock()
    return DeploymentsOut(
        deployments=[
            deployment_out(d, now=now, fires=store.list_fires(d.name, limit=1))
            for d in store.list_deployments()
        ]
    )


NOT_FOUND: Responses = {404: documented("No such deployment.")}


@router.get("/{name}", response_model=DeploymentDetail, responses=NOT_FOUND)
def show_deployment(name: str, request: Request, store: Store, _: Reader) -> DeploymentDetail:
    """The deployment with its next schedule times and latest fires (each naming its run)."""
    deployment = get_deployment(store, name)
    fires = store.list_fires(deployment.name, limit=LATEST_FIRES)
    now = request.app.state.clock()
    return DeploymentDetail(
        **deployment_out(deployment, now=now, fires=fires).model_dump(),
        next_fires=next_fire_times(deployment, now, NEXT_FIRES),
        fires=[fire_out(fire) for fire in fires],
    )


@router.post("/{name}/pause", response_model=DeploymentStateOut, responses=NOT_FOUND)
def pause_deployment(
    name: str, request: Request, store: Store, caller: Operator
) -> DeploymentStateOut:
    """Stop firing the deployment's triggers (runs already started go on)."""
    get_deployment(store, name)
    actions.pause_deployment(store, name, now=request.app.state.clock(), actor=caller.name)
    return DeploymentStateOut(name=name, paused=True)


@router.post("/{name}/resume", response_model=DeploymentStateOut, responses=NOT_FOUND)
def resume_deployment(
    name: str, request: Request, store: Store, caller: Operator
) -> DeploymentStateOut:
    """Fire the deployment's triggers again (missed schedule times follow its catch-up)."""
    get_deployment(store, name)
    actions.resume_deployment(store, name, now=request.app.state.clock(), actor=caller.name)
    return DeploymentStateOut(name=name, paused=False)


@router.post("/{name}/run", status_code=201, response_model=Started, responses=NOT_FOUND)
def run_deployment(
    name: str,
    request: Request,
    response: Response,
    store: Store,
    caller: Operator,
    body: Annotated[RunDeployment | None, Body()] = None,
) -> Started:
    """Start one run of the deployment now, for a worker (201), with ``params``
    overriding its parameters; also while it is paused (pausing stops its triggers)."""
    deployment = get_deployment(store, name)
    run, _ = actions.run_deployment(
        store,
        deployment,
        params=body.params if body else {},
        now=request.app.state.clock(),
        actor=caller.name,
    )
    response.headers["Location"] = f"/api/v1/runs/{run.run_id}"
    return Started(run_id=run.run_id, created=True)


def get_deployment(store: ServerStore, name: str) -> DeploymentRecord:
    """The deployment, or 404 naming it (names that cannot name one included)."""
    found = None
    if len(name) <= MAX_NAME and name.isprintable():
        found = store.get_deployment(name)
    if found is None:
        shown = repr(name[:MAX_NAME]) + ("..." if len(name) > MAX_NAME else "")
        raise ApiError(
            404,
            "deployment_not_found",
            f"there is no deployment {shown}",
            "List deployments with GET /api/v1/deployments; create one with legato deploy.",
        )
    return found


# -- records into bodies ----------------------------------------------------------------


def deployment_out(
    deployment: DeploymentRecord, *, now: datetime, fires: list[FireRecord]
) -> DeploymentOut:
    upcoming = next_fire_times(deployment, now, 1)
    return DeploymentOut(
        name=deployment.name,
        flow=deployment.flow_name,
        target=deployment.target,
        params=stored(deployment.params, "json"),
        queue=deployment.queue,
        priority=deployment.priority,
        triggers=[trigger_out(trigger) for trigger in triggers_of(deployment)],
        overlap=deployment.overlap,
        catchup=deployment.catchup,
        catchup_limit=deployment.catchup_limit,
        paused=deployment.paused,
        created_at=deployment.created_at,
        updated_at=deployment.updated_at,
        next_fire_at=upcoming[0] if upcoming else None,
        last_fire=fire_out(fires[0]) if fires else None,
    )


def trigger_out(trigger: Any) -> TriggerOut:
    config = trigger_json(trigger)
    if isinstance(trigger, OnStream):
        # A broker URL may carry a password: never shown.
        config["url"] = redact_url(trigger.url)
        return TriggerOut(kind=config["kind"], description=f"stream {config['url']}", config=config)
    return TriggerOut(kind=config["kind"], description=describe(trigger), config=config)


def fire_out(fire: FireRecord) -> FireOut:
    return FireOut(key=fire.key, kind=fire.kind, fired_at=fire.fired_at, run_id=fire.run_id)
