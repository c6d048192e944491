"""The booking saga example: success, and unwinding when the charge fails."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "examples"))

import booking_saga  # noqa: E402

from legato.states import RunState, StepState  # noqa: E402


@pytest.fixture(autouse=True)
def _empty() -> None:
    booking_saga.BOOKINGS.clear()


def test_a_booking_goes_through(sqlite_store) -> None:
    handle = booking_saga.book_trip.run("ada", 2, 300)
    assert handle.result().startswith("confirmed room-ada-")
    assert sorted(booking_saga.BOOKINGS.values()) == ["2 nights", "300 EUR"]
    assert not any("/" in s.key for s in handle.steps)  # nothing to unwind


def test_each_booking_gets_its_own_reservation_id(sqlite_store) -> None:
    first = booking_saga.book_trip.run("ada", 2, 300).result()
    second = booking_saga.book_trip.run("ada", 2, 300).result()
    assert first != second
    assert len([k for k in booking_saga.BOOKINGS if k.startswith("room-ada-")]) == 2


def test_a_declined_card_releases_the_room_and_tells_support(sqlite_store) -> None:
    handle = booking_saga.book_trip.run("bob", 3, 5000)
    assert handle.state is RunState.FAILED
    assert booking_saga.BOOKINGS == {}  # the room was released again
    steps = {s.key: s for s in handle.steps}
    assert steps["charge_card#0"].state is StepState.FAILED
    assert steps["charge_card#0"].attempts == 1  # CardDeclined is not a ConnectionError
    assert steps["reserve_hotel#0/compensate"].state is StepState.COMPLETED
    assert "charge_card#0/compensate" not in steps  # a failed step has nothing to undo
    assert steps["/on_failure#0"].state is StepState.COMPLETED
    with pytest.raises(booking_saga.CardDeclined):
        handle.result()
