"""Pausing and unpausing: at the next step boundary; unpaused runs go back to the queue."""

from __future__ import annotations

import threading
import time

import pytest

import legato
from legato import flow, task
from legato.errors import RunStateError
from legato.states import RunState
from legato.worker import Worker

LEDGER: list[str] = []
GATE = threading.Event()
STARTED = threading.Event()


@task
def first() -> None:
    STARTED.set()
    GATE.wait(10)
    LEDGER.append("first")


@task
def second() -> None:
    LEDGER.append("second")


@flow
def two_steps() -> str:
    first()
    second()
    return "done"


def run_to_end(store, run_id: str) -> None:
    worker = Worker(store)
    deadline = time.monotonic() + 20
    while store.get_run(run_id).state is not RunState.COMPLETED and time.monotonic() < deadline:
        worker.tick()
        time.sleep(0.02)


def test_pause_stops_a_running_run_at_the_next_step_and_unpause_resumes_it(store):
    LEDGER.clear()
    GATE.clear()
    STARTED.clear()
    handle = two_steps.start()
    assert STARTED.wait(10)
    legato.pause(handle.run_id, store=store, reason="maintenance", by="ops")
    time.sleep(1.1)  # the running process looks at the run's state about once a second
    GATE.set()
    handle.wait(10)
    assert store.get_run(handle.run_id).state is RunState.PAUSED
    assert LEDGER == ["first"]  # the step that was running finished; none started after
    assert legato.unpause(handle.run_id, store=store).state is RunState.PENDING
    with pytest.raises(RunStateError, match="only a paused run"):
        legato.unpause(handle.run_id, store=store)
    run_to_end(store, handle.run_id)
    assert LEDGER == ["first", "second"]
    history = [(e.state, e.by, e.message) for e in store.get_events(handle.run_id)]
    assert ("paused", "ops", "paused: maintenance") in history


@flow
def napper() -> str:
    legato.sleep(1.5)
    return "rested"


def test_a_paused_waiting_run_is_not_woken_until_unpaused(store):
    handle = napper.run()
    assert handle.record.state is RunState.WAITING
    legato.pause(handle.run_id, store=store)
    time.sleep(1.6)
    assert Worker(store).tick() == []  # due, but paused
    legato.unpause(handle.run_id, store=store)
    run_to_end(store, handle.run_id)
    assert legato.get_run(handle.run_id, store=store).result() == "rested"


def test_a_finished_run_cannot_be_paused(store):
    @flow
    def quick() -> int:
        return 1

    handle = quick.run()
    with pytest.raises(RunStateError, match="completed"):
        legato.pause(handle.run_id, store=store)
