"""The seed's plain-Python fetch/process/store script as a flow."""

from __future__ import annotations

import random

from legato import RunState, StepState


def test_fetch_process_store_with_a_seeded_value(load_example, by_key, capsys):
    example = load_example("pipeline")
    expected_value = random.Random(7).randint(1, 100)

    handle = example.pipeline.run(source="api/v1/data", seed=7, delay=0.01)

    assert handle.state is RunState.COMPLETED
    assert handle.result() == {
        "source": "api/v1/data",
        "value": expected_value,
        "processed": True,
        "score": expected_value * 0.5,
    }
    steps = by_key(handle.steps)
    assert list(steps) == ["fetch_data#0", "process_data#0", "store_results#0"]
    assert all(s.state is StepState.COMPLETED and s.attempts == 1 for s in steps.values())
    printed = capsys.readouterr().out
    assert "Fetching data from api/v1/data..." in printed
    assert printed.rstrip().endswith("Workflow complete.")


def test_the_same_seed_gives_the_same_result(load_example):
    example = load_example("pipeline")

    first = example.pipeline(seed=123, delay=0)
    second = example.pipeline(seed=123, delay=0)

    assert first == second
    assert first["value"] == random.Random(123).randint(1, 100)
