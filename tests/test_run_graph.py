"""The run graph's layout: layers from program order and timing, maps folded, handlers
last, and an SVG that escapes what it shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from legato.records import StepRecord
from legato.run_graph import DERIVED_SEQ, build_graph, to_svg
from legato.states import StepState

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def step(key: str, seq: int, start: float, end: float | None, state=StepState.COMPLETED, **kw):
    return StepRecord(
        run_id="r1",
        key=key,
        seq=seq,
        task_name=key.split("#")[0],
        state=state,
        attempts=kw.pop("attempts", 1),
        started_at=T0 + timedelta(seconds=start),
        finished_at=None if end is None else T0 + timedelta(seconds=end),
        **kw,
    )


def labels(graph) -> list[list[str]]:
    return [[node.label for node in layer] for layer in graph.layers]


def test_sequential_steps_stack_and_parallel_ones_sit_side_by_side() -> None:
    steps = [
        step("extract#0", 0, 0, 1),
        step("clean#0", 1, 1.5, 2),
        step("score#0", 2, 2.1, 4),  # score and enrich overlap: one layer
        step("enrich#0", 3, 2.2, 3),
        step("load#0", 4, 4.5, 5),
    ]
    graph = build_graph(list(reversed(steps)))  # order of the input does not matter
    assert labels(graph) == [["extract#0"], ["clean#0"], ["score#0", "enrich#0"], ["load#0"]]
    score, enrich = graph.layers[2]
    assert score.y == enrich.y and enrich.x > score.x


def test_a_map_folds_into_one_node_with_counts_and_its_worst_state() -> None:
    mapped = [step(f"work#{i}", i + 1, 1, 2) for i in range(40)]
    mapped[7] = step("work#7", 8, 1, 2, state=StepState.FAILED, attempts=3)
    graph = build_graph([step("make#0", 0, 0, 0.5), *mapped, step("total#0", 41, 3, 3.1)])
    assert labels(graph) == [["make#0"], ["work ×40"], ["total#0"]]
    (folded,) = graph.layers[1]
    assert folded.counts == {"completed": 39, "failed": 1}
    assert folded.state == "failed" and len(folded.keys) == 40


def test_handlers_and_compensations_form_the_last_layer() -> None:
    steps = [
        step("book#0", 0, 0, 1),
        step("pay#0", 1, 1.5, 2, state=StepState.FAILED),
        step("pay#0/on_failure#0", DERIVED_SEQ + 1, 2.5, 3),
        step("book#0/compensate", DERIVED_SEQ + 2, 3.5, 4),
    ]
    graph = build_graph(steps)
    assert labels(graph)[-1] == ["pay#0/on_failure#0", "book#0/compensate"]


def test_a_running_step_keeps_later_ones_beside_it() -> None:
    graph = build_graph(
        [step("slow#0", 0, 0, None, state=StepState.RUNNING), step("fast#0", 1, 0.1, 0.2)]
    )
    assert labels(graph) == [["slow#0", "fast#0"]]


def test_svg_colours_by_state_links_child_runs_and_escapes_labels() -> None:
    graph = build_graph(
        [
            step("<script>#0", 0, 0, 1),
            step("child#0", 1, 2, 3, child_run_id="01childrun"),
        ]
    )
    svg = to_svg(graph)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "<script>" not in svg and "&lt;script&gt;#0" in svg
    assert 'href="#/runs/01childrun"' in svg
    assert svg.count('data-state="completed"') == 2


def test_a_very_wide_layer_is_capped() -> None:
    tasks = [step(f"t{i}#0", i, 0, 5) for i in range(30)]  # 30 different tasks at once
    graph = build_graph(tasks)
    (layer,) = graph.layers
    assert len(layer) == 12 and layer[-1].label == "+19 more steps"
    assert len(layer[-1].keys) == 19


def test_an_empty_run_has_an_empty_graph() -> None:
    graph = build_graph([])
    assert graph.layers == () and to_svg(graph).startswith("<svg")


def test_a_fast_map_folds_even_when_its_steps_never_overlapped() -> None:
    # Trivial mapped steps finish one after another; they are still one fan-out.
    steps = [step("hold#0", 0, 0, 1)]
    steps += [step(f"fetch#{i}", i + 1, 1 + i * 0.01, 1.005 + i * 0.01) for i in range(6)]
    steps.append(step("total#0", 7, 2, 3))
    assert labels(build_graph(steps)) == [["hold#0"], ["fetch ×6"], ["total#0"]]


def test_a_child_run_step_is_never_folded() -> None:
    steps = [step(f"child#{i}", i, i, i + 0.5, child_run_id=f"c{i}") for i in range(5)]
    graph = build_graph(steps)
    assert [n.child_run_id for n in graph.nodes] == ["c0", "c1", "c2", "c3", "c4"]
