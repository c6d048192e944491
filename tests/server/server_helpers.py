"""Helpers of the server tests: the app with a client per token, running what the API
submits, and a snapshot of everything an API write could change."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from legato.states import RunState
from legato.store.run_search import RunQuery
from legato.store.tokens import Role, TokenRecord, hash_token


@dataclass
class Api:
    """The app over ``store``, with one token per role (the token's name is the role)."""

    store: Any
    app: Any

    def client(self, role: str | None = "admin", **headers: str) -> TestClient:
        client = TestClient(self.app, raise_server_exceptions=False)
        if role is not None:
            client.headers["Authorization"] = f"Bearer secret-{role}"
        client.headers.update(headers)
        return client


def add_tokens(store: Any, *names: str, role: Role | None = None) -> None:
    for name in names:
        store.create_token(
            TokenRecord(
                name=name,
                role=role or Role(name),
                token_hash=hash_token(f"secret-{name}"),
                created_at=datetime.now(UTC),
            )
        )


def work_until(store: Any, done: Callable[[], bool]) -> None:
    """An in-process worker takes due runs until ``done()`` holds (20 s at most)."""
    from legato.worker import Worker

    worker = Worker(store)
    deadline = time.monotonic() + 20
    while not done():
        assert time.monotonic() < deadline, "the run did not get there in 20 s"
        worker.tick()
        time.sleep(0.02)
    while worker.active() and time.monotonic() < deadline:
        time.sleep(0.01)


def state_of(store: Any, run_id: str) -> RunState:
    return store.get_run(run_id).state


def snapshot(store: Any) -> Any:
    """Everything an API write could change: runs, their steps, history and answers,
    deployments and their fires."""
    runs = store.search_runs(RunQuery(limit=1000))
    deployments = store.list_deployments()
    return (
        deployments,
        [store.list_fires(d.name) for d in deployments],
        runs,
        [store.get_steps(run.run_id) for run in runs],
        [store.get_events(run.run_id) for run in runs],
        store.open_inputs(1000),
        store.events_for("go", run_id="", since=datetime(2000, 1, 1, tzinfo=UTC)),
    )
