"""Webhooks: ``POST /hooks/{path}`` starts the deployment whose ``Webhook`` trigger owns
``path``. The server mounts :func:`receive_webhook`; it is a plain function so the
rules are tested without HTTP.

- unknown path 404, body over ``max_bytes`` 413, body not a JSON document 400;
- with ``secret_env``, ``X-Legato-Signature: sha256=<hex HMAC-SHA256 of the raw body>``
  keyed by that environment variable is required (compared in constant time): missing
  or wrong 401; the variable unset 500 (the operator's mistake, said so);
- ``Idempotency-Key`` makes repeated deliveries one run: the first gets 202, a repeat
  200 with the same run id. Without it, each delivery is a new run.

Answers are JSON; nothing is created unless the answer is 200/202. Secrets never
appear in an answer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from legato.ids import new_run_id
from legato.records import DeploymentRecord
from legato.scheduler.deployments import triggers_of
from legato.scheduler.firing import start_run
from legato.scheduler.triggers import Webhook
from legato.store.deployments import DeploymentStore

SIGNATURE_HEADER = "x-legato-signature"
IDEMPOTENCY_HEADER = "idempotency-key"


@dataclass(frozen=True, kw_only=True, slots=True)
class WebhookResult:
    status: int
    body: dict[str, Any] = field(default_factory=dict)


def receive_webhook(
    store: DeploymentStore,
    path: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    max_bytes: int = 1_000_000,
    environ: Mapping[str, str] | None = None,
) -> WebhookResult:
    """Handle one delivery to ``/hooks/{path}``; see the module docstring."""
    wanted = path.strip("/").removeprefix("hooks/")
    found = _owner(store, wanted)
    if found is None:
        return _error(404, f"no deployment has the webhook /hooks/{wanted}")
    deployment, trigger = found
    if len(body) > max_bytes:
        return _error(413, f"the body has {len(body)} bytes; the limit is {max_bytes}")
    lowered = {name.lower(): value for name, value in headers.items()}
    if trigger.secret_env is not None:
        refused = _check_signature(trigger.secret_env, body, lowered, environ or os.environ)
        if refused is not None:
            return refused
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return _error(400, f"the body is not JSON: {exc}")
    idempotency = lowered.get(IDEMPOTENCY_HEADER)
    key = f"webhook:{idempotency}" if idempotency else f"webhook:{new_run_id()}"
    from legato.clock import utcnow

    run, created = start_run(
        store,
        deployment,
        key=key,
        kind="webhook",
        fired_at=utcnow(),
        payload=payload,
        by=f"webhook /hooks/{wanted}",
    )
    return WebhookResult(status=202 if created else 200, body={"run_id": run.run_id})


def _owner(store: DeploymentStore, path: str) -> tuple[DeploymentRecord, Webhook] | None:
    for deployment in store.list_deployments():
        if deployment.paused:
            continue
        for trigger in triggers_of(deployment):
            if isinstance(trigger, Webhook) and trigger.path == path:
                return deployment, trigger
    return None


def _check_signature(
    variable: str, body: bytes, headers: Mapping[str, str], environ: Mapping[str, str]
) -> WebhookResult | None:
    secret = environ.get(variable)
    if not secret:
        return _error(500, f"the webhook's secret variable {variable} is not set where legato runs")
    given = headers.get(SIGNATURE_HEADER, "")
    if not given.startswith("sha256="):
        return _error(401, "missing X-Legato-Signature: sha256=<hex HMAC-SHA256 of the body>")
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given.removeprefix("sha256=").strip().lower(), expected):
        return _error(401, "the X-Legato-Signature does not match the body")
    return None


def _error(status: int, message: str) -> WebhookResult:
    return WebhookResult(status=status, body={"error": message})
