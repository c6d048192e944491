"""The runs API against the real app on SQLite and PostgreSQL: list, show, logs, start,
cancel, pause, unpause, retry; every write in the run's history with the token's name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server_helpers import state_of, work_until

from legato.records import RunRecord, WorkerRecord
from legato.states import RunState

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def add_run(store, run_id: str, minute: int, **fields) -> None:
    fields.setdefault("flow_name", "orders")
    fields.setdefault("state", RunState.COMPLETED)
    store.create_run(RunRecord(run_id=run_id, created_at=T0 + timedelta(minutes=minute), **fields))


def test_healthz_and_openapi_are_served(api):
    client = api.client(None)
    assert client.get("/healthz").json()["status"] == "ok"
    document = client.get("/openapi.json").json()
    assert "/api/v1/runs" in document["paths"] and "/api/v1/inputs" in document["paths"]
    assert client.get("/docs").status_code == 200


def test_runs_are_listed_newest_first_with_filters_and_cursor_pages(api):
    for n in range(5):
        add_run(api.store, f"r{n}", n, tags=("eu",) if n % 2 else ())
    add_run(api.store, "f1", 10, state=RunState.FAILED, params='{"customer": "ACME"}')
    client = api.client("viewer")
    first = client.get("/api/v1/runs", params={"limit": 4}).json()
    assert [r["run_id"] for r in first["runs"]] == ["f1", "r4", "r3", "r2"]
    second = client.get("/api/v1/runs", params={"limit": 4, "cursor": first["next_cursor"]})
    assert [r["run_id"] for r in second.json()["runs"]] == ["r1", "r0"]
    assert second.json()["next_cursor"] is None

    def ids(**params):
        return [r["run_id"] for r in client.get("/api/v1/runs", params=params).json()["runs"]]

    assert ids(state="failed") == ["f1"]
    assert ids(state=["failed", "completed"], limit=2) == ["f1", "r4"]
    assert ids(tag="eu") == ["r3", "r1"]
    assert ids(q="acme") == ["f1"]
    assert ids(since="2026-01-01T00:01:00Z", until="2026-01-01T00:03:00+00:00") == [
        "r3",
        "r2",
        "r1",
    ]
    assert ids(flow="nothing") == []


def test_a_run_shows_values_as_json_objects_with_steps_and_history(api):
    client = api.client("operator")
    started = client.post(
        "/api/v1/runs", json={"target": "api_flows:greet", "params": {"name": "ann", "times": 2}}
    )
    assert started.status_code == 201
    run_id = started.json()["run_id"]
    assert started.headers["location"] == f"/api/v1/runs/{run_id}"
    work_until(api.store, lambda: state_of(api.store, run_id).is_final)
    run = client.get(f"/api/v1/runs/{run_id}").json()
    assert run["state"] == "completed" and run["flow"] == "greet"
    assert run["params"] == {"name": "ann", "times": 2}
    assert run["result"] == {"greeting": "hello ANN", "times": 2}
    assert [(s["key"], s["state"], s["result"]) for s in run["steps"]] == [
        ("shout#0", "completed", "ANN")
    ]
    submitted = run["history"][0]
    assert submitted["state"] == "pending" and submitted["by"] == "operator"
    logs = client.get(f"/api/v1/runs/{run_id}/logs", params={"step": "shout#0"}).json()["logs"]
    assert [log["message"] for log in logs] == ["shouting at ann"]


def test_an_idempotency_key_returns_the_run_it_started(api):
    client = api.client("operator", **{"Idempotency-Key": "order-7"})
    body = {"target": "api_flows:greet", "params": {"name": "bo"}}
    first = client.post("/api/v1/runs", json=body)
    again = client.post("/api/v1/runs", json=body)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == {"run_id": first.json()["run_id"], "created": False}
    conflict = client.post("/api/v1/runs", json={**body, "params": {"name": "other"}})
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "idempotency_conflict"


def test_starting_with_bad_parameters_or_targets_says_what_and_starts_nothing(api):
    client = api.client("operator")
    wrong = client.post("/api/v1/runs", json={"target": "api_flows:greet", "params": {"x": 1}})
    assert wrong.status_code == 422 and "greet" in wrong.json()["error"]["message"]
    missing = client.post("/api/v1/runs", json={"target": "api_flows:nothing"})
    assert missing.status_code == 422 and "no flow named 'nothing'" in missing.text
    a_file = client.post("/api/v1/runs", json={"target": "/etc/passwd.py:x"})
    assert a_file.status_code == 422 and "by module" in a_file.json()["error"]["message"]
    assert client.get("/api/v1/runs").json()["runs"] == []


def test_cancel_pause_unpause_and_retry_are_recorded_with_the_token_name(api):
    client = api.client("operator")
    run_id = client.post("/api/v1/runs", json={"target": "api_flows:gated"}).json()["run_id"]
    work_until(api.store, lambda: state_of(api.store, run_id) is RunState.WAITING)
    paused = client.post(f"/api/v1/runs/{run_id}/pause", json={"reason": "lunch"})
    assert paused.json() == {"run_id": run_id, "state": "paused"}
    assert client.post(f"/api/v1/runs/{run_id}/unpause").json()["state"] == "pending"
    assert client.post(f"/api/v1/runs/{run_id}/cancel").json()["state"] == "cancelled"
    again = client.post(f"/api/v1/runs/{run_id}/cancel")
    assert again.status_code == 409 and "already ended" in again.json()["error"]["message"]
    history = api.store.get_events(run_id)
    assert [(e.state, e.by) for e in history if e.by == "operator"] == [
        ("pending", "operator"),
        ("paused", "operator"),
        ("pending", "operator"),
        ("cancelled", "operator"),
    ]

    failing = client.post("/api/v1/runs", json={"target": "api_flows:breaks"}).json()["run_id"]
    work_until(api.store, lambda: state_of(api.store, failing).is_final)
    detail = client.get(f"/api/v1/runs/{failing}").json()
    assert detail["error"]["type"] == "builtins.ValueError" and "boom" in detail["error"]["message"]
    assert client.post(f"/api/v1/runs/{failing}/retry").json()["state"] == "pending"
    assert api.store.get_events(failing)[-1].by == "operator"
    not_failed = client.post(f"/api/v1/runs/{run_id}/retry")
    assert not_failed.status_code == 409 and "only failed runs can be retried" in not_failed.text


def test_an_event_sent_through_the_api_resumes_the_waiting_run(api):
    client = api.client("operator")
    run_id = client.post("/api/v1/runs", json={"target": "api_flows:gated"}).json()["run_id"]
    work_until(api.store, lambda: state_of(api.store, run_id) is RunState.WAITING)
    sent = client.post("/api/v1/events", json={"name": "go", "data": {"n": 1}, "key": "k"})
    assert sent.status_code == 201 and sent.json()["name"] == "go"
    work_until(api.store, lambda: state_of(api.store, run_id).is_final)
    assert client.get(f"/api/v1/runs/{run_id}").json()["result"] == "THROUGH"
    ended = client.post("/api/v1/events", json={"name": "go", "run_id": run_id})
    assert ended.status_code == 409


def test_workers_are_listed(api):
    now = datetime.now(UTC)
    api.store.heartbeat_worker(
        WorkerRecord(
            worker_id="w1",
            host="box",
            pid=7,
            queues=("default", "nightly"),
            concurrency=4,
            started_at=now,
            heartbeat_at=now,
        )
    )
    workers = api.client("viewer").get("/api/v1/workers").json()["workers"]
    assert [w["queues"] for w in workers] == [["default", "nightly"]]


def add_big_run(store, run_id: str, steps: int, events: int) -> None:
    """A finished run of ``steps`` steps (every tenth failed) and ``events`` history
    events, written straight to the store in one batch."""
    from legato.records import ErrorInfo, EventRecord, StepRecord
    from legato.states import StepState

    add_run(store, run_id, 0, flow_name="wide")
    store.record(
        [
            StepRecord(
                run_id=run_id,
                key=f"{'check' if n % 10 == 9 else 'fetch'}#{n}",
                seq=n,
                task_name="check" if n % 10 == 9 else "fetch",
                state=StepState.FAILED if n % 10 == 9 else StepState.COMPLETED,
                attempts=1,
                result=None if n % 10 == 9 else str(n),
                error=ErrorInfo(type="ValueError", message=f"bad {n}") if n % 10 == 9 else None,
            )
            for n in range(steps)
        ]
        + [
            EventRecord(run_id=run_id, at=T0, kind="step", state="completed", step_key=f"s{n}")
            for n in range(events)
        ]
    )


def test_a_large_run_comes_with_one_page_of_steps_and_every_step_counted(api):
    add_big_run(api.store, "wide1", steps=2500, events=260)
    client = api.client("viewer")
    run = client.get("/api/v1/runs/wide1").json()
    assert [s["key"] for s in run["steps"]] == [
        f"{'check' if n % 10 == 9 else 'fetch'}#{n}" for n in range(100)
    ]
    assert run["steps_total"] == 2500
    assert run["step_counts"] == [
        {"task": "fetch", "total": 2250, "states": {"completed": 2250}},
        {"task": "check", "total": 250, "states": {"failed": 250}},
    ]
    assert len(run["history"]) == 100 and run["history_total"] == 260
    pages = [run["steps"]]
    cursor = run["next_steps_cursor"]
    while cursor is not None:
        page = client.get(
            "/api/v1/runs/wide1", params={"steps_cursor": cursor, "steps_limit": 1000}
        ).json()
        pages.append(page["steps"])
        cursor = page["next_steps_cursor"]
    assert [len(p) for p in pages] == [100, 1000, 1000, 400]
    assert [s["seq"] for p in pages for s in p] == list(range(2500))
    assert pages[-1][-1]["error"]["message"] == "bad 2499"


def test_a_run_history_is_paged_oldest_first(api):
    add_big_run(api.store, "wide2", steps=3, events=260)
    client = api.client("viewer")
    first = client.get("/api/v1/runs/wide2", params={"history_limit": 200}).json()
    second = client.get(
        "/api/v1/runs/wide2", params={"history_cursor": first["next_history_cursor"]}
    ).json()
    keys = [e["step_key"] for e in first["history"] + second["history"]]
    assert keys == [f"s{n}" for n in range(260)]
    assert second["next_history_cursor"] is None
    assert second["steps_total"] == 3 and second["next_steps_cursor"] is None


def test_a_step_cursor_no_page_gave_is_refused_with_a_hint(api):
    add_big_run(api.store, "wide3", steps=3, events=0)
    client = api.client("viewer")
    refused = client.get("/api/v1/runs/wide3", params={"steps_cursor": "-1; DROP"})
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "invalid_cursor" and "steps_cursor" in error["message"]
    assert "next_steps_cursor" in error["hint"]
    too_big = client.get("/api/v1/runs/wide3", params={"steps_limit": 100_000})
    assert too_big.status_code == 422
