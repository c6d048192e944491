"""Every write the API makes, in one place: the adapter between the routes and the
engine's operations (start, cancel, pause, unpause, retry, answer, reject, send event).

Each takes the store and the actor (the caller's token name), which the engine records
in the run's history. When the engine's ``Operations(store, clock)`` service lands,
these become calls to it and nothing else in the server changes.
"""

from __future__ import annotations

from typing import Any

from legato.clock import utcnow
from legato.errors import RunStateError, UsageError
from legato.records import InputAnswer, RunRecord
from legato.sources import is_file_part
from legato.store.base import QueueStore


def start_run(
    store: QueueStore,
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
    from legato.engine.launch import submit
    from legato.engine.targets import load_target

    module_part = target.rpartition(":")[0]
    if is_file_part(module_part):
        raise UsageError(
            f"target {target!r}: the server starts flows by module (package.module:flow), "
            "not by file path; install the flow's package (or put its folder on the "
            "server's PYTHONPATH) and name its module"
        )
    flow = load_target(target)
    changes: dict[str, Any] = {"store": store}
    if queue is not None:
        changes["queue"] = queue
    if priority is not None:
        changes["priority"] = priority
    if idempotency_key is not None:
        changes["idempotency_key"] = idempotency_key
    before = utcnow()
    handle = submit(flow.with_options(**changes), (), dict(params), store=store, by=actor)
    run = store.get_run(handle.run_id)
    return run, run.created_at >= before


def cancel(store: QueueStore, run_id: str, *, reason: str | None, actor: str) -> RunRecord:
    """Cancel the run (its running children first). ``RunNotFoundError``,
    ``RunStateError`` when it already ended."""
    from legato.engine.launch import cancel as cancel_run

    return cancel_run(run_id, store=store, reason=reason, by=actor)


def pause(store: QueueStore, run_id: str, *, reason: str | None, actor: str) -> RunRecord:
    """Pause the run. ``RunNotFoundError``, ``RunStateError`` when it cannot be paused."""
    from legato.engine.launch import pause as pause_run

    return pause_run(run_id, store=store, reason=reason, by=actor)


def unpause(store: QueueStore, run_id: str, *, reason: str | None, actor: str) -> RunRecord:
    """Put a paused run back in its queue. ``RunNotFoundError``, ``RunStateError``."""
    from legato.engine.launch import unpause as unpause_run

    return unpause_run(run_id, store=store, reason=reason, by=actor)


def retry(store: QueueStore, run_id: str, *, from_step: str | None, actor: str) -> RunRecord:
    """Hand a failed run back to its queue; a worker retries it by replay.
    ``RunNotFoundError``; ``RunStateError`` unless it is failed, or with ``from_step``
    (a retry from an earlier step runs in the foreground: ``legato runs retry --from``)."""
    if from_step is not None:
        raise RunStateError(
            f"run {run_id}: a retry from step {from_step!r} is not queued through the API "
            f"yet; run it with legato runs retry {run_id} --from {from_step}, or retry "
            "without from_step"
        )
    run = store.get_run(run_id)
    if not store.requeue_run(
        run_id, now=utcnow(), message="requeued for a retry by replay", by=actor
    ):
        raise RunStateError(
            f"run {run_id} is {store.get_run(run_id).state.value}; only a failed run can be retried"
        )
    return store.get_run(run.run_id)


def answer(
    store: QueueStore,
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
    from legato.engine.inputs import answer_input

    return answer_input(run_id, name, data, by=actor, role=role, reject=reject, store=store)


def send_event(
    store: QueueStore,
    name: str,
    data: Any,
    *,
    key: str | None,
    run_id: str | None,
    actor: str,
) -> int:
    """Send an event to the flows waiting for ``name``; its id. ``RunStateError`` when
    ``run_id`` already ended, ``RunNotFoundError`` when it does not exist."""
    from legato.engine.waits import send_event as send

    return send(name, data, key=key, run_id=run_id, by=actor, store=store)
