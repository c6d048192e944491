"""``get_run_context().trigger``: the trigger that started the run, read from the fire
its deployment recorded with it (``DeploymentStore.get_fire``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from legato.store.deployments import DeploymentStore

_KNOWN: dict[str, RunTrigger | None] = {}  # run id -> trigger: a fire never changes
_KEEP = 1024


@dataclass(frozen=True, kw_only=True, slots=True)
class RunTrigger:
    """What started a run: its deployment, the trigger's ``kind`` (cron, interval,
    event, after, webhook, file, stream, manual, backfill), the fire's unique ``key``,
    when it fired (the scheduled time, or when its cause was seen) and its ``payload``
    (the event's data, the webhook's body, the upstream run, ...)."""

    deployment: str
    kind: str
    key: str
    fired_at: datetime
    payload: Any


def trigger_of(run_id: str, store: object) -> RunTrigger | None:
    """The trigger of the run ``run_id`` recorded in ``store`` (the store the run
    executes on); None for a run started by hand."""
    if run_id in _KNOWN:
        return _KNOWN[run_id]
    if not isinstance(store, DeploymentStore):
        return None
    fire = store.get_fire(run_id)
    found = None
    if fire is not None:
        found = RunTrigger(
            deployment=fire.deployment,
            kind=fire.kind,
            key=fire.key,
            fired_at=fire.fired_at,
            payload=json.loads(fire.payload),
        )
    if len(_KNOWN) >= _KEEP:
        _KNOWN.clear()
    _KNOWN[run_id] = found
    return found
