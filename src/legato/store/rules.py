"""Rules every backend applies the same way, written once.

A backend finds the facts its own way (a dictionary scan, a SQL count) and asks these
functions what they mean, so that memory, SQLite and PostgreSQL can never disagree on an
idempotency conflict, a concurrency limit or the wording of a refusal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from legato.errors import IdempotencyConflictError, RunStateError, StoreError
from legato.records import RunRecord, SentEvent


def check_limit(key: str, limit: int | None) -> None:
    """Raise ``StoreError`` unless ``key`` is ``"flow:NAME"``/``"tag:T"`` and ``limit`` is
    None or >= 0."""
    if not key.startswith(("flow:", "tag:")) or key.endswith(":"):
        raise StoreError(f"concurrency limit key {key!r} must be 'flow:NAME' or 'tag:TAG'")
    if limit is not None and limit < 0:
        raise StoreError(f"concurrency limit of {key!r} must be >= 0, got {limit}")


def at_limit(
    limits: dict[str, int],
    *,
    flow_name: str,
    tags: Iterable[str],
    live: Callable[[str], int],
) -> bool:
    """Whether a run of ``flow_name`` with ``tags`` must wait for a concurrency limit.

    ``limits`` maps ``"flow:NAME"``/``"tag:T"`` to the most runs allowed to hold a live
    lease at once; ``live(key)`` counts the runs holding one now for that key (asked only
    for keys that have a limit). A run is held back when any of its keys is at its limit.
    """
    keys = [f"flow:{flow_name}", *(f"tag:{tag}" for tag in tags)]
    return any(key in limits and live(key) >= limits[key] for key in keys)


def same_submission(existing: RunRecord, run: RunRecord) -> RunRecord:
    """The run already recorded under ``run.idempotency_key``, when ``run`` asks for the
    same thing (same flow, same parameters); otherwise ``IdempotencyConflictError``
    naming both."""
    if existing.flow_name != run.flow_name or existing.params != run.params:
        raise IdempotencyConflictError(
            key=run.idempotency_key or "",
            run_id=existing.run_id,
            existing=f"{existing.flow_name}{existing.params}",
            given=f"{run.flow_name}{run.params}",
        )
    return existing


def already_ended(run: RunRecord, verb: str) -> RunStateError:
    """The one wording for an operator action on a run that has ended."""
    return RunStateError(f"run {run.run_id} already ended ({run.state.value}); nothing to {verb}")


def check_can_receive(run: RunRecord, event: SentEvent) -> None:
    """Raise ``RunStateError`` when ``event`` is sent to ``run`` and the run has ended."""
    if run.state.is_final:
        raise RunStateError(
            f"run {run.run_id} already ended ({run.state.value}); the event "
            f"{event.name!r} was not sent. Send it to a run that is still going."
        )
