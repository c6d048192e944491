"""Child flows that wait: the parent waits too (holding nothing) and resumes by replay
with the child's result or error once the child ends; cancels reach both and their
`finally` blocks run as cleanup steps. On every store, driven by a real worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from postgres_service import open_postgres

import legato
from legato import flow, task
from legato.engine import context
from legato.errors import RunFailedError, RunStateError
from legato.records import RunFilter, RunRecord
from legato.states import RunState, StepState
from legato.store import MemoryStore, SqliteStore
from legato.store.base import Store
from legato.worker import Worker
from legato.worker.service import WorkerOptions

LEDGER: list[str] = []
OPENERS: dict[str, Callable[[Path], Store]] = {
    "memory": lambda _: MemoryStore(),
    "sqlite": lambda tmp_path: SqliteStore(tmp_path / "legato.db"),
    "postgres": open_postgres,
}


@pytest.fixture(params=list(OPENERS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Each backend in turn, made the process default (a direct call uses it)."""
    opened = OPENERS[request.param](tmp_path)
    previous = context._defaults.store
    legato.use_store(opened)
    LEDGER.clear()
    yield opened
    context._defaults.store = previous
    opened.close()


@contextmanager
def a_worker(store: Store, queues: tuple[str, ...] = ("default",)) -> Iterator[Worker]:
    """A real worker on ``store``, claiming in a thread until the block ends."""
    options = WorkerOptions(poll_interval=0.02, queues=queues)
    worker = Worker(store, options=options)  # type: ignore[arg-type]
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        stop.set()
        thread.join(30)


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def ended(store: Store, run_id: str) -> Callable[[], bool]:
    return lambda: store.get_run(run_id).state.is_final


def only_child(store: Store, run_id: str) -> RunRecord:
    (child,) = store.list_runs(RunFilter(parent_run_id=run_id))
    return child


def step_states(store: Store, run_id: str) -> dict[str, StepState]:
    return {s.key: s.state for s in store.get_steps(run_id)}


# -- flows ---------------------------------------------------------------------------


@task
def note(line: str) -> str:
    LEDGER.append(line)
    return line


@task
def cleanup(who: str) -> None:
    LEDGER.append(f"cleanup {who}")


@flow
def napping_child(x: int) -> int:
    note("child before")
    legato.sleep(1.2)  # beyond the inline threshold: the child suspends
    note("child after")
    return x * 2


@flow
def parent_of_napper(x: int) -> int:
    note("parent before")
    doubled = napping_child(x)
    note("parent after")
    return doubled + 1


@flow
def event_child() -> dict:
    return legato.wait_for_event("children-go")


@flow
def parent_of_event_child() -> str:
    payload = event_child()
    return f"got {payload['n']}"


@flow
def input_child() -> dict:
    return legato.wait_for_input("go", prompt="may the child go on?")


@flow
def parent_of_input_child() -> str:
    answer = input_child()
    return f"answered {answer['colour']}"


@flow
def grandparent(x: int) -> int:
    note("grandparent before")
    return parent_of_napper(x) + 100


@flow
def failing_child() -> int:
    legato.sleep(1.2)
    raise ValueError("the child broke after its wait")


@flow
def parent_catching_child_failure() -> str:
    try:
        failing_child()
    except RunFailedError as exc:
        return f"caught {exc.error_type}"
    return "no failure"


@flow
def parent_of_failing_child() -> int:
    return failing_child()


@flow
def guarded_child() -> str:
    try:
        legato.wait_for_event("children-never")
        note("child went on")
        return "done"
    finally:
        cleanup("child")


@flow
def guarded_parent() -> str:
    try:
        result = guarded_child()
        note("parent went on")
        return result
    finally:
        cleanup("parent")


# -- a waiting child makes its parent wait -------------------------------------------


def test_a_child_that_sleeps_makes_its_parent_wait_and_a_worker_finishes_both(store) -> None:
    handle = parent_of_napper.run(5)
    parent = handle.record
    child = only_child(store, handle.run_id)
    assert child.state is RunState.WAITING
    assert parent.state is RunState.WAITING and parent.owner is None
    assert parent.waiting_for == f"child:{child.run_id}"
    assert parent.wake_at is None  # due when the child ends, not on a timer
    assert step_states(store, handle.run_id) == {
        "note#0": StepState.COMPLETED,
        "napping_child#0": StepState.WAITING,
    }
    with pytest.raises(RunStateError, match=f"waiting for its child run {child.run_id}"):
        handle.result()

    with a_worker(store):
        wait_for(ended(store, handle.run_id), "the parent to end")
    assert legato.get_run(handle.run_id, store=store).result() == 11
    assert store.get_run(child.run_id).state is RunState.COMPLETED
    # Replay: each body ran once, in order, across the two suspensions.
    assert LEDGER == ["parent before", "child before", "child after", "parent after"]
    (step,) = [s for s in store.get_steps(handle.run_id) if s.key == "napping_child#0"]
    assert step.state is StepState.COMPLETED and step.child_run_id == child.run_id


def test_a_direct_call_of_a_parent_whose_child_waits_says_what_it_waits_for(store) -> None:
    with pytest.raises(RunStateError) as raised:
        parent_of_napper(1)
    (parent,) = store.list_runs(RunFilter(roots_only=True))
    child = only_child(store, parent.run_id)
    message = str(raised.value)
    assert f"run {parent.run_id} is waiting for its child run {child.run_id}" in message
    assert f"legato runs resume {child.run_id}" in message


def test_a_child_waiting_for_an_event_resumes_its_parent_when_the_event_is_sent(store) -> None:
    handle = parent_of_event_child.run()
    child = only_child(store, handle.run_id)
    assert handle.record.state is RunState.WAITING
    assert child.waiting_for == "children-go"
    with a_worker(store):
        time.sleep(0.2)
        assert handle.record.state is RunState.WAITING  # nothing to do before the event
        legato.send_event("children-go", {"n": 7}, store=store)
        wait_for(ended(store, handle.run_id), "the parent to end")
    assert legato.get_run(handle.run_id, store=store).result() == "got 7"


def test_a_child_waiting_for_input_resumes_its_parent_once_answered(store) -> None:
    handle = parent_of_input_child.run()
    child = only_child(store, handle.run_id)
    assert handle.record.state is RunState.WAITING
    with a_worker(store):
        legato.answer_input(child.run_id, "go", {"colour": "green"}, by="ann", store=store)
        wait_for(ended(store, handle.run_id), "the parent to end")
    assert legato.get_run(handle.run_id, store=store).result() == "answered green"


def test_a_waiting_grandchild_makes_every_ancestor_wait(store) -> None:
    handle = grandparent.run(2)
    middle = only_child(store, handle.run_id)
    grandchild = only_child(store, middle.run_id)
    assert handle.record.waiting_for == f"child:{middle.run_id}"
    assert middle.state is RunState.WAITING
    assert middle.waiting_for == f"child:{grandchild.run_id}"
    assert grandchild.state is RunState.WAITING and grandchild.waiting_for is None
    with a_worker(store):
        wait_for(ended(store, handle.run_id), "the grandparent to end")
    assert legato.get_run(handle.run_id, store=store).result() == 105
    assert LEDGER.count("grandparent before") == 1
    assert LEDGER.count("child before") == 1 and LEDGER.count("parent after") == 1


def test_a_child_that_fails_after_its_wait_raises_in_its_parent(store) -> None:
    caught = parent_catching_child_failure.run()
    failed = parent_of_failing_child.run()
    with a_worker(store):
        wait_for(ended(store, caught.run_id), "the catching parent to end")
        wait_for(ended(store, failed.run_id), "the failing parent to end")
    assert legato.get_run(caught.run_id, store=store).result() == "caught builtins.ValueError"
    record = store.get_run(failed.run_id)
    assert record.state is RunState.FAILED and record.error is not None
    assert record.error.type.endswith("RunFailedError")
    child = only_child(store, failed.run_id)
    assert f"run {child.run_id} failed with builtins.ValueError" in record.error.message
    assert step_states(store, failed.run_id) == {"failing_child#0": StepState.FAILED}


def test_a_child_waits_in_its_parent_s_queue_for_the_worker_of_that_queue(store) -> None:
    handle = parent_of_napper.with_options(queue="slow", priority=3).submit(4)
    worker = Worker(store, options=WorkerOptions(queues=("slow",)))  # type: ignore[arg-type]
    assert worker.tick() == [handle.run_id]
    wait_for(lambda: not worker.active(), "the parent to suspend")
    child = only_child(store, handle.run_id)
    assert (child.queue, child.priority) == ("slow", 3)
    with a_worker(store, queues=("slow",)):
        wait_for(ended(store, handle.run_id), "the parent to end")
    assert legato.get_run(handle.run_id, store=store).result() == 9


CHILD_BREAKS = [True]


@flow
def flaky_child() -> str:
    legato.sleep(1.2)
    if CHILD_BREAKS[0]:
        raise ValueError("broken this time")
    return "fine"


@flow
def parent_of_flaky_child() -> str:
    return f"child was {flaky_child()}"


def test_retrying_a_parent_whose_waiting_child_failed_starts_a_new_child_and_waits_for_it(
    store,
) -> None:
    CHILD_BREAKS[0] = True
    handle = parent_of_flaky_child.run()
    first_child = only_child(store, handle.run_id)
    with a_worker(store):
        wait_for(ended(store, handle.run_id), "the parent to fail")
        assert store.get_run(handle.run_id).state is RunState.FAILED
        CHILD_BREAKS[0] = False
        from legato.engine.launch import resume

        with pytest.raises(RunStateError, match="waiting for its child run"):
            resume(handle.run_id, store=store, retry_failed=True).result()
        wait_for(ended(store, handle.run_id), "the retried parent to end")
    assert legato.get_run(handle.run_id, store=store).result() == "child was fine"
    children = store.list_runs(RunFilter(parent_run_id=handle.run_id))
    second = next(c for c in children if c.run_id != first_child.run_id)
    assert second.state is RunState.COMPLETED
    (step,) = store.get_steps(handle.run_id)
    assert step.child_run_id == second.run_id


# -- cancels --------------------------------------------------------------------------


def test_cancelling_a_parent_that_waits_for_its_child_cancels_both_and_runs_cleanups(
    store,
) -> None:
    handle = guarded_parent.run()
    child = only_child(store, handle.run_id)
    assert handle.record.state is RunState.WAITING
    legato.cancel(handle.run_id, store=store, reason="not needed")
    assert store.get_run(child.run_id).state is RunState.CANCELLED  # cascaded
    with a_worker(store):
        wait_for(
            lambda: (
                store.get_run(handle.run_id).finished_at is not None
                and store.get_run(child.run_id).finished_at is not None
            ),
            "both runs to be unwound",
        )
    assert store.get_run(handle.run_id).state is RunState.CANCELLED
    assert store.get_run(child.run_id).state is RunState.CANCELLED
    assert sorted(LEDGER) == ["cleanup child", "cleanup parent"]
    assert step_states(store, handle.run_id)["cleanup#0"] is StepState.COMPLETED
    assert step_states(store, child.run_id)["cleanup#0"] is StepState.COMPLETED


def test_cancelling_the_child_a_parent_waits_for_cancels_the_parent_with_cleanup(
    store,
) -> None:
    handle = guarded_parent.run()
    child = only_child(store, handle.run_id)
    legato.cancel(child.run_id, store=store)
    with a_worker(store):
        wait_for(lambda: store.get_run(handle.run_id).finished_at is not None, "the parent to end")
    assert store.get_run(handle.run_id).state is RunState.CANCELLED
    assert sorted(LEDGER) == ["cleanup child", "cleanup parent"]
    cleanup_events = [e for e in store.get_events(handle.run_id) if e.step_key == "cleanup#0"]
    assert [e.message for e in cleanup_events if e.state == "running"] == ["cleanup step"]


# -- cleanup after a cancel that reaches a parent through its child -------------------

STARTED = threading.Event()
RELEASE = threading.Event()


@task
def blocks() -> None:
    STARTED.set()
    RELEASE.wait(10)


@flow
def busy_child() -> None:
    blocks()
    note("child went on")


@flow
def parent_with_cleanup() -> None:
    try:
        busy_child()
        note("parent went on")
    finally:
        cleanup("parent")


def test_a_cancel_reaching_the_parent_through_its_child_runs_the_parent_s_cleanup(
    store,
) -> None:
    LEDGER.clear()
    STARTED.clear()
    RELEASE.clear()
    handle = parent_with_cleanup.start()
    assert STARTED.wait(10)
    legato.cancel(handle.run_id, store=store)
    RELEASE.set()
    assert handle.wait(10)
    assert handle.state is RunState.CANCELLED
    assert LEDGER == ["cleanup parent"]
    steps = {s.key: s for s in handle.steps}
    assert steps["cleanup#0"].state is StepState.COMPLETED
    running = [
        e
        for e in store.get_events(handle.run_id)
        if e.step_key == "cleanup#0" and e.state == "running"
    ]
    assert [e.message for e in running] == ["cleanup step"]
