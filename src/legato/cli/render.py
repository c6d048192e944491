"""How records look in a terminal (rich tables and trees) and in ``--json`` output."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from itertools import groupby
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.pretty import Pretty
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

if TYPE_CHECKING:
    from legato.records import ErrorInfo, EventRecord, LogRecord, RunRecord, StepRecord
    from legato.store.base import Store

STATE_STYLES = {
    "pending": "dim",
    "running": "cyan",
    "retrying": "yellow",
    "waiting": "magenta",
    "paused": "blue",
    "completed": "green",
    "failed": "bold red",
    "cancelled": "red",
    "skipped": "dim",
}
ICONS = {
    "pending": "·",
    "running": "▸",
    "retrying": "↻",
    "waiting": "⏸",
    "paused": "⏸",
    "completed": "✓",
    "failed": "✗",
    "cancelled": "⊘",
    "skipped": "–",
}
MAX_CHILD_DEPTH = 20  # runs show nests child runs at most this deep
GROUP_AT = 5  # runs show folds this many consecutive completed steps of one task into a line


# -- small pieces -----------------------------------------------------------------------


def state_text(state: str, *, icon: bool = False) -> Text:
    label = f"{ICONS.get(state, '?')} {state}" if icon else state
    return Text(label, style=STATE_STYLES.get(state, ""))


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max((end - start).total_seconds(), 0.0)


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def format_duration(start: datetime | None, end: datetime | None) -> str:
    return format_seconds(seconds_between(start, end))


def format_time(at: datetime | None, *, date: bool = True) -> str:
    """Local time, to the second: what a person at this terminal reads most easily."""
    if at is None:
        return "-"
    local = at.astimezone()
    return local.strftime("%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S")


def iso(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(UTC).isoformat()


def decode_payload(text: str | None, serializer: str) -> Any:
    """A stored result or parameters as a Python value, for display only.

    Pickled payloads are never unpickled here; text that cannot be decoded (a class that
    no longer imports) is shown as stored.
    """
    if text is None:
        return None
    if serializer != "json":
        return f"<{serializer} payload, {len(text)} characters>"
    from legato.errors import SerializationError
    from legato.serialization import loads

    try:
        return loads(text, serializer)
    except SerializationError:
        return text


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data (datetimes as ISO text, models as dicts, bytes as
    URL-safe base64 text, since bytes need not be UTF-8)."""
    from pydantic_core import to_jsonable_python

    return to_jsonable_python(value, fallback=repr, bytes_mode="base64")


def error_json(error: ErrorInfo | None, *, traceback: bool = False) -> dict[str, str] | None:
    if error is None:
        return None
    data = {"type": error.type, "message": error.message}
    if traceback and error.traceback:
        data["traceback"] = error.traceback
    return data


# -- JSON -------------------------------------------------------------------------------


def run_json(run: RunRecord) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "flow": run.flow_name,
        "state": run.state.value,
        "created_at": iso(run.created_at),
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "duration_seconds": seconds_between(run.started_at, run.finished_at),
        "target": run.target,
        "params": jsonable(decode_payload(run.params, "json")),
        "result": jsonable(decode_payload(run.result, run.serializer)),
        "error": error_json(run.error, traceback=True),
        "parent_run_id": run.parent_run_id,
        "parent_step_key": run.parent_step_key,
        "owner": run.owner,
        "tags": list(run.tags),
        "queue": run.queue,
        "priority": run.priority,
        "idempotency_key": run.idempotency_key,
        "lease_epoch": run.lease_epoch,
        "lease_expires_at": iso(run.lease_expires_at),
    }


def step_json(step: StepRecord) -> dict[str, Any]:
    return {
        "key": step.key,
        "seq": step.seq,
        "task": step.task_name,
        "state": step.state.value,
        "attempts": step.attempts,
        "started_at": iso(step.started_at),
        "finished_at": iso(step.finished_at),
        "duration_seconds": seconds_between(step.started_at, step.finished_at),
        "result": jsonable(decode_payload(step.result, step.serializer)),
        "error": error_json(step.error, traceback=True),
        "child_run_id": step.child_run_id,
        "cached": step.cached,
    }


def event_json(event: EventRecord) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": iso(event.at),
        "kind": event.kind,
        "state": event.state,
        "step_key": event.step_key,
        "attempt": event.attempt,
        "message": event.message,
        "by": event.by,
    }


def log_json(log: LogRecord) -> dict[str, Any]:
    return {"at": iso(log.at), "level": log.level, "step_key": log.step_key, "message": log.message}


def run_tree_json(store: Store, run: RunRecord, *, depth: int = 0) -> dict[str, Any]:
    """The run with its steps; a step that started a child run carries it, recursively."""
    data = run_json(run)
    steps = []
    for step in store.get_steps(run.run_id):
        item = step_json(step)
        child = _child_run(store, step) if depth < MAX_CHILD_DEPTH else None
        if child is not None:
            item["child_run"] = run_tree_json(store, child, depth=depth + 1)
        steps.append(item)
    data["steps"] = steps
    return data


def _child_run(store: Store, step: StepRecord) -> RunRecord | None:
    from legato.errors import RunNotFoundError

    if not step.child_run_id:
        return None
    try:
        return store.get_run(step.child_run_id)
    except RunNotFoundError:
        return None


# -- tables and trees -------------------------------------------------------------------


def runs_table(runs: Sequence[RunRecord], *, width: int) -> Table:
    """Runs, one a line. A child run's flow is marked ``↳``; its parent id gets a column
    when the terminal is wide enough."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("RUN ID", no_wrap=True)
    table.add_column("FLOW", no_wrap=True)
    table.add_column("STATE", no_wrap=True)
    table.add_column("STARTED", no_wrap=True)
    table.add_column("DURATION", no_wrap=True, justify="right")
    with_parent = width >= 120 and any(run.parent_run_id for run in runs)
    if with_parent:
        table.add_column("PARENT", no_wrap=True)
    for run in runs:
        flow = Text()
        if run.parent_run_id:
            flow.append("↳ ", style="dim")
        flow.append(run.flow_name)
        row: list[RenderableType] = [
            run.run_id,
            flow,
            state_text(run.state.value),
            _short_time(run.started_at or run.created_at),
            format_duration(run.started_at, run.finished_at),
        ]
        if with_parent:
            row.append(Text(run.parent_run_id or "", style="dim"))
        table.add_row(*row)
    return table


def _short_time(at: datetime) -> str:
    local = at.astimezone()
    return local.strftime("%m-%d %H:%M:%S")


def run_details(run: RunRecord) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("Run", run.run_id)
    flow = Text(run.flow_name)
    if run.target:
        flow.append(f"  ({run.target})", style="dim")
    grid.add_row("Flow", flow)
    grid.add_row("State", state_text(run.state.value))
    grid.add_row("Params", Pretty(decode_payload(run.params, "json")))
    grid.add_row("Created", format_time(run.created_at))
    if run.started_at:
        grid.add_row("Started", format_time(run.started_at))
    if run.finished_at:
        took = format_duration(run.started_at, run.finished_at)
        grid.add_row("Finished", f"{format_time(run.finished_at)}  ({took})")
    if run.owner:
        owner = Text(run.owner)
        if run.lease_expires_at is not None:
            owner.append(
                f"  (lease until {format_time(run.lease_expires_at)}, epoch {run.lease_epoch})",
                style="dim",
            )
        grid.add_row("Owner", owner)
    if run.queue != "default" or run.priority or run.idempotency_key:
        queue = Text(run.queue)
        if run.priority:
            queue.append(f"  priority {run.priority}")
        if run.idempotency_key:
            queue.append(f"  key {run.idempotency_key}", style="dim")
        grid.add_row("Queue", queue)
    if run.tags:
        grid.add_row("Tags", Text(", ".join(run.tags)))
    if run.parent_run_id:
        grid.add_row("Parent", Text(f"{run.parent_run_id}, step {run.parent_step_key}"))
    if run.result is not None:
        grid.add_row("Result", Pretty(decode_payload(run.result, run.serializer)))
    if run.error is not None:
        grid.add_row("Error", Text(run.error.summary(), style="red"))
    return grid


def events_table(events: Sequence[EventRecord], *, hidden: int = 0) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("TIME", "WHAT", "STATE", "ATTEMPT", "MESSAGE"):
        table.add_column(column, no_wrap=column != "MESSAGE")
    if hidden:
        table.add_row("", Text(f"… {hidden} earlier events (--all shows them)", style="dim"))
    for event in events:
        what = event.step_key if event.kind == "step" else "run"
        message = Text(event.message or "")
        if event.by:
            message.append(f" (by {event.by})", style="dim")
        table.add_row(
            format_time(event.at, date=False),
            Text(what or ""),
            state_text(event.state),
            str(event.attempt) if event.attempt else "",
            message,
        )
    return table


def steps_tree(store: Store, run: RunRecord, *, fold: bool = True, traceback: bool = False) -> Tree:
    """The run's steps in program order; a child run's steps nest under its step."""
    tree = Tree(_run_label(run), guide_style="dim")
    _add_steps(tree, store, run, fold=fold, traceback=traceback, depth=0, seen={run.run_id})
    return tree


def _run_label(run: RunRecord) -> Text:
    label = Text()
    label.append(run.flow_name, style="bold")
    label.append(f"  {run.run_id}  ", style="dim")
    label.append_text(state_text(run.state.value, icon=True))
    if run.finished_at:
        label.append(f"  {format_duration(run.started_at, run.finished_at)}")
    return label


def _add_steps(
    node: Tree,
    store: Store,
    run: RunRecord,
    *,
    fold: bool,
    traceback: bool,
    depth: int,
    seen: set[str],
) -> None:
    steps = store.get_steps(run.run_id)
    if not steps:
        node.add(Text("no steps recorded", style="dim"))
        return
    width = max(len(s.key) for s in steps)
    for item in _fold(steps) if fold else steps:
        if isinstance(item, list):
            node.add(_folded_label(item))
            continue
        branch = node.add(_step_label(item, width))
        if item.error is not None and item.state.value in ("failed", "retrying"):
            if traceback and item.error.traceback:
                branch.add(Text(item.error.traceback.rstrip(), style="red"))
        child = _child_run(store, item)
        if child is None or child.run_id in seen:
            continue
        child_node = branch.add(_run_label(child))
        if depth + 1 >= MAX_CHILD_DEPTH:
            child_node.add(Text(f"… see legato runs show {child.run_id}", style="dim"))
            continue
        _add_steps(
            child_node,
            store,
            child,
            fold=fold,
            traceback=traceback,
            depth=depth + 1,
            seen=seen | {child.run_id},
        )


def _step_label(step: StepRecord, width: int) -> Text:
    state = step.state.value
    label = Text()
    label.append(f"{ICONS.get(state, '?')} ", style=STATE_STYLES.get(state, ""))
    label.append(step.key.ljust(width))
    label.append("  ")
    label.append(state.ljust(9), style=STATE_STYLES.get(state, ""))
    attempts = f"{step.attempts} attempt{'s' if step.attempts != 1 else ''}"
    label.append(f"  {attempts:<10}  {format_time(step.started_at, date=False)}")
    label.append(f"  {format_duration(step.started_at, step.finished_at):>8}")
    if step.cached:
        label.append("  cached", style="dim")
    if step.child_run_id:
        label.append(f"  child run {step.child_run_id}", style="dim")
    if step.error is not None and state != "completed":
        label.append(f"  {step.error.summary()}", style="red")
    return label


def _fold(steps: Iterable[StepRecord]) -> list[StepRecord | list[StepRecord]]:
    """Runs of GROUP_AT or more completed steps of one task become one list (one line)."""
    items: list[StepRecord | list[StepRecord]] = []
    for _, group in groupby(steps, key=lambda s: s.task_name):
        members = list(group)
        done = [s for s in members if s.state.value == "completed" and not s.child_run_id]
        if len(done) < GROUP_AT:
            items.extend(members)
            continue
        folded = {id(s) for s in done}
        items.append(done)
        items.extend(s for s in members if id(s) not in folded)
    return items


def _folded_label(steps: list[StepRecord]) -> Text:
    starts = [s.started_at for s in steps if s.started_at]
    ends = [s.finished_at for s in steps if s.finished_at]
    span = format_duration(min(starts), max(ends)) if starts and ends else "-"
    retried = sum(1 for s in steps if s.attempts > 1)
    label = Text()
    label.append("✓ ", style="green")
    label.append(f"{steps[0].key} … {steps[-1].key}")
    label.append(f"  {len(steps)} steps completed", style="green")
    label.append(f"  in {span}")
    if retried:
        label.append(f"  ({retried} retried)", style="yellow")
    label.append("  (--all lists each)", style="dim")
    return label


def logs_table(logs: Sequence[LogRecord]) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("TIME", "LEVEL", "STEP", "MESSAGE"):
        table.add_column(column, no_wrap=column != "MESSAGE")
    styles = {"WARNING": "yellow", "ERROR": "red", "CRITICAL": "bold red", "DEBUG": "dim"}
    for log in logs:
        at = log.at.astimezone()
        table.add_row(
            at.strftime("%H:%M:%S.") + f"{at.microsecond // 1000:03d}",
            Text(log.level, style=styles.get(log.level, "")),
            Text(log.step_key or "(flow)", style="dim" if log.step_key is None else ""),
            Text(log.message),
        )
    return table


def show_run(store: Store, run: RunRecord, *, everything: bool, traceback: bool) -> Group:
    """``legato runs show``: details, history, steps."""
    events = store.get_events(run.run_id)
    limit = 100
    hidden = 0 if everything else max(len(events) - limit, 0)
    parts: list[RenderableType] = [
        run_details(run),
        Text(""),
        Text("History", style="bold underline"),
        events_table(events[hidden:], hidden=hidden),
        Text(""),
        Text("Steps", style="bold underline"),
        steps_tree(store, run, fold=not everything, traceback=traceback),
    ]
    if run.error is not None and traceback and run.error.traceback:
        parts += [Text(""), Text("Traceback", style="bold underline")]
        parts.append(Text(run.error.traceback.rstrip(), style="red"))
    return Group(*parts)
