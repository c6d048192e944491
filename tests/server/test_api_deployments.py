"""The deployments API against the real app on SQLite and PostgreSQL: list and show
(triggers, next fire times, latest fires), pause, resume and run; runs of a deployment
started through POST /runs and found with ?deployment=; steps done/total in the runs
list."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from server_helpers import snapshot, state_of, work_until

from legato.scheduler.cron import Cron, Every
from legato.scheduler.deployments import deploy
from legato.scheduler.triggers import OnEvent, OnStream, Webhook
from legato.states import RunState

STREAM_PASSWORD = "hunter2-stream"


@pytest.fixture
def nightly(api) -> str:
    deploy(
        "api_flows:greet",
        name="nightly",
        triggers=[
            Every("1h"),
            Cron("0 9 * * *", tz="Europe/Paris"),
            OnEvent("orders.created"),
            Webhook("orders", secret_env="ORDERS_SECRET"),
            OnStream(f"redis://:{STREAM_PASSWORD}@127.0.0.1:6379/orders"),
        ],
        params={"name": "ann", "times": 2},
        priority=3,
        store=api.store,
    )
    deploy("api_flows:breaks", name="broken", store=api.store)
    return "nightly"


def test_deployments_are_listed_with_triggers_next_fire_and_no_password(api, nightly):
    got = api.client("viewer").get("/api/v1/deployments")
    assert got.status_code == 200
    assert STREAM_PASSWORD not in got.text
    listed = {d["name"]: d for d in got.json()["deployments"]}
    assert list(listed) == ["broken", "nightly"]
    d = listed["nightly"]
    assert (d["flow"], d["queue"], d["priority"], d["paused"]) == ("greet", "default", 3, False)
    assert d["target"].endswith("api_flows.py:greet")
    assert d["params"] == {"name": "ann", "times": 2}
    assert [t["kind"] for t in d["triggers"]] == [
        "interval",
        "cron",
        "event",
        "webhook",
        "stream",
    ]
    assert d["triggers"][0]["description"] == "every 1h"
    assert d["triggers"][1]["description"] == "cron '0 9 * * *' (Europe/Paris)"
    assert d["triggers"][3]["config"] == {
        "kind": "webhook",
        "path": "orders",
        "secret_env": "ORDERS_SECRET",
    }
    assert d["triggers"][4]["config"]["url"] == "redis://:***@127.0.0.1:6379/orders"
    next_fire = datetime.fromisoformat(d["next_fire_at"])
    assert next_fire > datetime.now(UTC) and (next_fire.minute, next_fire.second) == (0, 0)
    assert d["last_fire"] is None
    assert listed["broken"]["next_fire_at"] is None  # no schedule: fires only when run


def test_a_deployment_shows_its_next_five_fire_times_and_latest_fires(api, nightly):
    client = api.client("operator")
    first = client.post("/api/v1/deployments/nightly/run").json()["run_id"]
    second = client.post("/api/v1/deployments/nightly/run").json()["run_id"]
    shown = client.get("/api/v1/deployments/nightly").json()
    times = [datetime.fromisoformat(t) for t in shown["next_fires"]]
    assert len(times) == 5 and times == sorted(times) and len(set(times)) == 5
    assert times[0] == datetime.fromisoformat(shown["next_fire_at"])
    assert [f["run_id"] for f in shown["fires"]] == [second, first]
    assert {f["kind"] for f in shown["fires"]} == {"manual"}
    assert shown["last_fire"]["run_id"] == second


def test_pause_and_resume_change_the_deployment_and_its_next_fire(api, nightly):
    client = api.client("operator")
    paused = client.post("/api/v1/deployments/nightly/pause")
    assert paused.json() == {"name": "nightly", "paused": True}
    assert api.store.get_deployment("nightly").paused
    shown = client.get("/api/v1/deployments/nightly").json()
    assert shown["paused"] and shown["next_fire_at"] is None and shown["next_fires"] == []
    resumed = client.post("/api/v1/deployments/nightly/resume")
    assert resumed.json() == {"name": "nightly", "paused": False}
    assert not api.store.get_deployment("nightly").paused
    assert client.get("/api/v1/deployments/nightly").json()["next_fire_at"] is not None


def test_running_a_deployment_starts_its_flow_with_overridden_params_for_a_worker(api, nightly):
    client = api.client("operator")
    started = client.post("/api/v1/deployments/nightly/run", json={"params": {"name": "bo"}})
    assert started.status_code == 201
    run_id = started.json()["run_id"]
    assert started.headers["location"] == f"/api/v1/runs/{run_id}"
    run = api.store.get_run(run_id)
    assert run.state is RunState.PENDING and run.priority == 3
    assert "deployment:nightly" in run.tags
    assert api.store.get_events(run_id)[0].by == "operator"
    assert api.store.get_fire(run_id).kind == "manual"
    work_until(api.store, lambda: state_of(api.store, run_id).is_final)
    detail = client.get(f"/api/v1/runs/{run_id}").json()
    assert detail["result"] == {"greeting": "hello BO", "times": 2}
    assert detail["deployment"] == "nightly"


def test_a_paused_deployment_can_still_be_run_by_hand(api, nightly):
    client = api.client("operator")
    client.post("/api/v1/deployments/nightly/pause")
    assert client.post("/api/v1/deployments/nightly/run").status_code == 201


def test_post_runs_with_a_deployment_starts_it_once_per_idempotency_key(api, nightly):
    client = api.client("operator", **{"Idempotency-Key": "order-9"})
    body = {"deployment": "nightly", "params": {"times": 3}, "priority": 7, "queue": "urgent"}
    first = client.post("/api/v1/runs", json=body)
    again = client.post("/api/v1/runs", json=body)
    assert first.status_code == 201 and again.status_code == 200
    run_id = first.json()["run_id"]
    assert again.json() == {"run_id": run_id, "created": False}
    run = api.store.get_run(run_id)
    assert run.priority == 7 and run.queue == "urgent"
    assert json.loads(run.params or "") == {"name": "ann", "times": 3}


def test_runs_are_listed_by_deployment(api, nightly):
    client = api.client("operator")
    mine = [client.post("/api/v1/deployments/nightly/run").json()["run_id"] for _ in range(3)]
    client.post("/api/v1/deployments/broken/run")
    client.post("/api/v1/runs", json={"target": "api_flows:greet", "params": {"name": "x"}})

    def ids(**params):
        return [r["run_id"] for r in client.get("/api/v1/runs", params=params).json()["runs"]]

    assert ids(deployment="nightly") == list(reversed(mine))
    assert ids(deployment="nightly", limit=2) == list(reversed(mine))[:2]
    assert ids(deployment="night") == []  # a whole name, not a prefix
    assert ids(deployment="nightly", flow="breaks") == []
    listed = client.get("/api/v1/runs", params={"deployment": "nightly"}).json()["runs"]
    assert {r["deployment"] for r in listed} == {"nightly"}


def test_unknown_deployments_get_404_and_bad_bodies_422_with_nothing_started(api, nightly):
    client = api.client("operator")
    before = snapshot(api.store)
    for method, path in [
        ("GET", "/api/v1/deployments/nope"),
        ("POST", "/api/v1/deployments/nope/pause"),
        ("POST", "/api/v1/deployments/nope/resume"),
        ("POST", "/api/v1/deployments/nope/run"),
        ("GET", "/api/v1/deployments/" + "x" * 300),
        ("GET", "/api/v1/deployments/a%01b"),
    ]:
        got = client.request(method, path)
        assert got.status_code == 404, path
        error = got.json()["error"]
        assert (
            error["code"] == "deployment_not_found" and "GET /api/v1/deployments" in error["hint"]
        )
    unknown = client.post("/api/v1/runs", json={"deployment": "nope"})
    assert unknown.status_code == 404 and "'nope'" in unknown.json()["error"]["message"]
    both = client.post("/api/v1/runs", json={"deployment": "nightly", "target": "api_flows:greet"})
    neither = client.post("/api/v1/runs", json={"params": {}})
    for refused in (both, neither):
        assert refused.status_code == 422 and "target" in refused.json()["error"]["message"]
    extra = client.post("/api/v1/deployments/nightly/run", json={"parms": {}})
    assert extra.status_code == 422 and "parms" in extra.json()["error"]["message"]
    assert snapshot(api.store) == before


def test_the_runs_list_shows_steps_done_failed_and_total(api, nightly):
    client = api.client("operator")
    done = client.post("/api/v1/runs", json={"target": "api_flows:greet", "params": {"name": "a"}})
    failed = client.post("/api/v1/runs", json={"target": "api_flows:breaks"})
    ids = [done.json()["run_id"], failed.json()["run_id"]]
    work_until(api.store, lambda: all(state_of(api.store, r).is_final for r in ids))
    waiting = client.post("/api/v1/runs", json={"target": "api_flows:gated"}).json()["run_id"]
    work_until(api.store, lambda: state_of(api.store, waiting) is RunState.WAITING)
    fresh = client.post("/api/v1/deployments/nightly/run").json()["run_id"]
    rows = {r["run_id"]: r for r in client.get("/api/v1/runs").json()["runs"]}
    counts = {
        run_id: (
            rows[run_id]["steps_done"],
            rows[run_id]["steps_failed"],
            rows[run_id]["steps_total"],
        )
        for run_id in rows
    }
    assert counts[ids[0]] == (1, 0, 1)
    assert counts[ids[1]] == (0, 1, 1)
    assert counts[waiting] == (0, 0, 1)  # its wait is a step, not done yet
    assert counts[fresh] == (0, 0, 0)
    # The counts follow the page the cursor gives, not only the first one.
    first = client.get("/api/v1/runs", params={"limit": 2}).json()
    rest = client.get("/api/v1/runs", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert {r["run_id"]: r["steps_total"] for r in rest["runs"]} == {
        r: counts[r][2] for r in [x["run_id"] for x in rest["runs"]]
    }
