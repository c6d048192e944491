"""Failure paths: on_failure handlers, compensation (sagas), retry on result, retry from
a step."""

from __future__ import annotations

import threading

import pytest

import legato
from legato import Failure, flow, task
from legato.states import RunState, StepState

LEDGER: list[str] = []


@pytest.fixture(autouse=True)
def _clear() -> None:
    LEDGER.clear()


@task
def report(failure: Failure) -> str:
    LEDGER.append(f"report {failure.step_key} {failure.error_type} {failure.attempts}")
    return "reported"


@task(retries=1, on_failure=report)
def flaky_fetch() -> None:
    raise ConnectionError("api down")


def test_task_on_failure_runs_as_a_step_and_the_error_still_propagates(store) -> None:
    @flow
    def f() -> None:
        flaky_fetch()

    handle = f.run()
    with pytest.raises(ConnectionError, match="api down"):
        handle.result()
    assert LEDGER == ["report flaky_fetch#0 builtins.ConnectionError 2"]
    steps = {s.key: s for s in handle.steps}
    assert steps["flaky_fetch#0"].state is StepState.FAILED
    assert steps["flaky_fetch#0/on_failure#0"].state is StepState.COMPLETED


def test_a_failing_handler_does_not_hide_the_original_error(store) -> None:
    def broken_handler(failure: Failure) -> None:
        raise RuntimeError("pager is down too")

    @task(on_failure=broken_handler)
    def fails() -> None:
        raise ValueError("the original")

    @flow
    def f() -> None:
        fails()

    with pytest.raises(ValueError, match="the original") as info:
        f()
    assert any("pager is down too" in note for note in info.value.__notes__)


def test_flow_on_failure_gets_the_run_failure(store) -> None:
    seen: list[Failure] = []

    def alert(failure: Failure) -> None:
        seen.append(failure)

    @task
    def boom() -> None:
        raise KeyError("k")

    @flow(on_failure=[alert])
    def f() -> None:
        boom()

    handle = f.run()
    assert handle.state is RunState.FAILED
    (failure,) = seen
    assert failure.run_id == handle.run_id and failure.step_key is None
    assert failure.error_type == "builtins.KeyError" and "boom#0" in failure.message
    assert "/on_failure#0" in {s.key for s in handle.steps}


# -- a booking saga ------------------------------------------------------------------------


@task
def cancel_hotel(reservation: str) -> None:
    LEDGER.append(f"cancel {reservation}")


@task
def refund(charge: str) -> None:
    LEDGER.append(f"refund {charge}")


@task(compensate=cancel_hotel)
def reserve_hotel(guest: str) -> str:
    LEDGER.append("reserve")
    return f"hotel-{guest}"


@task(compensate=refund)
def charge_card(guest: str, amount: int) -> str:
    LEDGER.append("charge")
    if amount > 1000:
        raise ValueError(f"card declined for {amount}")
    return f"charge-{guest}"


@task
def send_confirmation(guest: str) -> None:
    LEDGER.append("confirm")
    raise ConnectionError("mail server down")


@flow
def book(guest: str, amount: int) -> str:
    hotel = reserve_hotel(guest)
    charge = charge_card(guest, amount)
    send_confirmation(guest)
    return f"{hotel} {charge}"


def test_completed_steps_are_compensated_newest_first(store) -> None:
    handle = book.run("ada", 500)
    assert handle.state is RunState.FAILED
    assert LEDGER == ["reserve", "charge", "confirm", "refund charge-ada", "cancel hotel-ada"]
    steps = {s.key: s.state for s in handle.steps}
    assert steps["charge_card#0/compensate"] is StepState.COMPLETED
    assert steps["reserve_hotel#0/compensate"] is StepState.COMPLETED
    with pytest.raises(ConnectionError):
        handle.result()


def test_a_failed_step_is_not_compensated(store) -> None:
    book.run("bob", 5000)
    assert LEDGER == ["reserve", "charge", "cancel hotel-bob"]


def test_cancel_compensates_too(store) -> None:
    gate = threading.Event()
    started = threading.Event()

    @task(compensate=cancel_hotel)
    def reserve(guest: str) -> str:
        return f"hotel-{guest}"

    @task
    def wait_for_gate() -> None:
        started.set()
        gate.wait(10)

    @task
    def never() -> None:
        LEDGER.append("never")

    @flow
    def trip() -> None:
        reserve("cy")
        wait_for_gate()
        never()

    handle = trip.start()
    assert started.wait(10)
    legato.cancel(handle.run_id, store=store)
    gate.set()
    handle.wait(10)
    assert handle.state is RunState.CANCELLED
    assert LEDGER == ["cancel hotel-cy"]


def test_retry_on_result(store) -> None:
    answers = iter([None, None, 42])

    @task(retries=3, retry_on_result=lambda value: value is None)
    def poll() -> int | None:
        return next(answers)

    @flow
    def f() -> int | None:
        return poll()

    handle = f.run()
    assert handle.result() == 42
    assert handle.steps[0].attempts == 3


def test_retry_from_an_earlier_step(store) -> None:
    @task
    def a() -> str:
        LEDGER.append("a")
        return "a"

    @task
    def b(x: str) -> str:
        LEDGER.append("b")
        return x + "b"

    @task
    def c(x: str) -> str:
        LEDGER.append("c")
        if len([e for e in LEDGER if e == "c"]) == 1:
            raise RuntimeError("first c fails")
        return x + "c"

    @flow
    def abc() -> str:
        return c(b(a()))

    handle = abc.run()
    assert handle.state is RunState.FAILED
    with pytest.raises(legato.RunStateError, match=r"no step 'zz#0'.*a#0, b#0, c#0"):
        legato.resume(handle.run_id, store=store, retry_failed=True, from_step="zz#0")
    again = legato.resume(handle.run_id, store=store, flow=abc, retry_failed=True, from_step="b#0")
    assert again.result() == "abc"
    assert LEDGER == ["a", "b", "c", "b", "c"]
