"""The live view of `legato run` / `legato runs resume` as a user reads it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .conftest import Cli

EVENT_FLOW = """
    from legato import flow, task, wait_for_event

    @task
    def prepare() -> int:
        return 1

    @flow
    def shipping() -> str:
        prepare()
        parcel = wait_for_event("parcel.arrived", timeout=600)
        return f"got {parcel}"
"""


def test_an_event_wait_resumed_later_shows_no_unknown_duration(cli: Cli) -> None:
    cli.write_flow("shipping.py", EVENT_FLOW)
    waiting = cli("run", "shipping.py:shipping")
    assert waiting.returncode == 3, waiting.stderr
    (run,) = cli.runs()
    sent = cli("events", "send", "parcel.arrived", "--data", '"box"')
    assert sent.returncode == 0, sent.stderr

    done = cli("runs", "resume", run["run_id"])

    assert done.returncode == 0, done.stderr
    (line,) = [line for line in done.stdout.splitlines() if "wait_for_event#0" in line]
    assert "completed" in line and " in -" not in line, done.stdout
    assert "got box" in done.stdout
