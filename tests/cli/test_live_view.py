"""The live view of `legato run` / `legato runs resume` as a user reads it."""

from __future__ import annotations

import io
import threading
from typing import TYPE_CHECKING

from rich.console import Console

from legato import flow, task
from legato.cli.live import RunMonitor
from legato.engine.observer import subscribe
from legato.store.base import Store

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


NESTED_FLOW = """
    from legato import flow, task

    @task
    def pack(item: str) -> str:
        return f"packed {item}"

    @task
    def label(item: str) -> str:
        raise ValueError(f"no address for {item}")

    @flow
    def parcel(item: str) -> str:
        return pack(item)

    @flow
    def broken_parcel(item: str) -> str:
        return label(item)

    @flow
    def order() -> str:
        first = parcel("book")
        try:
            broken_parcel("lamp")
        except ValueError:
            pass
        return first
"""


def test_child_runs_show_their_steps_under_their_flow_name(cli: Cli) -> None:
    cli.write_flow("order.py", NESTED_FLOW)

    done = cli("run", "order.py:order")

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    (packed,) = [line for line in lines if "pack#0" in line and "completed" in line]
    assert "parcel › pack#0" in packed, done.stdout
    (failed,) = [line for line in lines if "› label#0" in line and "failed" in line]
    assert "broken_parcel › label#0" in failed and "no address for lamp" in failed
    (child_step,) = [line for line in lines if "broken_parcel#0" in line and "failed" in line]
    assert "›" not in child_step  # the parent's own step, one level up
    assert child_step.index("✗") < packed.index("✓")  # indented less than the child's
    assert "order completed" in done.stdout


GATE = threading.Event()
BUSY = threading.Event()


@task
def elsewhere() -> str:
    return "other"


@flow
def unrelated() -> str:
    return elsewhere()


@task
def mine() -> int:
    BUSY.set()
    GATE.wait(10)  # another run starts, runs and ends in this process meanwhile
    return 1


@flow
def followed() -> int:
    return mine()


def test_the_live_view_shows_only_its_own_run_among_others_in_the_process(
    sqlite_store: Store,
) -> None:
    GATE.clear()
    BUSY.clear()
    console = Console(file=io.StringIO(), width=200, no_color=True)
    monitor = RunMonitor(console, flow_name="followed", animate=False)

    with subscribe(monitor):
        handle = followed.start()
        assert BUSY.wait(10)
        other = unrelated.run()
        GATE.set()
        assert handle.result(timeout=10) == 1

    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert other.result() == "other"
    assert monitor.run_id == handle.run_id
    assert f"▶ followed  run {handle.run_id}" in shown
    assert "mine#0 completed" in shown
    assert "elsewhere" not in shown and other.run_id not in shown
