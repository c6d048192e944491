"""The rules the backends share, written once in ``legato.store.rules``: each backend
finds the facts its own way and these functions decide what they mean."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from legato.errors import IdempotencyConflictError, RunStateError
from legato.records import RunRecord, SentEvent
from legato.states import RunState
from legato.store.rules import at_limit, check_can_receive, same_submission

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def run(run_id: str = "r1", **fields: Any) -> RunRecord:
    base: dict[str, Any] = dict(
        run_id=run_id,
        flow_name="etl",
        state=RunState.PENDING,
        created_at=T0,
        params='{"day": 1}',
        idempotency_key="day-1",
    )
    base.update(fields)
    return RunRecord(**base)


def test_a_run_is_held_back_when_its_flow_or_any_tag_is_at_its_limit() -> None:
    live = {"flow:etl": 2, "tag:gpu": 1, "tag:cpu": 0}
    assert at_limit({"flow:etl": 2}, flow_name="etl", tags=(), live=live.__getitem__)
    assert not at_limit({"flow:etl": 3}, flow_name="etl", tags=(), live=live.__getitem__)
    assert at_limit({"tag:gpu": 1}, flow_name="etl", tags=("cpu", "gpu"), live=live.__getitem__)
    assert not at_limit(
        {"tag:gpu": 2, "tag:cpu": 1}, flow_name="etl", tags=("cpu", "gpu"), live=live.__getitem__
    )


def test_a_limit_of_zero_holds_every_run_back() -> None:
    assert at_limit({"tag:off": 0}, flow_name="etl", tags=("off",), live=lambda key: 0)


def test_live_runs_are_counted_only_for_keys_that_have_a_limit() -> None:
    asked: list[str] = []

    def live(key: str) -> int:
        asked.append(key)
        return 0

    assert not at_limit({"tag:gpu": 1}, flow_name="etl", tags=("cpu", "gpu"), live=live)
    assert asked == ["tag:gpu"]
    assert not at_limit({}, flow_name="etl", tags=("cpu",), live=live)
    assert asked == ["tag:gpu"]


def test_the_same_submission_returns_the_existing_run() -> None:
    existing = run("first")
    assert same_submission(existing, run("second")) is existing


@pytest.mark.parametrize(
    ("change", "given"),
    [({"flow_name": "load"}, 'load{"day": 1}'), ({"params": '{"day": 2}'}, 'etl{"day": 2}')],
)
def test_another_flow_or_parameters_under_the_same_key_is_a_conflict_naming_both(
    change: dict[str, str], given: str
) -> None:
    with pytest.raises(IdempotencyConflictError) as caught:
        same_submission(run("first"), run("second", **change))
    message = str(caught.value)
    assert "day-1" in message and "first" in message
    assert 'etl{"day": 1}' in message and given in message


def test_an_event_to_an_ended_run_is_refused_saying_which_run_and_event() -> None:
    event = SentEvent(name="approved", payload="null", sent_at=T0, run_id="r1")
    check_can_receive(run(state=RunState.WAITING), event)
    with pytest.raises(RunStateError, match=r"run r1 already ended \(completed\).*'approved'"):
        check_can_receive(run(state=RunState.COMPLETED), event)
