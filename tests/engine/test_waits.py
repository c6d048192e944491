"""Durable sleep: short waits are slept through; long ones suspend the run, which holds
nothing until a worker resumes it by replay."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

import legato
from legato import flow, task
from legato.errors import LegatoError, RunStateError
from legato.states import RunState, StepState

LEDGER: list[str] = []


@pytest.fixture(autouse=True)
def _clear() -> None:
    LEDGER.clear()


@task
def before() -> str:
    LEDGER.append("before")
    return "b"


@task
def after(x: str) -> str:
    LEDGER.append("after")
    return x + "a"


@flow
def naps(seconds: float) -> str:
    x = before()
    legato.sleep(seconds)
    return after(x)


def test_a_short_sleep_is_slept_through(store) -> None:
    started = time.monotonic()
    handle = naps.run(0.2)
    assert handle.result() == "ba"
    assert time.monotonic() - started >= 0.2
    steps = {s.key: s for s in handle.steps}
    assert steps["sleep#0"].state is StepState.COMPLETED


def test_a_long_sleep_suspends_the_run_and_a_worker_resumes_it(store) -> None:
    from legato.worker import Worker

    handle = naps.run(1.5)  # longer than INLINE_WAIT: suspends
    record = handle.record
    assert record.state is RunState.WAITING and record.owner is None
    assert record.wake_at is not None
    with pytest.raises(RunStateError, match="waiting for its timer until"):
        handle.result()
    assert LEDGER == ["before"]
    steps = {s.key: s.state for s in handle.steps}
    assert steps == {"before#0": StepState.COMPLETED, "sleep#0": StepState.WAITING}

    worker = Worker(store)
    assert worker.tick() == []  # not due yet: nothing to claim, nothing held meanwhile
    time.sleep(max(0.0, (record.wake_at - datetime.now(UTC)).total_seconds()))
    assert worker.tick() == [handle.run_id]
    deadline = time.monotonic() + 20
    while worker.active() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert legato.get_run(handle.run_id, store=store).result() == "ba"
    assert LEDGER == ["before", "after"]  # before ran once: replayed after the wait


def test_the_wake_time_is_kept_across_replays(store) -> None:
    handle = naps.run(30)
    first = handle.record.wake_at
    time.sleep(0.05)
    again = legato.resume(handle.run_id, store=store, flow=naps)
    assert again.record.state is RunState.WAITING
    assert again.record.wake_at == first  # not pushed back by resuming early


def test_sleep_until_needs_an_aware_datetime(store) -> None:
    @flow
    def f() -> None:
        legato.sleep_until(datetime(2030, 1, 1))

    with pytest.raises(LegatoError, match="aware datetime"):
        f()


def test_sleep_until_in_the_past_does_not_wait(store) -> None:
    @flow
    def f() -> str:
        legato.sleep_until(datetime(2020, 1, 1, tzinfo=UTC))
        return "on time"

    assert f() == "on time"


def test_sleep_outside_a_flow_just_sleeps(tmp_path: Path) -> None:
    started = time.monotonic()
    legato.sleep(0.05)
    assert time.monotonic() - started >= 0.05


def test_wait_true_blocks_the_caller_instead_of_suspending(store) -> None:
    started = time.monotonic()
    assert naps.with_options(wait=True)(1.2) == "ba"
    assert time.monotonic() - started >= 1.2


@flow
def asks() -> str:
    return legato.wait_for_input("ok", timeout=30)["answer"]


@flow
def listens() -> int:
    return legato.wait_for_event("ping", timeout=30)


def test_wait_true_blocks_until_an_answer_or_an_event_arrives(store) -> None:
    import threading

    def answer_later() -> None:
        for _ in range(200):
            time.sleep(0.05)
            runs = store.list_runs(legato.records.RunFilter(flow_name="asks"))
            if runs and store.open_inputs():
                legato.answer_input(runs[0].run_id, "ok", {"answer": "yes"}, by="t")
                return

    helper = threading.Thread(target=answer_later)
    helper.start()
    assert asks.with_options(wait=True)() == "yes"
    helper.join()

    def send_later() -> None:
        time.sleep(0.3)
        legato.send_event("ping", 7)

    helper = threading.Thread(target=send_later)
    helper.start()
    assert listens.with_options(wait=True)() == 7
    helper.join()
