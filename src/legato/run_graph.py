"""The graph of a run's steps, laid out once in Python and drawn as SVG.

The web UI shows it and the CLI can print it later; both use this one layout:

- steps are read in program order (``seq``); consecutive steps of one task (a ``map``,
  or a loop) are folded into one node with a count per state when there are more than
  ``FOLD_AT`` of them;
- a node whose first step started while the nodes of the current layer were still
  running joins that layer (it ran in parallel with them), otherwise it opens the next
  layer below;
- handler and compensation steps (positions from 2**40 on) form their own last layer.

Layers are drawn top to bottom and their nodes side by side, each node coloured by its
state (folded nodes by their worst state), a node of a child run linking to it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape

from legato.records import StepRecord

FOLD_AT = 3  # more steps of one task in a layer than this fold into one node
DERIVED_SEQ = 1 << 40  # handler and compensation steps sort from here (engine.runner)
NODE_W, NODE_H, GAP_X, GAP_Y, MARGIN = 168, 44, 16, 28, 12
MAX_NODES_PER_LAYER = 12  # more nodes than this in a layer: the rest fold into "+N more"

# Worst first: the state a folded node shows.
STATE_ORDER = (
    "failed",
    "cancelled",
    "retrying",
    "running",
    "waiting",
    "pending",
    "skipped",
    "completed",
)
COLOURS = {
    "completed": "#2e7d32",
    "failed": "#c62828",
    "cancelled": "#6d4c41",
    "running": "#1565c0",
    "retrying": "#ef6c00",
    "waiting": "#6a1b9a",
    "pending": "#757575",
    "skipped": "#9e9e9e",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class GraphNode:
    """One box: a step, or several steps of one task folded together."""

    id: str  # the step key, or "task×N@layer" for a folded node
    label: str
    task: str
    state: str  # the worst state among its steps
    counts: dict[str, int] = field(default_factory=dict)  # state -> steps (folded nodes)
    keys: tuple[str, ...] = ()
    child_run_id: str | None = None
    attempts: int = 0
    x: int = 0
    y: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class RunGraph:
    layers: tuple[tuple[GraphNode, ...], ...]
    width: int
    height: int

    @property
    def nodes(self) -> list[GraphNode]:
        return [node for layer in self.layers for node in layer]


def build_graph(steps: Sequence[StepRecord]) -> RunGraph:
    """The laid-out graph of ``steps`` (any order; they are sorted by position)."""
    ordered = sorted(steps, key=lambda s: s.seq)
    own = [s for s in ordered if s.seq < DERIVED_SEQ]
    derived = [s for s in ordered if s.seq >= DERIVED_SEQ]
    groups = _layers(_units(own)) + ([[[s] for s in derived]] if derived else [])
    layers: list[tuple[GraphNode, ...]] = []
    width = 0
    for row, group in enumerate(groups):
        nodes = _capped([_node(unit, row) for unit in group], row)
        placed = tuple(_place(node, column, row) for column, node in enumerate(nodes))
        layers.append(placed)
        width = max(width, len(placed) * (NODE_W + GAP_X) - GAP_X)
    height = len(layers) * (NODE_H + GAP_Y) - GAP_Y if layers else 0
    return RunGraph(layers=tuple(layers), width=width + 2 * MARGIN, height=height + 2 * MARGIN)


Unit = list[StepRecord]  # one step, or consecutive steps of one task folded together


def _units(steps: Sequence[StepRecord]) -> list[Unit]:
    """Consecutive steps of one task: a unit (folded when long enough)."""
    runs: list[Unit] = []
    for step in steps:
        if runs and runs[-1][0].task_name == step.task_name and step.child_run_id is None:
            runs[-1].append(step)
        else:
            runs.append([step])
    units: list[Unit] = []
    for run in runs:
        units.extend([run] if len(run) > FOLD_AT else [[s] for s in run])
    return units


def _layers(units: Sequence[Unit]) -> list[list[Unit]]:
    layers: list[list[Unit]] = []
    for unit in units:
        if layers and _overlaps(unit, layers[-1]):
            layers[-1].append(unit)
        else:
            layers.append([unit])
    return layers


def _overlaps(unit: Unit, layer: list[Unit]) -> bool:
    """Whether ``unit`` started before every unit of ``layer`` had finished."""
    starts = [s.started_at for s in unit if s.started_at is not None]
    if not starts:
        return False
    ends: list[datetime] = []
    for other in (s for u in layer for s in u):
        if other.finished_at is None:
            if other.started_at is not None:
                return True  # still running when this one started
            continue
        ends.append(other.finished_at)
    return bool(ends) and min(starts) < max(ends)


def _node(unit: Unit, row: int) -> GraphNode:
    if len(unit) == 1:
        return _single(unit[0])
    task = unit[0].task_name
    counts = Counter(s.state.value for s in unit)
    return GraphNode(
        id=f"{task}×{len(unit)}@{row}",
        label=f"{task} ×{len(unit)}",
        task=task,
        state=_worst(counts),
        counts=dict(counts),
        keys=tuple(s.key for s in unit),
        attempts=sum(s.attempts for s in unit),
    )


def _capped(nodes: list[GraphNode], row: int) -> list[GraphNode]:
    """At most ``MAX_NODES_PER_LAYER`` nodes side by side; the rest fold into one."""
    if len(nodes) <= MAX_NODES_PER_LAYER:
        return nodes
    kept, rest = nodes[: MAX_NODES_PER_LAYER - 1], nodes[MAX_NODES_PER_LAYER - 1 :]
    counts: Counter[str] = Counter()
    for node in rest:
        counts.update(node.counts or {node.state: 1})
    keys = tuple(k for node in rest for k in (node.keys or (node.id,)))
    more = GraphNode(
        id=f"more×{len(keys)}@{row}",
        label=f"+{len(keys)} more steps",
        task="",
        state=_worst(counts),
        counts=dict(counts),
        keys=keys,
    )
    return [*kept, more]


def _single(step: StepRecord) -> GraphNode:
    return GraphNode(
        id=step.key,
        label=step.key,
        task=step.task_name,
        state=step.state.value,
        keys=(step.key,),
        child_run_id=step.child_run_id,
        attempts=step.attempts,
    )


def _worst(counts: Counter[str] | dict[str, int]) -> str:
    for state in STATE_ORDER:
        if counts.get(state):
            return state
    return "pending"


def _place(node: GraphNode, column: int, row: int) -> GraphNode:
    from dataclasses import replace

    return replace(node, x=MARGIN + column * (NODE_W + GAP_X), y=MARGIN + row * (NODE_H + GAP_Y))


def to_svg(graph: RunGraph, *, run_link: str = "#/runs/{run_id}") -> str:
    """``graph`` as a standalone SVG document (text escaped; no script)."""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="steps of the run" '
        f'width="{graph.width}" height="{graph.height}" viewBox="0 0 {graph.width} '
        f'{graph.height}" font-family="system-ui, sans-serif" font-size="12">'
    ]
    for upper, lower in zip(graph.layers, graph.layers[1:], strict=False):
        for a in upper:
            for b in lower:
                parts.append(
                    f'<line x1="{a.x + NODE_W // 2}" y1="{a.y + NODE_H}" '
                    f'x2="{b.x + NODE_W // 2}" y2="{b.y}" stroke="#b0b0b0" stroke-width="1"/>'
                )
    for node in graph.nodes:
        parts.append(_node_svg(node, run_link))
    parts.append("</svg>")
    return "".join(parts)


def _node_svg(node: GraphNode, run_link: str) -> str:
    colour = COLOURS.get(node.state, "#757575")
    detail = (
        " ".join(f"{n} {s}" for s, n in sorted(node.counts.items()))
        if node.counts
        else node.state + (f", {node.attempts} attempts" if node.attempts > 1 else "")
    )
    title = escape(f"{node.label}: {detail}")
    box = (
        f'<g class="node" data-state="{escape(node.state)}" data-key="{escape(node.id)}">'
        f"<title>{title}</title>"
        f'<rect x="{node.x}" y="{node.y}" width="{NODE_W}" height="{NODE_H}" rx="6" '
        f'fill="white" stroke="{colour}" stroke-width="2"/>'
        f'<rect x="{node.x}" y="{node.y}" width="6" height="{NODE_H}" rx="3" fill="{colour}"/>'
        f'<text x="{node.x + 14}" y="{node.y + 18}" font-weight="600">'
        f"{escape(_clip(node.label, 22))}</text>"
        f'<text x="{node.x + 14}" y="{node.y + 34}" fill="#555">{escape(_clip(detail, 26))}'
        "</text></g>"
    )
    if node.child_run_id:
        href = escape(run_link.format(run_id=node.child_run_id))
        return f'<a href="{href}">{box}</a>'
    return box


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
