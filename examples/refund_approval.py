"""The seed's human-in-the-loop case: refunds above a threshold wait for a manager.

legato run examples/refund_approval.py:refund -p order=o-1 -p amount=80     # goes through
legato run examples/refund_approval.py:refund -p order=o-2 -p amount=900    # waits: exit 3
legato inputs list
legato approve RUN_ID manager --input '{"approved": true, "note": "ok"}' --by ana --role manager
legato worker                                                               # finishes it
"""

from __future__ import annotations

from pydantic import BaseModel

import legato
from legato import flow, task

THRESHOLD = 500


class ManagerDecision(BaseModel):
    approved: bool
    note: str = ""


@task
def pay_refund(order: str, amount: int) -> str:
    return f"refunded {amount} for {order}"


@task
def tell_customer(order: str, text: str) -> str:
    return f"{order}: {text}"


@flow
def refund(order: str, amount: int) -> str:
    if amount > THRESHOLD:
        try:
            decision = legato.wait_for_input(
                "manager",
                schema=ManagerDecision,
                prompt=f"Refund {amount} for order {order}?",
                roles=["manager"],
                timeout=7 * 24 * 3600,
            )
        except legato.InputRejected as rejected:
            return tell_customer(order, f"refund declined: {rejected.reason}")
        if not decision.approved:
            return tell_customer(order, f"refund declined: {decision.note}")
    return tell_customer(order, pay_refund(order, amount))
