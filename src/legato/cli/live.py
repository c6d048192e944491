"""The live view of a run executing in the foreground (``legato run``, ``runs resume``).

``RunMonitor`` is an engine observer (``legato.engine.observer``): subscribed while the
run executes in this process, it receives the typed events of the run and of its child
runs, possibly from several threads at once. It prints one line per step transition
worth keeping (finished, retrying, failed; also started when the output is not a
terminal), and on a terminal keeps a live region below them with a spinner per running
step and a progress bar per task that has several steps (a mapped batch).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from legato.cli.render import ICONS, STATE_STYLES, format_seconds, format_time, seconds_between
from legato.clock import utcnow
from legato.engine.observer import Event, Observer, RunEvent, RunUpdated, StepEvent

LINES_PER_TASK = 3  # on a terminal, later steps of a task show only in its progress bar
MAX_RUNNING_ROWS = 12
FINAL_STEP_STATES = frozenset({"completed", "failed", "skipped", "cancelled"})
ACTIVE_STEP_STATES = frozenset({"running", "retrying", "waiting"})


@dataclass(slots=True)
class _Step:
    key: str
    task: str
    index: int
    state: str = "pending"
    attempt: int = 0
    started: datetime | None = None
    finished: datetime | None = None
    spinner: Spinner | None = None  # made when first drawn


@dataclass(slots=True)
class _Task:
    seen: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0
    other: int = 0  # skipped or cancelled


@dataclass(slots=True)
class _Run:
    run_id: str
    name: str
    depth: int
    started: datetime
    state: str = "running"
    steps: dict[str, _Step] = field(default_factory=dict)
    tasks: dict[str, _Task] = field(default_factory=dict)
    active: dict[str, _Step] = field(default_factory=dict)  # running, retrying or waiting
    spinner: Spinner = field(default_factory=lambda: Spinner("dots", style="cyan"))


class RunMonitor(Observer):
    """Follows one run and its child runs; subscribe it (``engine.observer.subscribe``)
    while the run executes here. Events of other runs are ignored.

    ``run_id``: the run to follow; None for a run about to start: the first run without
    a parent that starts in this process. ``animate``: keep a live region (default: on
    a real terminal). Otherwise every transition, starts included, is printed as a line:
    good for logs and pipes. ``quiet``: show nothing, only keep track (``--json`` without
    a terminal).
    """

    def __init__(
        self,
        console: Console,
        *,
        flow_name: str,
        run_id: str | None = None,
        animate: bool | None = None,
        quiet: bool = False,
    ) -> None:
        self.console = console
        self.flow_name = flow_name
        self.run_id = run_id  # the root run; learnt from the first event for a new run
        self.animate = (
            console.is_terminal and not console.is_dumb_terminal if animate is None else animate
        )
        self.quiet = quiet  # follow the run without showing anything
        if quiet:
            self.animate = False
        self._runs: dict[str, _Run] = {}
        self._model_lock = threading.Lock()  # the model; the refresh thread takes it briefly
        self._print_lock = threading.Lock()  # keeps printed lines in the order of events
        self._started = utcnow()
        self._broken = False

    # -- the observer --------------------------------------------------------------------

    def _receive(self, event: Event) -> None:
        if self._broken:
            return
        try:
            with self._print_lock:
                with self._model_lock:
                    lines = self._apply(event)
                if self.quiet:
                    return
                for line in lines:
                    self.console.print(line)
        except Exception as exc:  # noqa: BLE001 - a display bug must never fail the run
            self._broken = True
            self.animate = False
            self.console.print(Text(f"(live view stopped: {exc!r}; the run goes on)", "dim"))

    on_run_started = on_run_updated = on_run_waiting = _receive
    on_run_paused = on_run_finished = _receive
    on_step_submitted = on_step_started = on_step_retrying = _receive
    on_step_waiting = on_step_finished = _receive

    def _apply(self, event: Event) -> list[Text]:
        lines: list[Text] = []
        if isinstance(event, RunEvent):
            run = self._runs.get(event.run_id)
            if run is None:
                run = self._add_run(event)
                if run is None:
                    return lines  # neither this run nor one of its children
                if run.depth == 0:
                    lines.append(self._header(run))
            lines += self._apply_run(run, event)
        else:
            followed = self._runs.get(event.run_id)
            if followed is not None:
                lines += self._apply_step(followed, event)
        return lines

    def _header(self, run: _Run) -> Text:
        line = Text()
        line.append(format_time(utcnow(), date=False) + " ", style="dim")
        line.append(f"▶ {run.name}", style="bold")
        line.append(f"  run {run.run_id}")
        return line

    def _add_run(self, event: RunEvent) -> _Run | None:
        """Start following the root run or a child of a followed run; None for others."""
        parent = self._runs.get(event.parent_run_id or "")
        if event.run_id == self.run_id or (self.run_id is None and event.parent_run_id is None):
            self.run_id = event.run_id
            run = _Run(event.run_id, self.flow_name, 0, event.at)
        elif parent is not None:
            run = _Run(event.run_id, event.flow_name, parent.depth + 1, event.at)
        else:
            return None
        self._runs[event.run_id] = run
        return run

    def _apply_run(self, run: _Run, event: RunEvent) -> list[Text]:
        run.state = event.state.value
        # The final state of the root is summed up by the caller; a child's outcome shows
        # on its parent's step. Notes on a running run (resumed, retried) are news.
        if isinstance(event, RunUpdated) and event.state == "running" and event.message:
            return [self._line(run, "•", "", Text(event.message, style="dim"), style="dim")]
        return []

    def _apply_step(self, run: _Run, event: StepEvent) -> list[Text]:
        key = event.step_key
        state = event.state.value
        step = run.steps.get(key)
        if step is None:
            task, _, index = key.rpartition("#")
            step = _Step(key, task or key, int(index) if index.isdigit() else 0)
            run.steps[key] = step
            run.tasks.setdefault(step.task, _Task()).seen += 1
        if state == "pending":  # submitted: counted in its task's total, not shown
            return []
        previous = step.state
        step.state = state
        step.attempt = event.attempt or step.attempt
        counts = run.tasks[step.task]
        counts.running += (state == "running") - (previous == "running")
        if state in ACTIVE_STEP_STATES:
            run.active[key] = step
        else:
            run.active.pop(key, None)
        message = event.message or ""
        if state in ACTIVE_STEP_STATES and step.started is None:
            step.started = event.at  # a wait step never runs: it starts waiting
        if state == "running":
            return self._started_line(run, step, message)
        if state in FINAL_STEP_STATES:
            step.finished = event.at
            if previous not in FINAL_STEP_STATES:
                counts.done += state == "completed"
                counts.failed += state == "failed"
                counts.other += state not in ("completed", "failed")
            if state == "completed":
                del run.steps[key]  # memory stays bounded by the unfinished steps
        return self._finished_line(run, step, message)

    def _started_line(self, run: _Run, step: _Step, message: str) -> list[Text]:
        if self.animate:
            return []  # the live region shows it
        detail = f"attempt {step.attempt} started" if step.attempt > 1 else "started"
        if message:
            detail += f": {message}"
        return [self._line(run, ICONS["running"], step.key, Text(detail), style="cyan")]

    def _finished_line(self, run: _Run, step: _Step, message: str) -> list[Text]:
        state = step.state
        seconds = seconds_between(step.started, step.finished)
        took = format_seconds(seconds)
        if state == "completed":
            if self.animate and step.index >= LINES_PER_TASK:
                return []  # a batch: its progress bar tells the rest
            # A wait that began in another process: its start is not known here.
            detail = Text("completed" if seconds is None else f"completed in {took}")
            if message:
                detail.append(f" ({message})", style="dim")
        elif state == "failed":
            attempts = f"{step.attempt} attempt{'s' if step.attempt != 1 else ''}"
            took_text = "" if seconds is None else f" in {took}"
            detail = Text(f"failed after {attempts}{took_text}: {message}")
        elif state == "retrying":
            detail = Text(message or f"attempt {step.attempt} failed; retrying")
        else:
            detail = Text(state + (f": {message}" if message else ""))
        style = STATE_STYLES.get(state, "")
        return [self._line(run, ICONS.get(state, "•"), step.key, detail, style=style)]

    def _line(self, run: _Run, icon: str, key: str, detail: Text, *, style: str) -> Text:
        line = Text()
        line.append(format_time(utcnow(), date=False) + " ", style="dim")
        line.append("  " * run.depth)
        line.append(f"{icon} ", style=style)
        if run.depth:
            line.append(f"{run.name} › ", style="dim")
        if key:
            line.append(key + " ", style="bold")
        line.append_text(detail)
        return line

    # -- the live region -----------------------------------------------------------------

    def __rich__(self) -> RenderableType:
        if self._broken:
            return Text("")
        try:
            with self._model_lock:
                return self._render()
        except Exception:  # noqa: BLE001 - a display bug must never fail the run
            self._broken = True
            return Text("")

    def _render(self) -> RenderableType:
        now = utcnow()
        root = self._runs.get(self.run_id or "")
        header = Table.grid(padding=(0, 1))
        header.add_row(
            self._spinner_for(root),
            Text(self.flow_name, style="bold"),
            Text(f"run {self.run_id}" if self.run_id else "starting", style="dim"),
            format_seconds(seconds_between(root.started if root else self._started, now)),
        )
        table = Table.grid(padding=(0, 1))
        table.add_column(width=2)
        table.add_column()
        table.add_column()
        table.add_column(justify="right")
        rows = 0
        hidden = 0
        for run in self._runs.values():
            if run.depth and run.state != "running":
                continue
            indent = "  " * run.depth
            if run.depth:
                label = Text(f"{indent}{run.name}", style="bold")
                table.add_row(
                    run.spinner,
                    label,
                    Text(f"child run {run.run_id}", style="dim"),
                    format_seconds(seconds_between(run.started, now)),
                )
            for name, counts in run.tasks.items():
                if counts.seen >= 2:
                    table.add_row(
                        Text(""), Text(f"{indent}{name}"), _bar(counts), _counts_text(counts)
                    )
            for step in run.active.values():
                if run.tasks[step.task].seen >= 2 and step.state == "running":
                    continue  # counted in its task's bar
                if rows >= MAX_RUNNING_ROWS:
                    hidden += 1
                    continue
                rows += 1
                detail = Text(step.state, style=STATE_STYLES.get(step.state, ""))
                if step.attempt > 1:
                    detail.append(f" (attempt {step.attempt})", style="dim")
                detail.append(f" {format_seconds(seconds_between(step.started, now))}")
                table.add_row(
                    _spinner(step) if step.state == "running" else Text(ICONS.get(step.state, "")),
                    Text(f"{indent}{step.key}"),
                    detail,
                    Text(""),
                )
        if hidden:
            table.add_row(Text(""), Text(f"… and {hidden} more", style="dim"), Text(""), Text(""))
        return Group(header, table) if table.row_count else header

    def _spinner_for(self, run: _Run | None) -> RenderableType:
        return run.spinner if run is not None else Spinner("dots", style="cyan")

    # -- showing it ----------------------------------------------------------------------

    @contextlib.contextmanager
    def showing(self) -> Iterator[RunMonitor]:
        """Keep the live region on screen while the block runs (terminals only)."""
        if not self.animate:
            yield self
            return
        with Live(self, console=self.console, refresh_per_second=8, transient=True):
            yield self


def _spinner(step: _Step) -> Spinner:
    if step.spinner is None:
        step.spinner = Spinner("dots", style="cyan")
    return step.spinner


def _bar(counts: _Task) -> RenderableType:
    finished = counts.done + counts.failed + counts.other
    style = "red" if counts.failed else "green" if finished == counts.seen else "cyan"
    return ProgressBar(
        total=counts.seen,
        completed=finished,
        width=30,
        complete_style=style,
        finished_style=style,
    )


def _counts_text(counts: _Task) -> Text:
    text = Text(f"{counts.done}/{counts.seen}")
    if counts.running:
        text.append(f"  {counts.running} running", style="cyan")
    if counts.failed:
        text.append(f"  {counts.failed} failed", style="red")
    return text
