"""Deployments: a flow bound to its triggers and default parameters (``legato.deploy``).

``deploy`` checks everything before it writes (the target imports and takes the
parameters, each trigger is valid, the options are known, a webhook path is not taken
by another deployment) and then creates or updates the deployment by name in one write.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from legato.clock import utcnow
from legato.engine.context import resolve_store
from legato.engine.definitions import Flow
from legato.engine.launch import bind_params
from legato.engine.targets import load_target
from legato.errors import ScheduleError, StoreError
from legato.records import DeploymentRecord
from legato.scheduler.triggers import Trigger, Webhook, trigger_from_json, trigger_json
from legato.serialization import dumps
from legato.store.base import QueueStore, Store
from legato.store.deployments import DeploymentStore

OVERLAP = ("allow", "skip", "queue", "cancel")
CATCHUP = ("skip", "one", "all")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True, kw_only=True, slots=True)
class DeploymentOptions:
    """What a deployment does besides its triggers; checked at construction."""

    params: Mapping[str, Any] | None = None
    queue: str | None = None
    priority: int | None = None
    overlap: str = "allow"
    catchup: str = "skip"
    catchup_limit: int = 100
    paused: bool = False

    def __post_init__(self) -> None:
        if self.overlap not in OVERLAP:
            raise ScheduleError(
                option="--overlap", text=self.overlap, reason=f"write one of {', '.join(OVERLAP)}"
            )
        if self.catchup not in CATCHUP:
            raise ScheduleError(
                option="--catchup", text=self.catchup, reason=f"write one of {', '.join(CATCHUP)}"
            )
        if self.catchup_limit < 1:
            raise ScheduleError(
                option="--catchup-limit",
                text=str(self.catchup_limit),
                reason="write a number of runs of 1 or more",
            )


def deployment_store(store: Store | str | None) -> DeploymentStore:
    """The store, as one that keeps deployments; ``StoreError`` for one that cannot."""
    opened = resolve_store(store)
    if not isinstance(opened, DeploymentStore):
        raise StoreError(
            f"the store {opened.url} cannot keep deployments; use SQLite or PostgreSQL"
        )
    return opened


def deploy(
    flow_or_target: Flow[Any, Any] | str,
    *,
    name: str | None = None,
    triggers: Sequence[Trigger] = (),
    params: Mapping[str, Any] | None = None,
    queue: str | None = None,
    priority: int | None = None,
    overlap: str = "allow",
    catchup: str = "skip",
    catchup_limit: int = 100,
    paused: bool = False,
    store: Store | str | None = None,
    now: datetime | None = None,
) -> DeploymentRecord:
    """Create or update (by ``name``, default the flow's name) the deployment of a flow.

    ``flow_or_target`` is a ``@flow`` defined at module level or its target
    (``pkg.module:flow`` / ``path/file.py:flow``). Every run it starts gets ``params``
    (checked against the flow's signature), ``queue`` and ``priority`` (default: the
    flow's), the tag ``deployment:NAME``, and its trigger in
    ``get_run_context().trigger``. ``overlap`` says what a fire does while an earlier
    run is still going (``allow``; ``skip`` it; ``queue`` it behind; ``cancel`` the
    earlier one); ``catchup`` which schedule fires missed while no scheduler ran are
    made up (``skip``, the latest ``one``, ``all`` up to ``catchup_limit``).

    Raises ``ScheduleError`` / ``ExpressionError`` / ``DefinitionError`` /
    ``ParameterError`` naming the option, before anything is stored.
    """
    options = DeploymentOptions(
        params=params,
        queue=queue,
        priority=priority,
        overlap=overlap,
        catchup=catchup,
        catchup_limit=catchup_limit,
        paused=paused,
    )
    flow = _flow_of(flow_or_target)
    record = build_deployment(
        flow, name=name or flow.name, triggers=triggers, options=options, now=now or utcnow()
    )
    opened = deployment_store(store)
    check_webhook_paths(opened, record)
    return apply_deployment(opened, record)


def _flow_of(flow_or_target: Flow[Any, Any] | str) -> Flow[Any, Any]:
    flow = load_target(flow_or_target) if isinstance(flow_or_target, str) else flow_or_target
    if not isinstance(flow, Flow):
        raise ScheduleError(
            option="TARGET", text=repr(flow_or_target), reason="deploy a @flow or its target"
        )
    if flow.target is None:
        raise ScheduleError(
            option="TARGET",
            text=flow.name,
            reason="the flow is defined inside a function, so a worker cannot import it; "
            "define it at module level",
        )
    return flow


def build_deployment(
    flow: Flow[Any, Any],
    *,
    name: str,
    triggers: Iterable[Trigger],
    options: DeploymentOptions,
    now: datetime,
) -> DeploymentRecord:
    """The record ``deploy`` stores; raises before anything is written."""
    if not _NAME.match(name):
        raise ScheduleError(
            option="--name", text=name, reason="write letters, digits and _ . - only"
        )
    given = dict(options.params or {})
    bind_params(flow, (), given)  # ParameterError naming the signature
    return DeploymentRecord(
        name=name,
        flow_name=flow.name,
        target=flow.target or "",
        params=dumps(given, name="params"),
        queue=options.queue or flow.options.queue,
        priority=flow.options.priority if options.priority is None else options.priority,
        triggers=json.dumps([trigger_json(t) for t in triggers]),
        overlap=options.overlap,
        catchup=options.catchup,
        catchup_limit=options.catchup_limit,
        paused=options.paused,
        created_at=now,
        updated_at=now,
    )


def triggers_of(deployment: DeploymentRecord) -> list[Trigger]:
    """The deployment's triggers, as objects."""
    return [trigger_from_json(data) for data in json.loads(deployment.triggers)]


def check_webhook_paths(store: DeploymentStore, record: DeploymentRecord) -> None:
    """``ScheduleError`` if a webhook path of ``record`` belongs to another deployment."""
    mine = {t.path for t in triggers_of(record) if isinstance(t, Webhook)}
    if not mine:
        return
    for other in store.list_deployments():
        if other.name == record.name:
            continue
        for trigger in triggers_of(other):
            if isinstance(trigger, Webhook) and trigger.path in mine:
                raise ScheduleError(
                    option="--webhook",
                    text=trigger.path,
                    reason=f"the path is taken by deployment {other.name!r}; choose another",
                )


def apply_deployment(store: DeploymentStore, record: DeploymentRecord) -> DeploymentRecord:
    """Store ``record`` (create or update by name). ``overlap="queue"`` keeps one run of
    the deployment at a time with a concurrency limit on its tag."""
    old = store.get_deployment(record.name)
    saved = store.save_deployment(record)
    key = f"tag:{deployment_tag(record.name)}"
    if not isinstance(store, QueueStore):
        return saved
    if record.overlap == "queue":
        store.set_limit(key, 1)
    elif old is not None and old.overlap == "queue":
        store.set_limit(key, None)
    return saved


def deployment_tag(name: str) -> str:
    """The tag every run of the deployment carries."""
    return f"deployment:{name}"
