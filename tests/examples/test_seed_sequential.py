"""Simple_Sequence: IngestData -> ProcessData -> GenerateReport, each after the last."""

from __future__ import annotations

from legato import RunState, StepState


def test_runs_the_three_tasks_in_order_and_returns_the_report(load_example, by_key):
    example = load_example("sequential")

    handle = example.simple_sequence.run()

    assert handle.state is RunState.COMPLETED
    assert handle.result() == "4 regions, total sales 500, top region east"
    steps = by_key(handle.steps)
    assert list(steps) == ["IngestData#0", "ProcessData#0", "GenerateReport#0"]
    assert all(s.state is StepState.COMPLETED and s.attempts == 1 for s in steps.values())
    a, b, c = steps.values()
    assert a.finished_at <= b.started_at
    assert b.finished_at <= c.started_at


def test_calling_the_flow_returns_its_result(load_example):
    example = load_example("sequential")

    assert example.simple_sequence() == "4 regions, total sales 500, top region east"
