"""A booking saga: reserve a hotel, charge the card, send the confirmation.

Each step that changes the world names its undo with ``compensate=``. When a later step
fails (here: the card is declined above the customer's limit, or the mail server is
down), legato runs the undos of the completed steps, newest first, as durable steps: a
crash in the middle of unwinding resumes the unwinding.

    python examples/booking_saga.py            # succeeds
    python examples/booking_saga.py 5000       # the charge fails: the hotel is released
"""

from __future__ import annotations

import hashlib
import sys

from legato import Failure, flow, get_run_context, task

CARD_LIMIT = 1000
BOOKINGS: dict[str, str] = {}  # stands in for the hotel's and the bank's systems


@task
def release_room(reservation: str) -> None:
    BOOKINGS.pop(reservation, None)
    print(f"released {reservation}")


@task
def refund(charge: str) -> None:
    BOOKINGS.pop(charge, None)
    print(f"refunded {charge}")


@task(compensate=release_room)
def reserve_hotel(guest: str, nights: int) -> str:
    # The idempotency key ("RUN_ID:reserve_hotel#0") is the same on every retry and replay
    # of this step and differs between bookings: a hotel API given it books once.
    key = get_run_context().idempotency_key
    reservation = f"room-{guest}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    BOOKINGS[reservation] = f"{nights} nights"
    return reservation


class CardDeclined(Exception):
    pass


@task(compensate=refund, retries=2, retry_on=[ConnectionError])
def charge_card(guest: str, amount: int) -> str:
    if amount > CARD_LIMIT:
        raise CardDeclined(f"card of {guest} declined for {amount}")
    charge = f"charge-{guest}-{amount}"
    BOOKINGS[charge] = f"{amount} EUR"
    return charge


@task
def send_confirmation(guest: str, reservation: str, charge: str) -> str:
    return f"confirmed {reservation} for {guest} ({charge})"


@task
def tell_support(failure: Failure) -> str:
    note = f"booking run {failure.run_id} failed at {failure.message}"
    print(note)
    return note


@flow(on_failure=[tell_support])
def book_trip(guest: str, nights: int, amount: int) -> str:
    reservation = reserve_hotel(guest, nights)
    charge = charge_card(guest, amount)
    return send_confirmation(guest, reservation, charge)


if __name__ == "__main__":
    amount = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    handle = book_trip.run("ada", 2, amount)
    print(handle.state.value, BOOKINGS)
