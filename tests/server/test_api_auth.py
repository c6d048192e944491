"""Tokens and roles: a role x endpoint matrix (401 without a token, 403 with a role that
may not, the store unchanged after each refusal), revoked tokens, and anonymous access
only where the app allows it and no token exists."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from server_helpers import snapshot, state_of, work_until

from legato.states import RunState

READ = {"viewer", "operator", "approver", "admin"}
OPERATE = {"operator", "admin"}
ANSWER = {"approver", "admin"}

# (method, path, body, roles that may)
ENDPOINTS = [
    ("GET", "/api/v1/runs", None, READ),
    ("GET", "/api/v1/runs/{run}", None, READ),
    ("GET", "/api/v1/runs/{run}/logs", None, READ),
    ("GET", "/api/v1/inputs", None, READ),
    ("GET", "/api/v1/workers", None, READ),
    ("GET", "/api/v1/deployments", None, READ),
    ("GET", "/api/v1/deployments/nightly", None, READ),
    ("POST", "/api/v1/deployments/nightly/pause", None, OPERATE),
    ("POST", "/api/v1/deployments/nightly/resume", None, OPERATE),
    ("POST", "/api/v1/deployments/nightly/run", {"params": {"name": "y"}}, OPERATE),
    ("POST", "/api/v1/runs", {"deployment": "nightly"}, OPERATE),
    ("POST", "/api/v1/runs", {"target": "api_flows:greet", "params": {"name": "x"}}, OPERATE),
    ("POST", "/api/v1/runs/{run}/pause", None, OPERATE),
    ("POST", "/api/v1/runs/{run}/unpause", None, OPERATE),
    ("POST", "/api/v1/runs/{run}/cancel", None, OPERATE),
    ("POST", "/api/v1/runs/{run}/retry", None, OPERATE),
    ("POST", "/api/v1/events", {"name": "go"}, OPERATE),
    ("POST", "/api/v1/runs/{run}/inputs/ok/approve", {"input": {"approved": True}}, ANSWER),
    ("POST", "/api/v1/runs/{run}/inputs/ok/reject", {"reason": "no"}, ANSWER),
]


@pytest.fixture
def waiting(api) -> str:
    from legato.scheduler.deployments import deploy

    deploy("api_flows:greet", name="nightly", params={"name": "x"}, store=api.store)
    client = api.client("operator")
    run_id = client.post("/api/v1/runs", json={"target": "api_flows:anyone"}).json()["run_id"]
    work_until(api.store, lambda: state_of(api.store, run_id) is RunState.WAITING)
    return run_id


def call(client: TestClient, method: str, path: str, body, run_id: str):
    return client.request(method, path.format(run=run_id), json=body)


def test_every_endpoint_refuses_without_a_token_or_with_a_wrong_role(api, waiting):
    for method, path, body, allowed in ENDPOINTS:
        before = snapshot(api.store)
        anonymous = call(api.client(None), method, path, body, waiting)
        assert anonymous.status_code == 401, (method, path)
        assert "Authorization: Bearer" in anonymous.json()["error"]["message"]
        for role in READ - allowed:
            refused = call(api.client(role), method, path, body, waiting)
            assert refused.status_code == 403, (method, path, role)
            assert f"role {role}" in refused.json()["error"]["message"]
        assert snapshot(api.store) == before, (method, path)


@pytest.mark.parametrize("role", sorted(READ))
def test_each_role_gets_past_the_check_where_it_may(api, waiting, role):
    for method, path, body, allowed in ENDPOINTS:
        if role in allowed:
            got = call(api.client(role), method, path, body, waiting)
            assert got.status_code not in (401, 403), (method, path, role, got.text)


def test_an_unknown_or_revoked_token_is_refused(api):
    client = api.client("viewer")
    assert client.get("/api/v1/runs").status_code == 200
    api.store.revoke_token("viewer")
    revoked = client.get("/api/v1/runs")
    assert revoked.status_code == 401 and "revoked" in revoked.json()["error"]["message"]
    basic = api.client(None, Authorization="Basic dXNlcjpwYXNz").get("/api/v1/runs")
    assert basic.status_code == 401 and "Bearer TOKEN" in basic.json()["error"]["message"]


def test_without_tokens_only_an_app_allowing_anonymous_serves_and_only_until_one_exists(
    api_store,
):
    from server_helpers import add_tokens

    from legato.server.app import create_app

    closed = TestClient(create_app(api_store), raise_server_exceptions=False)
    assert closed.get("/api/v1/runs").status_code == 401
    local = TestClient(create_app(api_store, allow_anonymous=True))
    started = local.post(
        "/api/v1/runs", json={"target": "api_flows:greet", "params": {"name": "a"}}
    )
    assert started.status_code == 201
    run_id = started.json()["run_id"]
    assert api_store.get_events(run_id)[0].by == "anonymous"
    add_tokens(api_store, "viewer")
    assert local.get("/api/v1/runs").status_code == 401
