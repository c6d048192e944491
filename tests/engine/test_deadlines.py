"""A flow's timeout is the run's deadline, fixed at its start and kept across waits,
resumes and crashes (crash tests in tests/crash/); on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from postgres_service import open_postgres

import legato
from legato import flow, task
from legato.engine import context
from legato.errors import FlowTimeoutError, RunStateError
from legato.states import RunState
from legato.store import open_store
from legato.store.base import Store

LEDGER: list[str] = []


@pytest.fixture(autouse=True)
def _clear() -> None:
    LEDGER.clear()


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        opened: Store = open_store(f"sqlite:///{tmp_path / 'legato.db'}")
    else:
        opened = open_postgres(tmp_path)
    previous = context._defaults.store
    legato.use_store(opened)
    yield opened
    context._defaults.store = previous
    opened.close()


@task
def before() -> str:
    LEDGER.append("before")
    return "b"


@task
def after(x: str) -> str:
    LEDGER.append("after")
    return x + "a"


@flow(timeout=1.2)
def naps_past_its_timeout(seconds: float) -> str:
    x = before()
    legato.sleep(seconds)
    return after(x)


def _sleep_until(when: datetime) -> None:
    time.sleep(max(0.0, (when - datetime.now(UTC)).total_seconds()) + 0.05)


def test_a_durable_sleep_longer_than_the_flow_timeout_fails_the_run(store: Store) -> None:
    from legato.worker import Worker

    handle = naps_past_its_timeout.run(2.5)  # suspends: longer than INLINE_WAIT
    record = handle.record
    assert record.state is RunState.WAITING
    assert record.deadline_at is not None
    # Woken at its deadline, which comes before the end of its sleep.
    assert record.wake_at == record.deadline_at

    worker = Worker(store)
    _sleep_until(record.wake_at)
    assert worker.tick() == [handle.run_id]
    limit = time.monotonic() + 20
    while worker.active() and time.monotonic() < limit:
        time.sleep(0.01)
    failed = legato.get_run(handle.run_id, store=store).record
    assert failed.state is RunState.FAILED and failed.error is not None
    assert failed.error.type == "legato.errors.FlowTimeoutError"
    assert record.deadline_at.isoformat() in failed.error.message
    assert LEDGER == ["before"]  # nothing after the sleep ran


@flow(timeout=1.2)
def waits_long() -> str:
    x = before()
    legato.sleep(60)
    return after(x)


def test_a_run_resumed_after_its_deadline_fails_at_once_saying_why(store: Store) -> None:
    handle = waits_long.run()
    deadline_at = handle.record.deadline_at
    assert deadline_at is not None
    with pytest.raises(RunStateError, match="waiting"):
        handle.result()
    _sleep_until(deadline_at)

    resumed = legato.resume(handle.run_id, store=store)
    with pytest.raises(FlowTimeoutError) as info:
        resumed.result()
    message = str(info.value)
    assert handle.run_id in message and "waits_long" in message
    assert f"passed its deadline at {deadline_at.isoformat()}" in message
    assert "timeout of 1.2s" in message and "from the run's start" in message
    assert "runs retry" in message
    record = legato.get_run(handle.run_id, store=store).record
    assert record.state is RunState.FAILED
    assert record.error is not None and record.error.type == "legato.errors.FlowTimeoutError"
    assert LEDGER == ["before"]


def test_resuming_before_the_deadline_keeps_it(store: Store) -> None:
    handle = waits_long.run()
    first = handle.record.deadline_at
    assert first is not None
    time.sleep(0.05)
    again = legato.resume(handle.run_id, store=store, flow=waits_long)
    assert again.record.state is RunState.WAITING
    assert again.record.deadline_at == first  # not pushed back by resuming


@task
def slow(seconds: float) -> str:
    LEDGER.append("slow")
    time.sleep(seconds)
    return "slow"


PACE = {"seconds": 1.5}


@flow(timeout=1.0)
def slow_then_quick() -> str:
    first = slow(PACE["seconds"])
    return after(first)


def test_the_deadline_is_checked_at_step_boundaries_and_a_retry_gets_a_new_one(
    store: Store,
) -> None:
    PACE["seconds"] = 1.5
    handle = slow_then_quick.run()
    assert handle.state is RunState.FAILED
    with pytest.raises(FlowTimeoutError, match="ran past its timeout of 1s"):
        handle.result()
    assert LEDGER == ["slow"]  # the next step did not start

    retried = legato.resume(handle.run_id, store=store, retry_failed=True)
    assert retried.result() == "slowa"  # completed steps replay; a new deadline holds
    assert LEDGER == ["slow", "after"]
