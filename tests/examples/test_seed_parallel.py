"""Parallel_Execution: ProcessSource1 and ProcessSource2 really run at the same time."""

from __future__ import annotations

from datetime import timedelta

from legato import RunState, StepState


def test_the_two_sources_are_processed_at_the_same_time(load_example, by_key):
    example = load_example("parallel")
    delay = 0.5

    handle = example.parallel_execution.run(delay=delay)

    assert handle.state is RunState.COMPLETED
    assert handle.result() == {"sources": ["source1", "source2"], "count": 9, "total": 157}
    steps = by_key(handle.steps)
    assert list(steps) == [
        "FetchDataSources#0",
        "ProcessSource1#0",
        "ProcessSource2#0",
        "AggregateResults#0",
    ]
    assert all(s.state is StepState.COMPLETED for s in steps.values())
    fetch, b, c, aggregate = steps.values()
    # Each body slept `delay`, so each recorded interval is about that long (the times
    # are wall-clock, hence the margin)...
    for step in (b, c):
        assert step.finished_at - step.started_at >= timedelta(seconds=delay * 0.9)
    # ...and the two intervals intersect: B and C ran at the same time.
    assert b.started_at < c.finished_at and c.started_at < b.finished_at
    # A before both, D after both (END PARALLEL waits for B and C).
    assert fetch.finished_at <= min(b.started_at, c.started_at)
    assert aggregate.started_at >= max(b.finished_at, c.finished_at)
