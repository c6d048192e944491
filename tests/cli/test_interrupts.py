"""A ``legato run`` killed (SIGKILL) or interrupted (Ctrl-C) resumes by replay: completed
steps are not run again."""

from __future__ import annotations

import json
import signal
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .conftest import Cli

LEDGER_FLOW = """
    import time
    from pathlib import Path
    from legato import flow, task

    HERE = Path(__file__).parent

    def note(text: str) -> None:
        with open(HERE / "ledger.txt", "a") as f:
            f.write(text + "\\n")

    @task
    def first() -> int:
        note("first")
        return 1

    @task
    def second(x: int) -> int:
        note("second started")
        deadline = time.monotonic() + 90
        while not (HERE / "gate").exists() and time.monotonic() < deadline:
            time.sleep(0.02)  # the test kills or interrupts us here
        note("second done")
        return x + 1

    @task
    def third(x: int) -> int:
        note("third")
        return x * 10

    @flow
    def ledger() -> int:
        return third(second(first()))
"""


@pytest.fixture
def ledger_flow(cli: Cli) -> str:
    cli.write_flow("ledger.py", LEDGER_FLOW)
    return "ledger.py:ledger"


def _ledger(cli: Cli) -> list[str]:
    path = cli.root / "ledger.txt"
    return path.read_text().splitlines() if path.exists() else []


def _start_and_wait_for_second(cli: Cli, target: str) -> tuple[object, str]:
    process = cli.start("run", target)
    cli.wait_for(lambda: "second started" in _ledger(cli), what="step second to start")
    (run,) = cli.runs()
    return process, str(run["run_id"])


def test_resume_after_sigkill_does_not_rerun_completed_steps(cli: Cli, ledger_flow: str) -> None:
    process, run_id = _start_and_wait_for_second(cli, ledger_flow)
    process.kill()  # type: ignore[attr-defined]
    process.wait(timeout=60)  # type: ignore[attr-defined]
    assert cli.run_state(run_id) == "running"  # nobody could record anything else

    (cli.root / "gate").touch()
    done = cli("runs", "resume", run_id)

    assert done.returncode == 0, done.stderr
    assert "ledger completed" in done.stdout and "20" in done.stdout
    assert _ledger(cli) == ["first", "second started", "second started", "second done", "third"]
    shown = cli.json("runs", "show", run_id)
    assert shown["state"] == "completed" and shown["result"] == 20
    assert [s["attempts"] for s in shown["steps"]] == [1, 2, 1]


def test_ctrl_c_pauses_the_run_until_resumed_and_no_worker_takes_it(
    cli: Cli, ledger_flow: str
) -> None:
    process, run_id = _start_and_wait_for_second(cli, ledger_flow)
    process.send_signal(signal.SIGINT)  # type: ignore[attr-defined]
    out, err = process.communicate(timeout=60)  # type: ignore[attr-defined]

    assert process.returncode == 130, (out, err)  # type: ignore[attr-defined]
    assert f"legato runs resume {run_id}" in err
    assert "Traceback" not in out + err
    shown = cli.json("runs", "show", run_id)
    assert shown["state"] == "paused"
    assert any("interrupted (Ctrl-C)" in (e["message"] or "") for e in shown["events"])

    # A worker started afterwards serves the queue but leaves the interrupted run alone.
    cli.write_flow("other.py", OTHER_FLOW)
    worker = cli.start("worker", "--poll", "0.05")
    try:
        other = cli("submit", "other.py:other").stdout.strip()
        cli.wait_for(lambda: cli.run_state(other) == "completed", what="the worker to serve")
    finally:
        worker.terminate()
        worker.communicate(timeout=60)
    assert cli.run_state(run_id) == "paused"
    assert _ledger(cli) == ["first", "second started"]

    (cli.root / "gate").touch()
    done = cli("runs", "resume", run_id, "--json")

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "run_id": run_id,
        "flow": "ledger",
        "state": "completed",
        "result": 20,
        "error": None,
    }
    assert _ledger(cli) == ["first", "second started", "second started", "second done", "third"]


OTHER_FLOW = """
    from legato import flow

    @flow
    def other() -> str:
        return "served"
"""


def test_resume_of_a_completed_run_reports_it(cli: Cli, ledger_flow: str) -> None:
    (cli.root / "gate").touch()
    first = json.loads(cli("run", ledger_flow, "--json").stdout)

    done = cli("runs", "resume", first["run_id"])

    assert done.returncode == 0, done.stderr
    assert f"Run {first['run_id']} had already completed" in done.stdout
    assert "nothing ran again" in done.stdout and "20" in done.stdout
    again = json.loads(cli("runs", "resume", first["run_id"], "--json").stdout)
    assert again == first
    assert _ledger(cli) == ["first", "second started", "second done", "third"]
