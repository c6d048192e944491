"""What a waiting run waits for is typed in code and stored as it always was.

Stores written by earlier versions hold ``waiting_for`` as None (a timer), an event's
name, ``input:NAME`` or ``child:RUN_ID``, and the run event ``unwinding after ...``
before failure handling: both still read back as the same typed values.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from legato.engine.lifecycle import UnwindingMarker, unwinding_from
from legato.records import (
    ChildWait,
    EventRecord,
    EventWait,
    InputWait,
    TimerWait,
    parse_wait,
    waits_for_child,
)

T0 = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("stored", "spec", "words"),
    [
        (None, TimerWait(), "its timer"),
        ("payment", EventWait(name="payment"), "event 'payment'"),
        ("input:manager", InputWait(name="manager"), "input 'manager'"),
        ("child:01J0CHILD", ChildWait(run_id="01J0CHILD"), "child run 01J0CHILD"),
    ],
)
def test_a_stored_waiting_for_reads_back_as_its_typed_spec_and_is_written_unchanged(
    stored: str | None, spec: object, words: str
) -> None:
    parsed = parse_wait(stored)
    assert parsed == spec
    assert parsed.waiting_for == stored
    assert parsed.describe() == words


def test_the_details_of_a_wait_are_not_part_of_what_is_stored_with_the_run() -> None:
    event = EventWait(name="payment", match={"order": 7}, key="k1")
    asked = InputWait(name="manager", question={"prompt": "ok?"})
    assert event.waiting_for == "payment" and asked.waiting_for == "input:manager"
    assert TimerWait(wake_at=T0).waiting_for is None


def test_a_parent_waiting_for_its_child_is_stored_as_before() -> None:
    assert waits_for_child("01J0CHILD") == "child:01J0CHILD"


def run_event(message: str | None) -> EventRecord:
    return EventRecord(run_id="r1", at=T0, kind="run", state="running", message=message)


def test_a_run_stopped_while_unwinding_by_an_earlier_version_resumes_the_unwinding() -> None:
    written_before = "unwinding after ValueError: card declined"
    assert UnwindingMarker.parse(written_before) == UnwindingMarker(
        cause="ValueError: card declined"
    )
    assert unwinding_from([run_event(None), run_event(written_before)])


def test_a_run_whose_last_run_event_is_not_the_marker_is_not_unwinding() -> None:
    marker = UnwindingMarker(cause="ValueError: x").message
    step = EventRecord(run_id="r1", at=T0, kind="step", state="running", step_key="undo#0")
    assert unwinding_from([run_event(marker), step])  # step events do not count
    assert not unwinding_from([run_event(marker), run_event("resumed by replay on h:1")])
    assert not unwinding_from([])
