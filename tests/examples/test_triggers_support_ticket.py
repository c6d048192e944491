"""examples/triggers/support_ticket.py: deployed with --webhook and a secret, a signed
ticket POSTed to the server's /hooks route is classified and routed by a worker; an
unsigned one starts nothing."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json

import httpx
import pytest
from triggers_kit import eventually, legato, services, target

from legato.server.app import create_app
from legato.states import RunState

SECRET = "example-secret"


async def deliver(store, body: bytes, key: str) -> tuple[httpx.Response, httpx.Response]:
    """POST the ticket to /hooks/tickets of the server's ASGI app: unsigned, then signed."""
    transport = httpx.ASGITransport(app=create_app(store))
    async with httpx.AsyncClient(transport=transport, base_url="http://legato") as client:
        unsigned = await client.post("/hooks/tickets", content=body)
        signed = {"X-Legato-Signature": sign(body), "Idempotency-Key": key}
        return unsigned, await client.post("/hooks/tickets", content=body, headers=signed)


def sign(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("ticket", "category", "outcome"),
    [
        (
            {"id": "T-7", "subject": "Refund", "text": "I was charged twice"},
            "billing",
            "T-7 assigned to the billing team",
        ),
        (
            {"id": "T-8", "subject": "Cannot login", "text": "forgot my password"},
            "account",
            "T-8 answered: You can reset your password at /account/reset.",
        ),
    ],
)
def test_a_signed_ticket_webhook_is_classified_and_routed(
    sqlite_store, db_url, monkeypatch, ticket, category, outcome
):
    legato(
        db_url,
        "deploy",
        target("support_ticket"),
        "--name",
        "support",
        "--webhook",
        "tickets",
        "--secret-env",
        "TICKETS_SECRET",
    )
    monkeypatch.setenv("TICKETS_SECRET", SECRET)
    body = json.dumps(ticket).encode()
    unsigned, accepted = asyncio.run(deliver(sqlite_store, body, ticket["id"]))
    assert unsigned.status_code == 401
    assert accepted.status_code == 202, accepted.text
    run_id = accepted.json()["run_id"]
    with services(sqlite_store, scheduler=False):
        run = eventually(
            lambda: (r := sqlite_store.get_run(run_id)) and r.state.is_final and r, "the run"
        )
    assert run.state is RunState.COMPLETED, run.error
    assert json.loads(run.result) == {
        "ticket": ticket["id"],
        "category": category,
        "outcome": outcome,
    }
    assert [f.run_id for f in sqlite_store.list_fires("support")] == [run_id]
