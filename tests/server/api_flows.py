"""Flows the API tests start by target (``api_flows:NAME``): importable by module name."""

from __future__ import annotations

from pydantic import BaseModel

import legato
from legato import flow, task


class Decision(BaseModel):
    approved: bool
    amount: int = 0


@task
def shout(name: str) -> str:
    legato.get_run_context().logger.info("shouting at %s", name)
    return name.upper()


@flow
def greet(name: str, times: int = 1) -> dict:
    return {"greeting": f"hello {shout(name)}", "times": times}


@task
def explode() -> None:
    raise ValueError("boom")


@flow
def breaks() -> None:
    explode()


@flow
def gated() -> str:
    legato.wait_for_event("go")
    return shout("through")


@flow
def approval() -> dict:
    decision = legato.wait_for_input("manager", schema=Decision, roles=["manager"])
    return decision.model_dump()


@flow
def anyone() -> str:
    try:
        decision = legato.wait_for_input("ok", schema=Decision, prompt="Go ahead?")
    except legato.InputRejected as rejected:
        return f"rejected: {rejected.reason}"
    return f"approved={decision.approved}"
