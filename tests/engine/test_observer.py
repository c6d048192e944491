"""The observer hook: typed events of runs and steps, in the order they happened, on
every store; an observer that raises never breaks a run; unsubscribing stops them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest

import legato
from legato import flow, task
from legato.engine.observer import (
    Event,
    Observer,
    RunFinished,
    RunStarted,
    RunWaiting,
    StepEvent,
    StepFinished,
    StepRetrying,
    StepStarted,
    subscribe,
)
from legato.states import RunState
from legato.store.base import Store

ATTEMPTS: list[int] = []
STARTED = threading.Event()
RELEASE = threading.Event()


class Log(Observer):
    """Keeps every event it is given (from any thread)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def _note(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    on_run_started = on_run_updated = on_run_waiting = on_run_paused = _note
    on_run_finished = on_step_submitted = on_step_started = _note
    on_step_retrying = on_step_waiting = on_step_finished = _note

    def seen(self, run_id: str | None = None) -> list[tuple[str, str, str]]:
        """(event type, step key or "", state) of ``run_id``'s events (all if None)."""
        with self._lock:
            return [
                (type(e).__name__, e.step_key if isinstance(e, StepEvent) else "", e.state.value)
                for e in self.events
                if run_id is None or e.run_id == run_id
            ]


@pytest.fixture
def log(store: Store) -> Iterator[Log]:
    """A ``Log`` subscribed while the test runs, on every backend."""
    observer = Log()
    with subscribe(observer):
        yield observer


@task
def fetch(n: int) -> int:
    return n + 1


@task(retries=1, retry_delay=0)
def flaky() -> str:
    ATTEMPTS.append(1)
    if len(ATTEMPTS) == 1:
        raise ConnectionError("first attempt fails")
    return "ok"


@task
def broken() -> None:
    raise ValueError("bad input")


@flow
def steps() -> int:
    return fetch(fetch(1))


@flow
def retried() -> str:
    return flaky()


@flow
def failing() -> None:
    broken()


def test_a_flow_with_steps_reports_each_transition_in_order(log: Log) -> None:
    handle = steps.run()

    assert log.seen(handle.run_id) == [
        ("RunStarted", "", "running"),
        ("StepStarted", "fetch#0", "running"),
        ("StepFinished", "fetch#0", "completed"),
        ("StepStarted", "fetch#1", "running"),
        ("StepFinished", "fetch#1", "completed"),
        ("RunFinished", "", "completed"),
    ]
    first = log.events[0]
    assert isinstance(first, RunStarted)
    assert first.flow_name == "steps" and first.resumed is False
    finished = [e for e in log.events if isinstance(e, StepFinished)]
    assert [e.task_name for e in finished] == ["fetch", "fetch"]
    assert all(e.attempt == 1 and e.error is None for e in finished)


def test_a_retry_is_reported_with_its_error_and_the_next_attempt(log: Log) -> None:
    ATTEMPTS.clear()
    handle = retried.run()

    assert log.seen(handle.run_id) == [
        ("RunStarted", "", "running"),
        ("StepStarted", "flaky#0", "running"),
        ("StepRetrying", "flaky#0", "retrying"),
        ("StepStarted", "flaky#0", "running"),
        ("StepFinished", "flaky#0", "completed"),
        ("RunFinished", "", "completed"),
    ]
    (retrying,) = [e for e in log.events if isinstance(e, StepRetrying)]
    assert retrying.attempt == 1 and retrying.retry_at is not None
    assert retrying.error is not None and retrying.error.message == "first attempt fails"
    assert [e.attempt for e in log.events if isinstance(e, StepStarted)] == [1, 2]


def test_a_failure_is_reported_on_the_step_and_the_run(log: Log) -> None:
    handle = failing.run()

    assert handle.state is RunState.FAILED
    assert log.seen(handle.run_id) == [
        ("RunStarted", "", "running"),
        ("StepStarted", "broken#0", "running"),
        ("StepFinished", "broken#0", "failed"),
        ("RunFinished", "", "failed"),
    ]
    step, run = log.events[-2], log.events[-1]
    assert isinstance(step, StepFinished) and step.error is not None
    assert step.error.summary() == "ValueError: bad input"
    assert isinstance(run, RunFinished) and run.error is not None
    assert "bad input" in run.error.message


@flow
def shipping() -> str:
    fetch(1)
    parcel = legato.wait_for_event("parcel.arrived")
    return f"got {parcel}"


def test_a_wait_that_suspends_and_its_resume(log: Log, store: Store) -> None:
    handle = shipping.run()

    assert log.seen(handle.run_id)[-2:] == [
        ("StepWaiting", "wait_for_event#0", "waiting"),
        ("RunWaiting", "", "waiting"),
    ]
    waiting = log.events[-1]
    assert isinstance(waiting, RunWaiting) and waiting.waiting_for == "parcel.arrived"
    legato.send_event("parcel.arrived", "box", run_id=handle.run_id)
    before = len(log.events)

    assert legato.resume(handle.run_id, store=store).result(timeout=10) == "got box"

    resumed = [(type(e).__name__, e.state.value) for e in log.events[before:]]
    assert resumed[0] == ("RunStarted", "running")
    assert ("StepFinished", "completed") in resumed
    assert resumed[-1] == ("RunFinished", "completed")
    started = log.events[before]
    assert isinstance(started, RunStarted) and started.resumed is True


@flow
def child(n: int) -> int:
    return fetch(n)


@flow
def parent() -> int:
    return child(10) + 1


def test_a_child_flow_is_reported_inside_its_parent_step(log: Log) -> None:
    handle = parent.run()

    assert handle.result() == 12
    (child_started,) = [e for e in log.events if isinstance(e, RunStarted) and e.parent_run_id]
    child_id = child_started.run_id
    assert child_started.parent_run_id == handle.run_id
    assert child_started.parent_step_key == "child#0"
    assert child_started.flow_name == "child"
    assert log.seen() == [
        ("RunStarted", "", "running"),
        ("StepStarted", "child#0", "running"),
        ("RunStarted", "", "running"),
        ("StepStarted", "fetch#0", "running"),
        ("StepFinished", "fetch#0", "completed"),
        ("RunFinished", "", "completed"),
        ("StepFinished", "child#0", "completed"),
        ("RunFinished", "", "completed"),
    ]
    step_started = log.events[1]
    assert isinstance(step_started, StepStarted) and step_started.child_run_id == child_id
    assert [e.run_id for e in log.events[2:6]] == [child_id] * 4


@task
def long_call() -> None:
    STARTED.set()
    RELEASE.wait(10)


@flow
def cancellable() -> None:
    long_call()
    fetch(1)


def test_a_cancel_is_reported_on_the_step_and_the_run(log: Log, store: Store) -> None:
    STARTED.clear()
    RELEASE.clear()
    handle = cancellable.start()
    assert STARTED.wait(10)
    legato.cancel(handle.run_id, store=store, reason="not needed", by="ops")
    RELEASE.set()

    assert handle.wait(10)
    assert handle.state is RunState.CANCELLED
    seen = log.seen(handle.run_id)
    assert seen[0] == ("RunStarted", "", "running")
    assert seen[-1] == ("RunFinished", "", "cancelled")
    assert ("StepStarted", "fetch#0", "running") not in seen
    finished = log.events[-1]
    assert isinstance(finished, RunFinished) and finished.error is not None
    assert finished.error.type.endswith("Cancelled")


@task
def submitted(n: int) -> int:
    return n * 2


@flow
def mapped() -> list[int]:
    return legato.gather(*submitted.map([1, 2, 3]))


def test_submitted_steps_are_announced_before_they_start(log: Log) -> None:
    handle = mapped.run()

    assert handle.result() == [2, 4, 6]
    seen = log.seen(handle.run_id)
    for key in ("submitted#0", "submitted#1", "submitted#2"):
        assert seen.index(("StepSubmitted", key, "pending")) < seen.index(
            ("StepStarted", key, "running")
        )
        assert ("StepFinished", key, "completed") in seen
    assert seen[-1] == ("RunFinished", "", "completed")


class Broken(Observer):
    def on_step_finished(self, event: StepFinished) -> None:
        raise RuntimeError("observer bug")


def test_an_observer_that_raises_is_logged_and_the_run_goes_on(
    log: Log, caplog: pytest.LogCaptureFixture
) -> None:
    with subscribe(Broken()), caplog.at_level(logging.ERROR, logger="legato.observer"):
        handle = steps.run()

    assert handle.result() == 3
    assert log.seen(handle.run_id)[-1] == ("RunFinished", "", "completed")  # others still hear
    failures = [r for r in caplog.records if r.name == "legato.observer"]
    assert len(failures) == 2  # one per finished step
    assert "StepFinished" in failures[0].getMessage()
    assert handle.run_id in failures[0].getMessage()


def test_unsubscribe_stops_the_events(store: Store) -> None:
    observer = Log()
    subscription = subscribe(observer)
    first = steps.run()
    subscription.unsubscribe()
    subscription.unsubscribe()  # harmless

    second = steps.run()

    assert observer.seen(first.run_id)[-1] == ("RunFinished", "", "completed")
    assert observer.seen(second.run_id) == []


def test_subscribing_twice_delivers_once(store: Store) -> None:
    observer = Log()
    with subscribe(observer), subscribe(observer):
        handle = steps.run()

    assert len(observer.seen(handle.run_id)) == 6


class Chained(Observer):
    """Runs another flow when a ``steps`` run finishes, as an in-process trigger would."""

    def __init__(self) -> None:
        self.results: list[int] = []

    def on_run_finished(self, event: RunFinished) -> None:
        if event.flow_name == "steps" and event.parent_run_id is None:
            self.results.append(child.run(5).result())


def test_an_observer_may_run_a_flow_itself(log: Log) -> None:
    chained = Chained()
    outcome: list[int] = []
    with subscribe(chained):
        thread = threading.Thread(target=lambda: outcome.append(steps.run().result()))
        thread.start()
        thread.join(30)

    assert not thread.is_alive(), "the run hung delivering events to the observer"
    assert outcome == [3] and chained.results == [6]
    (nested,) = [e for e in log.events if isinstance(e, RunStarted) and e.flow_name == "child"]
    assert log.seen(nested.run_id)[-1] == ("RunFinished", "", "completed")
