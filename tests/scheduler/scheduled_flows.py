"""Flows the scheduler tests deploy (module level, so workers import them)."""

from __future__ import annotations

from legato import flow, get_run_context


@flow
def report(day: str = "today") -> dict:
    trigger = get_run_context().trigger
    if trigger is None:
        return {"day": day, "trigger": None}
    return {
        "day": day,
        "trigger": {
            "deployment": trigger.deployment,
            "kind": trigger.kind,
            "fired_at": trigger.fired_at.isoformat(),
            "payload": trigger.payload,
        },
    }


@flow
def upstream(n: int = 1) -> int:
    return n * 10
