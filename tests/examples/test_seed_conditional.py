"""Conditional_Path: the sentiment decides which one of the two branches runs."""

from __future__ import annotations

import pytest

from legato import RunState, StepState


def test_positive_text_routes_to_marketing_only(load_example, by_key):
    example = load_example("conditional")

    handle = example.conditional_path.run("I love the new release, great work!")

    assert handle.state is RunState.COMPLETED
    result = handle.result()
    assert result["sentiment"] == "Positive"
    assert result["queue"] == "marketing"
    steps = by_key(handle.steps)
    assert list(steps) == ["AnalyzeSentiment#0", "RouteToMarketing#0"]
    assert all(s.state is StepState.COMPLETED for s in steps.values())


@pytest.mark.parametrize(
    ("text", "sentiment", "priority"),
    [
        ("The app is broken again, terrible support", "Negative", "high"),
        ("Where do I change my password?", "Neutral", "normal"),
    ],
)
def test_anything_not_positive_escalates_to_support_only(
    load_example, by_key, text, sentiment, priority
):
    example = load_example("conditional")

    handle = example.conditional_path.run(text=text)

    assert handle.state is RunState.COMPLETED
    assert handle.result() == {
        "sentiment": sentiment,
        "queue": "support",
        "priority": priority,
        "text": text,
    }
    assert list(by_key(handle.steps)) == ["AnalyzeSentiment#0", "EscalateToSupport#0"]


def test_the_default_text_takes_the_positive_branch(load_example):
    example = load_example("conditional")

    assert example.conditional_path()["queue"] == "marketing"
