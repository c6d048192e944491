"""Every write the API makes, in one place: the adapter between the routes and the
engine's operations (start, cancel, pause, unpause, retry, answer, reject, send event)
and the scheduler's (pause, resume and run a deployment).

Each takes the store and the actor (the caller's token name) and calls the engine's
operations service (``legato.engine.operations.Operations``), which records the actor
in the run's history, or for deployments ``legato.scheduler`` (a deployment's run is
started like any fire of its triggers, by ``legato.scheduler.firing.start_run``, with the
actor in its history; pausing a deployment is logged with the actor, as deployments
have no history of their own): the server has no rule of its own about runs.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from legato.engine.operations import Operations
from legato.errors import RunStateError, UsageError
from legato.ids import new_run_id
from legato.records import DeploymentRecord, InputAnswer, RunRecord
from legato.scheduler.firing import start_run as fire_deployment
from legato.sources import is_file_part
from legato.store.base import Store
from legato.store.deployments import DeploymentStore

log = logging.getLogger("legato.server")


def start_run(
    store: Store,
    *,
    target: str,
    params: dict[str, Any],
    queue: str | None,
    priority: int | None,
    idempotency_key: str | None,
    actor: str,
) -> tuple[RunRecord, bool]:
    """Submit a pending run of the flow ``target`` (``package.module:flow``) for a worker;
    ``(run, created)``, ``created`` False when ``idempotency_key`` named an existing run.

    Raises ``UsageError`` for a file path (the server imports modules only: a request
    never makes it execute a file), ``DefinitionError`` when the flow does not import,
    ``ParameterError``, ``IdempotencyConflictError``."""
    module_part = target.rpartition(":")[0]
    if is_file_part(module_part):
        raise UsageError(
            f"target {target!r}: the server starts flows by module (package.module:flow), "
            "not by file path; install the flow's package (or put its folder on the "
            "server's PYTHONPATH) and name its module"
        )
    submitted = Operations(store).submit(
        target,
        (),
        dict(params),
        queue=queue,
        priority=priority,
        idempotency_key=idempotency_key,
        by=actor,
    )
    return submitted.run, submitted.created


def cancel(store: Store, run_id: str, *, reason: str | None, actor: str) -> RunRecord:
    """Cancel the run (its running children first). ``RunNotFoundError``,
    ``RunStateError`` when it already ended."""
    return Operations(store).cancel(run_id, reason=reason, by=actor).after


def pause(store: Store, run_id: str, *, reason: str | None, actor: str) -> RunRecord:
    """Pause the run. ``RunNotFoundError``, ``RunStateError`` when it cannot be paused."""
    return Operations(store).pause(run_id, reason=reason, by=actor).after


def unpause(store: Store, run_id: str, *, reason: str | None, actor: str) -> RunRecord:
    """Put a paused run back in its queue. ``RunNotFoundError``, ``RunStateError``."""
    return Operations(store).unpause(run_id, reason=reason, by=actor).after


def retry(store: Store, run_id: str, *, from_step: str | None, actor: str) -> RunRecord:
    """Hand a failed run back to its queue; a worker retries it by replay.
    ``RunNotFoundError``; ``RunStateError`` unless it is failed, or with ``from_step``
    (a retry from an earlier step runs in the foreground: ``legato runs retry --from``)."""
    if from_step is not None:
        raise RunStateError(
            f"run {run_id}: a retry from step {from_step!r} is not queued through the API "
            f"yet; run it with legato runs retry {run_id} --from {from_step}, or retry "
            "without from_step"
        )
    return Operations(store).requeue(run_id, by=actor).after


def answer(
    store: Store,
    run_id: str,
    name: str,
    *,
    data: Any,
    reject: str | None,
    role: str | None,
    actor: str,
) -> InputAnswer:
    """Answer (``data``) or reject (``reject``) the run's input ``name`` as ``actor``
    with ``role``, validated against its schema; ``InputError`` when not."""
    operations = Operations(store)
    if reject is not None:
        return operations.reject(run_id, name, reject, by=actor, role=role)
    return operations.answer(run_id, name, data, by=actor, role=role)


def send_event(
    store: Store,
    name: str,
    data: Any,
    *,
    key: str | None,
    run_id: str | None,
    actor: str,
) -> int:
    """Send an event to the flows waiting for ``name``; its id. ``RunStateError`` when
    ``run_id`` already ended, ``RunNotFoundError`` when it does not exist."""
    sent = Operations(store).send_event(name, data, key=key, run_id=run_id, by=actor)
    assert sent.id is not None  # the store assigns it
    return sent.id


def run_deployment(
    store: DeploymentStore,
    deployment: DeploymentRecord,
    *,
    params: Mapping[str, Any],
    now: datetime,
    actor: str,
    queue: str | None = None,
    priority: int | None = None,
    idempotency_key: str | None = None,
) -> tuple[RunRecord, bool]:
    """Start one run of ``deployment`` now, for a worker: its parameters overridden by
    ``params``, its queue and priority by ``queue`` and ``priority`` when given; recorded
    as a ``manual`` fire, by ``actor``. ``(run, created)``: with ``idempotency_key``, the
    run an earlier call with that key started and False. The parameters are checked
    against the flow's signature when a worker starts the run (as for every fire).
    Raises ``SerializationError`` (a value JSON cannot hold), ``StoreError``."""
    chosen = dataclasses.replace(
        deployment,
        queue=deployment.queue if queue is None else queue,
        priority=deployment.priority if priority is None else priority,
    )
    key = f"api:{idempotency_key}" if idempotency_key else f"manual:{new_run_id()}"
    return fire_deployment(
        store,
        chosen,
        key=key,
        kind="manual",
        fired_at=now,
        params=params,
        by=actor,
        now=now,
    )


def pause_deployment(store: DeploymentStore, name: str, *, now: datetime, actor: str) -> bool:
    """Stop firing the deployment's triggers; False when there is no such deployment."""
    changed = store.set_deployment_paused(name, paused=True, now=now)
    log.info("deployment %s paused by %s", name, actor)
    return changed


def resume_deployment(store: DeploymentStore, name: str, *, now: datetime, actor: str) -> bool:
    """Fire the deployment's triggers again; False when there is no such deployment."""
    changed = store.set_deployment_paused(name, paused=False, now=now)
    log.info("deployment %s resumed by %s", name, actor)
    return changed
