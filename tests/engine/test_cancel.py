"""Cancelling a running run: async steps are cancelled, `finally` blocks run their tasks
as cleanup steps, and no other step starts."""

from __future__ import annotations

import asyncio
import threading
import time

import legato
from legato import flow, task
from legato.states import RunState, StepState

LEDGER: list[str] = []
STARTED = threading.Event()


@task
async def long_call() -> str:
    STARTED.set()
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        LEDGER.append("async step cancelled")
        raise
    return "finished"


@task
def release_lock() -> None:
    LEDGER.append("cleanup ran")


@task
def never() -> None:
    LEDGER.append("never")


@flow
def guarded() -> str:
    try:
        long_call()
        never()
        return "done"
    except legato.Cancelled:
        LEDGER.append("flow saw the cancel")
        raise
    finally:
        release_lock()


def test_cancel_cancels_the_async_step_and_runs_finally_as_cleanup(store) -> None:
    LEDGER.clear()
    STARTED.clear()
    handle = guarded.start()
    assert STARTED.wait(10)
    legato.cancel(handle.run_id, store=store, reason="not needed", by="ops")
    assert handle.wait(10)  # it did not wait for the 30 s step
    assert handle.state is RunState.CANCELLED
    deadline = time.monotonic() + 10
    while "async step cancelled" not in LEDGER and time.monotonic() < deadline:
        time.sleep(0.01)  # the coroutine is cancelled on its event loop, concurrently
    assert sorted(LEDGER) == ["async step cancelled", "cleanup ran", "flow saw the cancel"]
    assert LEDGER.index("flow saw the cancel") < LEDGER.index("cleanup ran")
    steps = {s.key: s.state for s in handle.steps}
    assert steps == {"long_call#0": StepState.CANCELLED, "release_lock#0": StepState.COMPLETED}
    cleanup = [e for e in store.get_events(handle.run_id) if e.step_key == "release_lock#0"]
    assert cleanup[0].message == "cleanup step"


@task
def undo_booking(booking: str) -> None:
    LEDGER.append(f"undo {booking}")


@task(compensate=undo_booking)
def book() -> str:
    LEDGER.append("book")
    return "b-1"


@flow
def waits_then_cleans_up() -> str:
    book()
    try:
        return legato.wait_for_event("go")
    finally:
        release_lock()


def test_cancelling_a_waiting_run_still_runs_its_finally_and_compensations(store):
    from legato.worker import Worker

    LEDGER.clear()
    handle = waits_then_cleans_up.run()
    assert handle.record.state is RunState.WAITING
    assert LEDGER == ["book"]  # suspending is not ending: the finally block did not run
    legato.cancel(handle.run_id, store=store, by="ops")
    assert store.get_run(handle.run_id).state is RunState.CANCELLED
    worker = Worker(store)
    assert worker.tick() == [handle.run_id]  # a worker unwinds it
    deadline = time.monotonic() + 10
    while worker.active() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert LEDGER == ["book", "cleanup ran", "undo b-1"]
    record = store.get_run(handle.run_id)
    assert record.state is RunState.CANCELLED and record.wake_at is None
    assert record.lease_expires_at is None
    assert worker.tick() == []  # unwound once
