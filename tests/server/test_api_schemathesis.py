"""schemathesis against ``/openapi.json``: cases generated from the API's own schema, sent
to the real app on SQLite with an admin token, never get a 5xx nor an answer that breaks
the schema (an undocumented status code, a body or content type other than documented).

The store holds a deployment, a completed run and a run waiting for an input, so that
generated requests meet real records as well as unknown ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is in the dev extra")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from server_helpers import add_tokens, state_of, work_until  # noqa: E402

from legato.states import RunState  # noqa: E402
from legato.store import SqliteStore  # noqa: E402

pytestmark = pytest.mark.slow

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
ADMIN = {"Authorization": "Bearer secret-admin"}
EXAMPLES = 25  # per operation


@pytest.fixture(scope="module")
def seeded_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from legato.scheduler.cron import Every
    from legato.scheduler.deployments import deploy
    from legato.server.app import create_app

    store = SqliteStore(Path(tmp_path_factory.mktemp("schemathesis")) / "legato.db")
    add_tokens(store, "admin")
    deploy(
        "api_flows:greet",
        name="nightly",
        triggers=[Every("1h")],
        params={"name": "x"},
        store=store,
    )
    app = create_app(store, poll_interval=0.01)
    client = TestClient(app, headers=ADMIN)
    done = client.post("/api/v1/runs", json={"target": "api_flows:greet", "params": {"name": "a"}})
    asking = client.post("/api/v1/runs", json={"target": "api_flows:anyone"})
    work_until(store, lambda: state_of(store, done.json()["run_id"]).is_final)
    work_until(store, lambda: state_of(store, asking.json()["run_id"]) is RunState.WAITING)
    yield app
    store.close()


def test_generated_requests_get_no_5xx_and_answers_that_match_the_schema(seeded_app: Any) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", seeded_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20  # every route is in the document
    failures = []
    for operation in operations:
        for mode in schemathesis.GenerationMode:
            try:
                check_operation(operation, mode)
            except Unsatisfiable:
                continue  # nothing to get wrong: no parameters, no body
            except (AssertionError, BaseExceptionGroup) as exc:  # schemathesis: a failure group
                failures.append(f"{mode.value} {operation.method.upper()} {operation.path}: {exc}")
    assert failures == [], "\n\n".join(failures)


def check_operation(operation: Any, mode: Any) -> None:
    """Cases valid by the schema (positive) and invalid ones (negative: wrong types,
    missing fields, odd text) for one operation."""

    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def generated(case: Any) -> None:
        if (
            case.path.endswith("/logs")
            and isinstance(case.query, dict)
            and case.query.get("follow")
        ):
            case.query["follow"] = False  # a followed log streams until its run ends
        case.call_and_validate(headers=ADMIN, checks=CHECKS)

    generated()
