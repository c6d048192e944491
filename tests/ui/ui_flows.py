"""Flows the browser tests watch: one held at a gate, one that fans out and retries, and
one that waits for a person."""

from __future__ import annotations

import threading
from enum import StrEnum

from pydantic import BaseModel, Field

from legato import flow, get_run_context, task, wait_for_input

GATE = threading.Event()


@task
def hold() -> str:
    GATE.wait(30)
    return "released"


@task
def fetch(n: int) -> int:
    return n * 2


@task(retries=2, retry_delay=0.05)
def flaky_total(values: list[int]) -> int:
    if get_run_context().attempt == 1:
        raise ConnectionError("the ledger was busy")
    return sum(values)


@flow
def gated_report(days: int = 3) -> dict[str, int]:
    hold()
    values = [f.result() for f in fetch.map(range(days))]
    return {"days": days, "total": flaky_total(values)}


class Priority(StrEnum):
    LOW = "low"
    HIGH = "high"


class RefundDecision(BaseModel):
    approved: bool = Field(description="Refund the customer?")
    amount: int = Field(ge=0, le=10_000, description="Euros to refund")
    priority: Priority = Priority.LOW
    note: str = ""


@task
def refund(amount: int) -> str:
    return f"refunded {amount}"


@flow
def refund_request(order: str) -> str:
    decision = wait_for_input("manager", schema=RefundDecision, prompt=f"Refund order {order}?")
    if not decision.approved:
        return "declined"
    return refund(decision.amount) + f" ({decision.priority.value})"
