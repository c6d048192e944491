"""The seed's AI-powered customer support: a submitted ticket arrives by webhook, is
classified, and routed to the right department or answered automatically.

The ticket system POSTs the ticket as JSON to ``/hooks/tickets``, signed with a shared
secret (``X-Legato-Signature: sha256=<hex HMAC-SHA256 of the body>``); the secret is
read from the variable named by ``--secret-env``, never stored.

    export TICKETS_SECRET=change-me
    legato deploy examples/triggers/support_ticket.py:support_ticket --name support \\
        --webhook tickets --secret-env TICKETS_SECRET
    legato up
    body='{"id": "T-7", "subject": "Refund for order 12", "text": "I was charged twice"}'
    sig=$(printf %s "$body" | openssl dgst -sha256 -hmac "$TICKETS_SECRET" | cut -d' ' -f2)
    curl -s -X POST localhost:8400/hooks/tickets -H "X-Legato-Signature: sha256=$sig" \\
        -H 'Idempotency-Key: T-7' -d "$body"          # 202 {"run_id": ...}

``classify`` stands in for a language-model call (keywords here, so the example runs
offline): put your model call in its body; its result is recorded like any step.
"""

from __future__ import annotations

from legato import flow, get_run_context, task

DEPARTMENTS = {
    "billing": ("refund", "charged", "invoice", "payment"),
    "technical": ("error", "crash", "bug", "slow", "down"),
    "account": ("password", "login", "email"),
}
AUTOMATED = {"account": "You can reset your password at /account/reset."}


@task(retries=2)
def classify(subject: str, text: str) -> str:
    words = f"{subject} {text}".lower()
    for department, keys in DEPARTMENTS.items():
        if any(key in words for key in keys):
            return department
    return "general"


@task
def assign(ticket_id: str, department: str) -> str:
    return f"{ticket_id} assigned to the {department} team"


@task
def auto_reply(ticket_id: str, answer: str) -> str:
    return f"{ticket_id} answered: {answer}"


@flow
def support_ticket() -> dict:
    """Route the ticket the webhook delivered."""
    trigger = get_run_context().trigger
    if trigger is None:
        raise ValueError("support_ticket runs from its webhook: POST the ticket to /hooks/tickets")
    ticket = trigger.payload
    category = classify(ticket.get("subject", ""), ticket.get("text", ""))
    if category in AUTOMATED:
        outcome = auto_reply(ticket["id"], AUTOMATED[category])
    else:
        outcome = assign(ticket["id"], category)
    return {"ticket": ticket["id"], "category": category, "outcome": outcome}
