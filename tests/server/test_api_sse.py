"""Following a run's logs: Server-Sent Events until the run ends, over a real uvicorn."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from server_helpers import state_of, work_until

from legato.states import RunState


@pytest.fixture
def served(api) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port; its base URL."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(api.app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start in 20 s"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(20)


def events_of(lines: Iterator[str]) -> Iterator[tuple[str, dict]]:
    kind = None
    for line in lines:
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: ") and kind is not None:
            yield kind, json.loads(line.removeprefix("data: "))
            kind = None


def test_following_logs_streams_lines_as_they_come_then_the_end(api, served):
    operator = {"Authorization": "Bearer secret-operator"}
    run_id = httpx.post(
        f"{served}/api/v1/runs", json={"target": "api_flows:gated"}, headers=operator
    ).json()["run_id"]
    work_until(api.store, lambda: state_of(api.store, run_id) is RunState.WAITING)
    received: list[tuple[str, dict]] = []
    url = f"{served}/api/v1/runs/{run_id}/logs"
    with httpx.stream(
        "GET",
        url,
        params={"follow": 1},
        headers={"Authorization": "Bearer secret-viewer"},
        timeout=30,
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        # The run is waiting: nothing logged yet. Let it go on while the stream is open.
        httpx.post(f"{served}/api/v1/events", json={"name": "go"}, headers=operator)
        work_until(api.store, lambda: state_of(api.store, run_id).is_final)
        received.extend(events_of(lines))
    assert received[0][0] == "log" and received[0][1]["message"] == "shouting at through"
    assert received[-1] == ("end", {"run_id": run_id, "state": "completed"})
