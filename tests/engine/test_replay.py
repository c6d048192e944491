"""Replay: resuming re-runs the flow but not its completed steps; cache; non-determinism."""

from __future__ import annotations

from datetime import timedelta

import pytest

import legato
from legato import flow, task
from legato.errors import NonDeterminismError, RunNotFoundError, RunStateError
from legato.states import RunState, StepState

LEDGER: list[str] = []
BROKEN = {"b": True}


@task
def step_a() -> int:
    LEDGER.append("a")
    return 1


@task
def step_b(x: int) -> int:
    LEDGER.append("b")
    if BROKEN["b"]:
        raise RuntimeError("b is broken")
    return x + 1


@task
def step_c(x: int) -> int:
    LEDGER.append("c")
    return x * 10


@flow
def abc() -> int:
    return step_c(step_b(step_a()))


@pytest.fixture(autouse=True)
def _reset():
    LEDGER.clear()
    BROKEN["b"] = True


def test_retrying_a_failed_run_replays_completed_steps(store):
    handle = abc.run()
    assert handle.state is RunState.FAILED
    BROKEN["b"] = False
    again = legato.resume(handle.run_id, store=store, retry_failed=True)
    assert again.result() == 20
    assert LEDGER == ["a", "b", "b", "c"]
    assert again.state is RunState.COMPLETED
    steps = {s.key: s for s in again.steps}
    assert steps["step_b#0"].attempts == 2
    messages = [e.message or "" for e in store.get_events(handle.run_id) if e.kind == "run"]
    assert any("retried by replay" in m for m in messages)


def test_resume_without_retry_refuses_a_failed_run(store):
    handle = abc.run()
    with pytest.raises(RunStateError, match="runs retry"):
        legato.resume(handle.run_id, store=store)


def test_resuming_a_completed_run_returns_its_result_without_running(store):
    BROKEN["b"] = False
    handle = abc.run()
    LEDGER.clear()
    assert legato.resume(handle.run_id, store=store).result() == 20
    assert LEDGER == []


def test_changed_flow_raises_non_determinism_naming_both(store):
    handle = abc.run()

    @flow(name="abc")
    def changed() -> int:
        return step_c(step_a())  # step_b was removed from the middle

    BROKEN["b"] = False
    again = legato.resume(handle.run_id, store=store, flow=changed, retry_failed=True)
    with pytest.raises(NonDeterminismError) as info:
        again.result()
    assert "step_b#0" in str(info.value) and "'step_c'" in str(info.value)
    assert handle.run_id in str(info.value)


def test_unknown_run_id_is_a_clear_error(store):
    with pytest.raises(RunNotFoundError, match="nope"):
        legato.resume("nope", store=store)


def test_cache_reuses_results_across_runs(store):
    calls = []

    @task(cache_key="inputs", cache_ttl=timedelta(hours=1))
    def expensive(x: int) -> int:
        calls.append(x)
        return x * 100

    @flow
    def f(x: int) -> int:
        return expensive(x)

    assert f(1) == 100
    handle = f.run(1)
    assert handle.result() == 100
    assert f(2) == 200
    assert calls == [1, 2]
    (step,) = handle.steps
    assert step.cached and step.state is StepState.COMPLETED


def test_cache_key_function_and_expiry(store):
    calls = []

    # A TTL long enough for the second call to come before it even on a busy machine.
    @task(cache_key=lambda user, **_: f"user-{user}", cache_ttl=1.0)
    def profile(user: str, noise: int = 0) -> str:
        calls.append(user)
        return user.upper()

    @flow
    def f(noise: int) -> str:
        return profile("ada", noise=noise)

    f(1)
    f(2)  # same key despite different noise
    assert calls == ["ada"]
    import time

    time.sleep(1.1)
    f(3)
    assert calls == ["ada", "ada"]


def test_cancel_stops_a_run_at_the_next_step(store):
    import threading

    started = threading.Event()
    release = threading.Event()

    @task
    def first() -> None:
        started.set()
        release.wait(10)

    @task
    def second() -> None:
        LEDGER.append("second")

    @flow
    def f() -> None:
        first()
        second()

    handle = f.start()
    assert started.wait(10)
    legato.cancel(handle.run_id, store=store, reason="testing", by="me")
    release.set()
    handle.wait(10)
    assert handle.state is RunState.CANCELLED
    assert "second" not in LEDGER
    cancel_events = [e for e in store.get_events(handle.run_id) if e.state == "cancelled"]
    assert cancel_events[0].by == "me" and cancel_events[0].message == "testing"
    with pytest.raises(RunStateError, match="already ended"):
        legato.cancel(handle.run_id, store=store)


def test_cancelling_a_parent_cancels_its_running_child_first(store):
    import threading

    from legato.records import RunFilter

    started = threading.Event()
    release = threading.Event()

    @task
    def blocks() -> None:
        started.set()
        release.wait(10)

    @task
    def after() -> None:
        LEDGER.append("after")

    @flow
    def child() -> None:
        blocks()
        after()

    @flow
    def parent() -> None:
        child()
        after()

    handle = parent.start()
    assert started.wait(10)
    legato.cancel(handle.run_id, store=store)
    (child_run,) = store.list_runs(RunFilter(parent_run_id=handle.run_id))
    assert store.get_run(child_run.run_id).state is RunState.CANCELLED
    release.set()
    handle.wait(10)
    assert handle.state is RunState.CANCELLED
    assert LEDGER == []
    child_events = store.get_events(child_run.run_id)
    assert any(e.message == f"parent run {handle.run_id} cancelled" for e in child_events)
