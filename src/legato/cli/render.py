"""How records look in a terminal (rich tables and trees) and in ``--json`` output."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from itertools import groupby
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from legato.cli.values import decode_stored, is_cut, plain_json, shown, whole

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
HISTORY_AT = 100  # runs show folds routine events of a history longer than this
FOLD_EVENTS_AT = 3  # ... when at least this many come in a row


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


def stored_json(text: str | None, serializer: str) -> Any:
    """A stored result or parameters as plain JSON data (never a JSON string of it)."""
    return plain_json(decode_stored(text, serializer))


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
        "params": stored_json(run.params, "json"),
        "result": stored_json(run.result, run.serializer),
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
        "result": stored_json(step.result, step.serializer),
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


def run_details(run: RunRecord, *, params: Any, result: Any, full: bool = False) -> Table:
    """The run's fields, with its decoded ``params`` and ``result``: shortened, or with
    ``full`` whole where they fit and else left to ``whole_values``."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("Run", run.run_id)
    flow = Text(run.flow_name)
    if run.target:
        flow.append(f"  ({run.target})", style="dim")
    grid.add_row("Flow", flow)
    grid.add_row("State", state_text(run.state.value))
    see_all = f"(shortened: legato runs show {run.run_id} --full shows all"
    grid.add_row("Params", _value_cell(params, full=full, note=f"{see_all}, or add --json)"))
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
        note = f"{see_all}; legato runs result {run.run_id} > result.json saves it)"
        grid.add_row("Result", _value_cell(result, full=full, note=note))
    if run.error is not None:
        grid.add_row("Error", Text(run.error.summary(), style="red"))
    return grid


def _value_cell(value: Any, *, full: bool, note: str) -> RenderableType:
    if full and is_cut(value):
        return Text("(long: shown whole below)", style="dim")
    return shown(value, note=note)


def whole_values(run: RunRecord, *, params: Any, result: Any) -> list[RenderableType]:
    """For ``--full``: the parameters and result too long for the details grid, each
    under its own heading."""
    parts: list[RenderableType] = []
    for label, value, present in (
        ("Params", params, True),
        ("Result", result, run.result is not None),
    ):
        if present and is_cut(value):
            parts += [Text(""), Text(label, style="bold underline"), whole(value)]
    return parts


def events_table(items: Sequence[EventRecord | list[EventRecord]]) -> Table:
    """The history, one event a line; a folded list of routine events takes one line."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("TIME", "WHAT", "STATE", "ATTEMPT", "MESSAGE"):
        table.add_column(column, no_wrap=column != "MESSAGE")
    for event in items:
        if isinstance(event, list):
            table.add_row(format_time(event[0].at, date=False), "…", "", "", _folded_events(event))
            continue
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


def fold_history(events: Sequence[EventRecord]) -> list[EventRecord | list[EventRecord]]:
    """The events of a long history, with each stretch of FOLD_EVENTS_AT or more routine
    events (a step submitted, started or completed at its first attempt, without a wait)
    as one list. Run events, failures, retries, waits and operator actions stay."""
    waited = {e.step_key for e in events if e.kind == "step" and e.state == "waiting"}
    items: list[EventRecord | list[EventRecord]] = []
    stretch: list[EventRecord] = []
    for event in events:
        if _is_routine(event, waited):
            stretch.append(event)
            continue
        _close_stretch(items, stretch)
        stretch = []
        items.append(event)
    _close_stretch(items, stretch)
    return items


def _is_routine(event: EventRecord, waited: set[str | None]) -> bool:
    if event.kind != "step" or event.by is not None or event.step_key in waited:
        return False
    if event.state == "completed":
        return (event.attempt or 1) <= 1
    return event.state in ("pending", "running")


def _close_stretch(
    items: list[EventRecord | list[EventRecord]], stretch: list[EventRecord]
) -> None:
    if len(stretch) >= FOLD_EVENTS_AT:
        items.append(stretch)
    else:
        items.extend(stretch)


def _folded_events(events: list[EventRecord]) -> Text:
    """``480 steps completed, 482 started (work#0 … work#479; --all lists each event)``"""
    words = {"completed": "steps completed", "running": "started", "pending": "submitted"}
    counts = {state: sum(1 for e in events if e.state == state) for state in words}
    parts = [f"{count} {words[state]}" for state, count in counts.items() if count]
    text = Text(", ".join(parts), style="green" if counts["completed"] else "")
    keys = [e.step_key for e in events if e.step_key]
    span = f"{keys[0]} … {keys[-1]}; " if keys else ""
    text.append(f" ({span}--all lists each event)", style="dim")
    return text


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


def show_run(
    store: Store, run: RunRecord, *, everything: bool, traceback: bool, full: bool = False
) -> Group:
    """``legato runs show``: details, history and steps. Unless ``everything``, a history
    longer than HISTORY_AT events has its routine stretches folded (``fold_history``) and
    steps of one task completed in a row are folded too; unless ``full``, parameters and
    result are shortened."""
    params = decode_stored(run.params, "json")
    result = decode_stored(run.result, run.serializer)
    events = store.get_events(run.run_id)
    history = events if everything or len(events) <= HISTORY_AT else fold_history(events)
    parts: list[RenderableType] = [
        run_details(run, params=params, result=result, full=full),
        *(whole_values(run, params=params, result=result) if full else ()),
        Text(""),
        Text("History", style="bold underline"),
        events_table(history),
        Text(""),
        Text("Steps", style="bold underline"),
        steps_tree(store, run, fold=not everything, traceback=traceback),
    ]
    if run.error is not None and traceback and run.error.traceback:
        parts += [Text(""), Text("Traceback", style="bold underline")]
        parts.append(Text(run.error.traceback.rstrip(), style="red"))
    return Group(*parts)
