"""Each example runs as a script (its ``__main__`` block) and leaves a durable run behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from legato import RunState
from legato.records import RunFilter
from legato.store import open_store

SEED = Path(__file__).resolve().parents[2] / "examples" / "seed"

SCRIPTS = [
    ("sequential", [], "4 regions, total sales 500, top region east", "Simple_Sequence"),
    ("conditional", ["The", "app", "is", "broken"], "'queue': 'support'", "Conditional_Path"),
    ("parallel", [], "'total': 157", "Parallel_Execution"),
    ("pipeline", [], "'processed': True", "pipeline"),
    ("onboarding", [], "'message': 'Welcome!'", "Customer_Onboarding"),
    ("incident_response", [], "'paged': 'DBA_OnCall'", "IT_Incident_Response"),
    ("diagram", [], "'outcome': 'success'", "Orchestration_Diagram"),
]


def run_script(name: str, args: list[str], db_url: str) -> str:
    env = {**os.environ, "LEGATO_DB": db_url}
    done = subprocess.run(
        [sys.executable, str(SEED / f"{name}.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def only_run(db_url: str):
    store = open_store(db_url)
    try:
        runs = store.list_runs(RunFilter())
    finally:
        store.close()
    assert len(runs) == 1, runs
    return runs[0]


@pytest.mark.parametrize(("name", "args", "printed", "flow_name"), SCRIPTS)
def test_script_prints_the_result_and_records_the_run(tmp_path, name, args, printed, flow_name):
    db_url = f"sqlite:///{tmp_path / 'script.db'}"

    out = run_script(name, args, db_url)

    assert printed in out.strip().splitlines()[-1]
    run = only_run(db_url)
    assert run.flow_name == flow_name
    assert run.state is RunState.COMPLETED


def test_api_script_takes_the_url_as_its_argument(tmp_path, api):
    db_url = f"sqlite:///{tmp_path / 'script.db'}"

    out = run_script("api_flow", [api.url], db_url)

    assert "Extracted Title: delectus aut autem" in out
    assert out.strip().splitlines()[-1] == "delectus aut autem"
    assert only_run(db_url).flow_name == "API Data Extraction Flow"
