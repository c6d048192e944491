"""Where runs go by default, and flow-level options."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from legato import flow, task
from legato.errors import FlowTimeoutError
from legato.records import RunFilter
from legato.states import RunState
from legato.store import open_store

SCRIPT = """
from legato import flow, task

@task
def hello(name: str) -> str:
    return "hello " + name

@flow
def greet(name: str) -> str:
    return hello(name)

print(greet("ada"))
"""


def _run(tmp_path: Path, env: dict[str, str]) -> str:
    script = tmp_path / "greet.py"
    script.write_text(SCRIPT)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    out = subprocess.run(
        [sys.executable, str(script)], env={**clean, **env}, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_default_store_is_legato_db_in_the_home_folder(tmp_path: Path) -> None:
    assert _run(tmp_path, {"HOME": str(tmp_path)}) == "hello ada"
    store = open_store(f"sqlite:///{tmp_path / '.legato' / 'legato.db'}")
    (run,) = store.list_runs(RunFilter())
    assert run.flow_name == "greet" and run.state is RunState.COMPLETED
    assert run.target == f"{tmp_path / 'greet.py'}:greet"


def test_legato_db_selects_the_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    _run(tmp_path, {"HOME": str(tmp_path), "LEGATO_DB": url})
    assert len(open_store(url).list_runs(RunFilter())) == 1
    assert not (tmp_path / ".legato" / "legato.db").exists()


def test_bad_store_url_is_a_clear_error(tmp_path: Path) -> None:
    script = tmp_path / "greet.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "LEGATO_DB": "mysql://nope"}
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True)
    assert out.returncode != 0
    assert "mysql://nope" in out.stderr and "sqlite:///" in out.stderr


def test_flow_timeout_stops_the_run_at_the_next_step(store) -> None:
    ran = []

    @task
    def slow(i: int) -> None:
        ran.append(i)
        time.sleep(0.1)

    @flow(timeout=0.15)
    def bounded() -> None:
        for i in range(10):
            slow(i)

    with pytest.raises(FlowTimeoutError, match="timeout of 0.15s"):
        bounded()
    assert len(ran) < 10
    (run,) = store.list_runs(RunFilter())
    assert run.state is RunState.FAILED


def test_with_options_runs_on_an_explicit_store(store, tmp_path: Path) -> None:
    @task
    def one() -> int:
        return 1

    @flow
    def f() -> int:
        return one()

    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert f.with_options(store=other)() == 1
    assert len(open_store(other).list_runs(RunFilter())) == 1
    assert store.list_runs(RunFilter()) == []
