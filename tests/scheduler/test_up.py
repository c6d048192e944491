"""`legato up`: the scheduler, a worker and the HTTP server in one process. Real HTTP
requests to its webhook (signed, unsigned, replayed), a schedule firing, the web UI
and API served, and a clean stop on SIGTERM."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import socket
import subprocess
import textwrap
import time

import httpx
import pytest
from test_cli import LEGATO, cli  # noqa: F401  (the fixture)

TICKETS = """
from legato import flow, get_run_context, task

@task
def triage(subject: str) -> str:
    return "database" if "db" in subject.lower() else "general"

@flow
def ticket() -> dict:
    trigger = get_run_context().trigger
    body = trigger.payload
    return {"kind": trigger.kind, "queue": triage(body["subject"]), "id": body["id"]}

@flow
def heartbeat() -> str:
    return get_run_context().trigger.kind
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def wait_for(check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.mark.slow
def test_legato_up_serves_webhooks_fires_schedules_and_stops_cleanly(cli):  # noqa: F811
    (cli.root / "tickets.py").write_text(textwrap.dedent(TICKETS))
    env = dict(cli.env, TICKET_SECRET="s3cret")
    cli.env.update(env)
    deployed = cli(
        "deploy",
        "tickets.py:ticket",
        "--name",
        "support",
        "--webhook",
        "tickets",
        "--secret-env",
        "TICKET_SECRET",
    )
    assert deployed.returncode == 0, deployed.stderr
    assert cli("deploy", "tickets.py:heartbeat", "--name", "beat", "--every", "1s").returncode == 0
    port = free_port()
    up = subprocess.Popen(
        [LEGATO, "up", "--port", str(port), "--concurrency", "2"],
        env=env,
        cwd=cli.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(base))
        body = json.dumps({"id": "T-1", "subject": "DB is slow"}).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": "delivery-1"}
        unsigned = httpx.post(f"{base}/hooks/tickets", content=body, headers=headers)
        assert unsigned.status_code == 401 and unsigned.json()["error"]["code"] == "bad_signature"
        wrong = httpx.post(
            f"{base}/hooks/tickets",
            content=body,
            headers={**headers, "X-Legato-Signature": sign("other", body)},
        )
        assert wrong.status_code == 401
        signed = {**headers, "X-Legato-Signature": sign("s3cret", body)}
        first = httpx.post(f"{base}/hooks/tickets", content=body, headers=signed)
        assert first.status_code == 202, first.text
        run_id = first.json()["run_id"]
        replayed = httpx.post(f"{base}/hooks/tickets", content=body, headers=signed)
        assert replayed.status_code == 200 and replayed.json()["run_id"] == run_id
        unknown = httpx.post(f"{base}/hooks/nope", content=body)
        assert unknown.status_code == 404 and "error" in unknown.json()
        not_json = b"{nope"
        bad = httpx.post(
            f"{base}/hooks/tickets",
            content=not_json,
            headers={"X-Legato-Signature": sign("s3cret", not_json)},
        )
        assert bad.status_code == 400
        done = wait_for(lambda: _completed(base, run_id))
        assert done["result"] == {"kind": "webhook", "queue": "database", "id": "T-1"}
        beats = wait_for(lambda: _runs(base, "heartbeat", minimum=2))
        assert all(run["flow"] == "heartbeat" for run in beats)
        tickets = _runs(base, "ticket", minimum=0)
        assert len(tickets) == 1  # unsigned, wrong, replayed and bad deliveries made none
        assert httpx.get(f"{base}/ui/").status_code == 200
        assert httpx.get(f"{base}/", follow_redirects=True).text.startswith("<!doctype html>")
    finally:
        up.send_signal(signal.SIGTERM)
        output, _ = up.communicate(timeout=60)
    assert up.returncode == 0, output
    assert "legato up on" in output and f"http://127.0.0.1:{port}/ui/" in output


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _completed(base: str, run_id: str) -> dict | None:
    run = httpx.get(f"{base}/api/v1/runs/{run_id}").json()
    return run if run["state"] == "completed" else None


def _runs(base: str, flow: str, *, minimum: int) -> list[dict] | None:
    runs = httpx.get(f"{base}/api/v1/runs", params={"flow": flow}).json()["runs"]
    completed = [r for r in runs if r["state"] == "completed"]
    return completed if len(completed) >= minimum else None
