"""Bad requests get a JSON error with a hint, change nothing, and the server keeps
serving: malformed JSON, wrong types, unknown fields, huge bodies, odd ids, unknown
paths; an unreachable store is a 503 until it is back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from server_helpers import snapshot

from legato.store import SqliteStore

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def assert_json_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert "Traceback" not in response.text
    return error


def test_malformed_json_wrong_types_and_unknown_fields_are_422_naming_the_field(api):
    client = api.client("admin")
    before = snapshot(api.store)
    malformed = client.post(
        "/api/v1/runs", content=b'{"target": ', headers={"content-type": "application/json"}
    )
    assert_json_error(malformed, 422, "malformed_json")
    not_utf8 = client.post(
        "/api/v1/runs", content=b'{"target": "\xff"}', headers={"content-type": "application/json"}
    )
    assert "UTF-8" in assert_json_error(not_utf8, 422, "malformed_json")["hint"]
    wrong = client.post("/api/v1/runs", json={"target": "api_flows:greet", "priority": "high"})
    assert "body.priority" in assert_json_error(wrong, 422, "invalid_request")["message"]
    unknown = client.post("/api/v1/runs", json={"target": "api_flows:greet", "colour": 1})
    assert "body.colour" in assert_json_error(unknown, 422, "invalid_request")["message"]
    not_object = client.post("/api/v1/events", json=["go"])
    assert_json_error(not_object, 422, "invalid_request")
    bad_state = client.get("/api/v1/runs", params={"state": "sleepy"})
    assert "query.state" in assert_json_error(bad_state, 422, "invalid_request")["message"]
    naive = client.get("/api/v1/runs", params={"since": "2026-01-01T00:00:00"})
    assert "time zone" in assert_json_error(naive, 422, "invalid_request")["message"]
    cursor = client.get("/api/v1/runs", params={"cursor": "not-a-cursor"})
    assert_json_error(cursor, 422, "invalid_cursor")
    assert snapshot(api.store) == before
    assert client.get("/healthz").status_code == 200


def test_a_body_over_one_megabyte_is_413_and_nothing_is_read(api):
    client = api.client("admin")
    huge = {"name": "go", "data": "x" * (1024 * 1024)}
    assert_json_error(client.post("/api/v1/events", json=huge), 413, "body_too_large")

    def chunks():
        for _ in range(300):
            yield b"x" * 4096  # streamed without a Content-Length

    streamed = client.post("/api/v1/events", content=chunks())
    assert_json_error(streamed, 413, "body_too_large")
    assert api.store.events_for("go", run_id="", since=EPOCH) == []


@pytest.mark.parametrize(
    "run_id", ["..%2F..%2Fetc%2Fpasswd", "%2e%2e", "x" * 5000, "' OR 1=1 --", "%00"]
)
def test_odd_run_ids_are_just_unknown_runs(api, run_id):
    client = api.client("admin")
    for response in (
        client.get(f"/api/v1/runs/{run_id}"),
        client.post(f"/api/v1/runs/{run_id}/cancel"),
        client.post(f"/api/v1/runs/{run_id}/inputs/ok/approve", json={}),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] in ("run_not_found", "not_found")


def test_control_characters_in_text_are_refused_not_sent_to_the_store(api):
    client = api.client("admin")
    query = client.get("/api/v1/runs", params={"q": "a\x00b"})
    assert "query.q" in assert_json_error(query, 422, "invalid_request")["message"]
    body = client.post("/api/v1/events", json={"name": "go\x00"})
    assert "body.name" in assert_json_error(body, 422, "invalid_request")["message"]


def test_unknown_paths_and_methods_are_json_errors(api):
    client = api.client("admin")
    assert_json_error(client.get("/api/v1/nothing"), 404, "not_found")
    assert_json_error(client.get("/../../etc/passwd"), 404, "not_found")
    assert_json_error(client.delete("/api/v1/runs"), 405, "method_not_allowed")


def test_a_closed_store_is_503_with_a_hint(tmp_path):
    from legato.server.app import create_app

    store = SqliteStore(tmp_path / "legato.db")
    client = TestClient(create_app(store, allow_anonymous=True), raise_server_exceptions=False)
    assert client.get("/healthz").status_code == 200
    store.close()
    error = assert_json_error(client.get("/api/v1/runs"), 503, "store_unavailable")
    assert "retry" in error["hint"]
    assert_json_error(client.get("/healthz"), 503, "store_unavailable")


@pytest.mark.slow
def test_a_stopped_postgresql_is_503_and_the_server_recovers_when_it_is_back():
    from postgres_service import private_cluster

    from legato.server.app import create_app
    from legato.store.postgres import PostgresStore

    with private_cluster() as cluster:
        store = PostgresStore(
            cluster.url,
            connect_timeout=timedelta(seconds=2),
            reconnect_timeout=timedelta(seconds=1),
        )
        try:
            client = TestClient(
                create_app(store, allow_anonymous=True), raise_server_exceptions=False
            )
            assert client.get("/api/v1/runs").status_code == 200
            cluster.stop()
            down = client.get("/api/v1/runs")
            error = assert_json_error(down, 503, "store_unavailable")
            assert "retry" in error["hint"]
            cluster.start()
            for _ in range(30):
                if client.get("/api/v1/runs").status_code == 200:
                    break
            assert client.get("/api/v1/runs").json() == {"runs": [], "next_cursor": None}
        finally:
            store.close()
