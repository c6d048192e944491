"""``POST /hooks/{path}``: a webhook delivery starts the deployment whose ``Webhook``
trigger owns ``path`` (``legato.scheduler.webhooks.receive_webhook`` holds the rules:
HMAC signature, idempotency key, JSON body). Webhooks carry no bearer token: a
deployment that wants its callers checked gives its trigger a secret."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from legato.scheduler.webhooks import receive_webhook
from legato.server.api.deps import ERRORS, Responses, Store, documented
from legato.server.schemas import HookFired

router = APIRouter(tags=["webhooks"], responses=ERRORS)

CODES = {
    400: ("invalid_json", "Send a JSON document as the body."),
    401: ("bad_signature", "Sign the raw body: X-Legato-Signature: sha256=<hex HMAC-SHA256>."),
    404: ("unknown_webhook", "List webhooks with legato deployments list."),
    413: ("payload_too_large", "Send a smaller body."),
    500: ("webhook_secret_unset", "Set the deployment's secret environment variable."),
}


ANSWERS: Responses = {
    202: {"model": HookFired, "description": "The deployment's run was started."},
    200: {"model": HookFired, "description": "The Idempotency-Key's run, started before."},
    400: documented("The body is not a JSON document."),
    401: documented("The signature is missing or does not match the body."),
    404: documented("No deployment has this webhook."),
    500: documented("The webhook's secret variable is not set where legato runs."),
}


@router.post("/hooks/{path:path}", status_code=202, response_model=HookFired, responses=ANSWERS)
async def deliver(path: str, request: Request, store: Store) -> JSONResponse:
    """Start the deployment behind ``path`` with the JSON body as its trigger's payload:
    202 ``{"run_id"}``; 200 with the same run id for a repeated ``Idempotency-Key``."""
    body = await request.body()
    result = receive_webhook(store, path, body, dict(request.headers))
    if result.status < 400:
        return JSONResponse(result.body, status_code=result.status)
    code, hint = CODES.get(result.status, ("webhook_refused", None))
    message = str(result.body.get("error", "the delivery was refused"))
    return JSONResponse(
        {"error": {"code": code, "message": message, "hint": hint}}, status_code=result.status
    )
