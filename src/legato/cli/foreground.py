"""Executing a run in this process (``legato run``, ``legato runs resume``): the live
view, Ctrl-C, the outcome, and the exit code.

Ctrl-C: the engine records the run as ``paused`` (with an "interrupted" event), so that no
worker takes it up unasked, and re-raises ``KeyboardInterrupt``; we say how to resume and leave with 130 through
``os._exit``, so that no pool thread still finishing a step can hold the process. A
second Ctrl-C leaves at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from legato.cli.console import (
    EXIT_CANCELLED,
    EXIT_COMPLETED,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_WAITING,
    err,
    out,
    user_errors,
    write_json,
)
from legato.cli.live import RunMonitor
from legato.cli.render import ICONS, STATE_STYLES, format_duration, format_time
from legato.cli.values import plain_json, shown
from legato.engine.observer import subscribe
from legato.records import ChildWait, EventWait, InputWait, parse_wait

if TYPE_CHECKING:
    from legato.engine.handles import RunHandle
    from legato.records import RunRecord
    from legato.store.base import Store

Start = Callable[[], "RunHandle"]

EXIT_BY_STATE = {
    "completed": EXIT_COMPLETED,
    "failed": EXIT_FAILED,
    "cancelled": EXIT_CANCELLED,
    "waiting": EXIT_WAITING,
    "paused": EXIT_WAITING,
    "pending": EXIT_INTERRUPTED,
}


def follow(
    start: Start,
    *,
    store: Store,
    flow_name: str,
    run_id: str | None = None,
    json_output: bool = False,
) -> NoReturn:
    """Start (or resume) the run with ``start()``, show it, exit with its code.

    The live view follows the run through the engine's observer hook, subscribed while
    ``start`` executes the run (and its child runs) in this process."""
    console = err() if json_output else out()
    quiet = json_output and not console.is_terminal
    monitor = RunMonitor(console, flow_name=flow_name, run_id=run_id, quiet=quiet)
    try:
        with (
            _second_interrupt_exits(lambda: monitor.run_id),
            _stdout_to_stderr(json_output),
            monitor.showing(),
            subscribe(monitor),
        ):
            with user_errors():
                handle = start()
    except KeyboardInterrupt:
        _interrupted(store, monitor.run_id, flow_name, json_output=json_output)
    _report(handle, json_output=json_output)


def _report(handle: RunHandle, *, json_output: bool) -> NoReturn:
    value: Any = None
    with user_errors():
        record = handle.record
        if record.state.value == "completed":
            value = handle.result()
    state = record.state.value
    if json_output:
        write_json(
            {
                "run_id": record.run_id,
                "flow": record.flow_name,
                "state": state,
                "result": plain_json(value),
                "error": _error_json(record),
            }
        )
    else:
        out().print(outcome(record, value))
    raise typer.Exit(EXIT_BY_STATE.get(state, EXIT_FAILED))


def outcome(record: RunRecord, value: Any) -> Group:
    """The end of a foreground run: state, run id, result or error, what to do next."""
    state = record.state.value
    headline = Text(f"{ICONS.get(state, '•')} {record.flow_name} {state}")
    headline.stylize(STATE_STYLES.get(state, "") or "bold")
    if record.finished_at is not None and record.started_at is not None:
        headline.append(f" in {format_duration(record.started_at, record.finished_at)}")
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("  run", record.run_id)
    if state == "completed":
        note = f"(shortened: legato runs result {record.run_id} > result.json saves all of it)"
        grid.add_row("  result", shown(value, note=note))
    elif record.error is not None:
        grid.add_row("  error", Text(record.error.summary(), style="red"))
        grid.add_row("  details", f"legato runs show {record.run_id} --traceback")
    spec = parse_wait(record.waiting_for) if state == "waiting" else None
    if isinstance(spec, InputWait):
        grid.add_row("  answer", f"legato approve {record.run_id} {spec.name} --input JSON")
        grid.add_row("", f"legato reject {record.run_id} {spec.name} --reason TEXT")
    elif isinstance(spec, ChildWait):
        child = spec.run_id
        grid.add_row("  child", f"waits for child run {child}: legato runs show {child}")
    elif isinstance(spec, EventWait):
        grid.add_row("  event", f"legato events send {spec.name} --data JSON")
    if state == "waiting" and record.wake_at is not None:
        grid.add_row(
            "  wakes", f"{format_time(record.wake_at)}: a worker (legato worker) resumes it"
        )
    if state in ("waiting", "paused", "pending"):
        grid.add_row("  resume", f"legato runs resume {record.run_id}")
    return Group(headline, grid)


def _error_json(record: RunRecord) -> dict[str, str] | None:
    if record.error is None:
        return None
    return {"type": record.error.type, "message": record.error.message}


def _interrupted(
    store: Store, run_id: str | None, flow_name: str, *, json_output: bool
) -> NoReturn:
    """Say what became of the run after Ctrl-C, then leave at once with 130."""
    state = None
    if run_id is not None:
        with contextlib.suppress(Exception):
            state = store.get_run(run_id).state.value
    if run_id is None:
        message = "Interrupted before the run started; nothing was recorded."
    elif state == "paused":
        message = (
            f"Interrupted: run {run_id} is paused; no worker takes it up. Continue it here "
            f"with: legato runs resume {run_id} (or hand it to a worker: legato runs "
            f"unpause {run_id})"
        )
    else:
        message = (
            f"Interrupted: run {run_id} is {state or 'unknown'}. Once this process has exited "
            f"you can resume it with: legato runs resume {run_id}"
        )
    err().print(Text(message, style="yellow"))
    if json_output:
        write_json(
            {
                "run_id": run_id,
                "flow": flow_name,
                "state": state,
                "result": None,
                "error": {"type": "KeyboardInterrupt", "message": "interrupted by Ctrl-C"},
            }
        )
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)


@contextlib.contextmanager
def _second_interrupt_exits(run_id: Callable[[], str | None]) -> Iterator[None]:
    """The first Ctrl-C interrupts the flow (the engine records it); a second one leaves
    at once, in case the steps still running take long to finish."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # a background job: keep it so
    ):
        yield
        return
    pressed = [0]

    def on_sigint(signum: int, frame: Any) -> None:
        pressed[0] += 1
        if pressed[0] > 1:
            current = run_id()
            hint = f" Resume it with: legato runs resume {current}" if current else ""
            os.write(2, f"\nInterrupted again: exiting now.{hint}\n".encode())
            os._exit(EXIT_INTERRUPTED)
        os.write(2, b"\nInterrupting (press Ctrl-C again to quit at once)...\n")
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _stdout_to_stderr(enabled: bool) -> Iterator[None]:
    """With --json, whatever the flow prints goes to stderr: stdout holds only the JSON."""
    if not enabled:
        yield
        return
    with contextlib.redirect_stdout(sys.stderr):
        yield
