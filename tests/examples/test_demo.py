"""``make demo``: examples/demo.py runs the seed examples through the real CLI."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from legato import RunState
from legato.records import RunFilter
from legato.store import open_store

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.py"


def load_demo():
    spec = importlib.util.spec_from_file_location("legato_demo_script", DEMO)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(
    importlib.util.find_spec("legato.cli.main") is None, reason="the legato CLI is not built yet"
)
def test_demo_runs_every_example_to_completion_on_the_given_store(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'demo.db'}"

    done = subprocess.run(
        [sys.executable, str(DEMO)],
        env={**os.environ, "LEGATO_DB": db_url},
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    store = open_store(db_url)
    try:
        runs = store.list_runs(RunFilter(limit=100))
    finally:
        store.close()
    demo = load_demo()
    assert len(runs) == len(demo.RUNS)
    assert all(run.state is RunState.COMPLETED for run in runs)
    assert {run.flow_name for run in runs} >= {
        "Simple_Sequence",
        "Conditional_Path",
        "Parallel_Execution",
        "Orchestration_Diagram",
    }


def test_demo_targets_name_existing_flows():
    demo = load_demo()

    for _, target, _ in demo.RUNS:
        path, _, name = target.rpartition(":")
        source = (DEMO.parent.parent / path).read_text()
        assert f"def {name}(" in source, target
