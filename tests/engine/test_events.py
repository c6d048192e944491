"""wait_for_event: stored events, matching, timeouts, and runs resumed when one arrives."""

from __future__ import annotations

import threading
import time

import pytest

import legato
from legato import flow, task
from legato.errors import RunStateError, WaitTimeout
from legato.states import RunState, StepState
from legato.worker import Worker

LEDGER: list[str] = []


@pytest.fixture(autouse=True)
def _clear() -> None:
    LEDGER.clear()


@task
def ship(order: str, payment: dict) -> str:
    LEDGER.append(f"ship {order}")
    return f"shipped {order} paid {payment['amount']}"


@flow
def order_flow(order: str) -> str:
    payment = legato.wait_for_event("payment", match={"order": order})
    return ship(order, payment)


def finish(store, run_id: str) -> None:
    """Let an in-process worker take the run once it is due and run it to its end."""
    worker = Worker(store)
    deadline = time.monotonic() + 20
    while store.get_run(run_id).state is RunState.WAITING and time.monotonic() < deadline:
        worker.tick()
        time.sleep(0.02)
    while worker.active() and time.monotonic() < deadline:
        time.sleep(0.01)


GATE = threading.Event()


@task
def prepare(order: str) -> None:
    GATE.wait(10)  # the event is sent while this step runs


@flow
def slow_order(order: str) -> str:
    prepare(order)
    payment = legato.wait_for_event("payment", match={"order": order})
    return ship(order, payment)


def test_an_event_sent_before_the_wait_is_not_lost(store) -> None:
    GATE.clear()
    handle = slow_order.start("o-1")
    legato.send_event("payment", {"order": "o-1", "amount": 30})
    GATE.set()
    assert handle.result(timeout=10) == "shipped o-1 paid 30"  # found at once: no waiting
    run_states = [e.state for e in store.get_events(handle.run_id) if e.kind == "run"]
    assert "waiting" not in run_states


def test_the_run_waits_holding_nothing_and_an_event_resumes_it(store) -> None:
    handle = order_flow.run("o-2")
    record = handle.record
    assert record.state is RunState.WAITING and record.waiting_for == "payment"
    assert record.wake_at is None and record.owner is None  # no timer, no holder
    with pytest.raises(RunStateError, match="waiting for event 'payment'"):
        handle.result()
    assert Worker(store).tick() == []  # nothing to do until the event comes
    legato.send_event("payment", {"order": "other", "amount": 1})  # does not match
    assert Worker(store).tick() == [handle.run_id]  # woken, replays, waits again
    time.sleep(0.2)
    assert store.get_run(handle.run_id).state is RunState.WAITING
    claims = [e for e in store.get_events(handle.run_id) if e.message and "claimed" in e.message]
    assert len(claims) == 1, "an event the wait does not match must not wake the run again"
    assert store.get_run(handle.run_id).wake_at is None
    legato.send_event("payment", {"order": "o-2", "amount": 99})
    finish(store, handle.run_id)
    assert legato.get_run(handle.run_id).result() == "shipped o-2 paid 99"
    assert LEDGER == ["ship o-2"]


@flow
def two_waits() -> list:
    return [legato.wait_for_event("tick"), legato.wait_for_event("tick")]


@flow
def patient() -> list:
    got = []
    got.append(legato.wait_for_event("nothing", timeout=0.01, default="gave up"))
    try:
        legato.wait_for_event("nothing", timeout=0.01)
    except WaitTimeout:
        got.append("timed out")
    got.append(legato.wait_for_event("empty", timeout=60, default="gave up"))
    return got


@flow
def deadline() -> str:
    return legato.wait_for_event("never", timeout=1.2, default="late")


def test_each_wait_takes_the_oldest_event_not_yet_taken(store) -> None:
    handle = two_waits.run()
    legato.send_event("tick", 1)
    legato.send_event("tick", 2)
    finish(store, handle.run_id)
    assert legato.get_run(handle.run_id).result() == [1, 2]


def test_timeouts_return_the_default_or_raise_and_none_is_a_payload(store) -> None:
    handle = patient.run()
    legato.send_event("empty", None)  # a payload of None is an event, not a timeout
    finish(store, handle.run_id)
    assert legato.get_run(handle.run_id).result() == ["gave up", "timed out", None]


def test_a_timeout_wakes_the_run_without_an_event(store) -> None:
    handle = deadline.run()
    assert handle.record.state is RunState.WAITING and handle.record.wake_at is not None
    time.sleep(1.3)
    finish(store, handle.run_id)
    assert legato.get_run(handle.run_id).result() == "late"
    (step,) = legato.get_run(handle.run_id).steps
    assert step.key == "wait_for_event#0" and step.state is StepState.COMPLETED


def test_sending_to_a_finished_run_says_so(store) -> None:
    @flow
    def quick() -> int:
        return 1

    handle = quick.run()
    with pytest.raises(RunStateError, match="already ended"):
        legato.send_event("payment", {"x": 1}, run_id=handle.run_id)


def test_wait_for_event_outside_a_flow_is_a_clear_error() -> None:
    with pytest.raises(legato.LegatoError, match="inside a running flow"):
        legato.wait_for_event("x")
