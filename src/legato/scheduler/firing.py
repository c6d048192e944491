"""Starting a deployment's run for one fire of its trigger: the one place where the
scheduler, the webhook handler, ``deployments run`` and backfills create runs.

The run is submitted pending (for workers) and its fire recorded in the same
transaction (``DeploymentStore.record_fire``), so a fire key is never fired twice. The
run carries the tag ``deployment:NAME``; its history says which trigger started it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from legato.clock import utcnow
from legato.ids import new_run_id
from legato.records import DeploymentRecord, EventRecord, FireRecord, RunRecord
from legato.scheduler.deployments import deployment_tag
from legato.serialization import dumps, loads
from legato.states import RunState
from legato.store.deployments import DeploymentStore


def start_run(
    store: DeploymentStore,
    deployment: DeploymentRecord,
    *,
    key: str,
    kind: str,
    fired_at: datetime,
    payload: Any = None,
    params: Mapping[str, Any] | None = None,
    by: str = "scheduler",
    now: datetime | None = None,
) -> tuple[RunRecord, bool]:
    """Fire ``deployment`` once for ``key``: ``(run, True)`` for a new run, or the run an
    earlier fire with that key started and False. ``params`` override the deployment's.
    Raises ``StoreError``, ``SerializationError`` (a payload JSON cannot hold)."""
    at = now or utcnow()
    merged = dict(loads(deployment.params))
    merged.update(params or {})
    run = RunRecord(
        run_id=new_run_id(),
        flow_name=deployment.flow_name,
        state=RunState.PENDING,
        created_at=at,
        target=deployment.target,
        params=dumps(merged, name="params"),
        tags=(deployment_tag(deployment.name),),
        queue=deployment.queue,
        priority=deployment.priority,
    )
    fire = FireRecord(
        deployment=deployment.name,
        key=key,
        kind=kind,
        fired_at=fired_at,
        payload=json.dumps({} if payload is None else payload, default=str),
        run_id=run.run_id,
    )
    event = EventRecord(
        run_id=run.run_id,
        at=at,
        kind="run",
        state="pending",
        message=f"started by {kind} trigger of deployment {deployment.name} "
        f"(fire {key}) in queue {deployment.queue!r}",
        by=by,
    )
    return store.record_fire(fire, run, events=(event,))
