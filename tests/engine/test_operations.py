"""The operations service: every operator action, on memory, SQLite and PostgreSQL,
records who did it in the run's history and refuses what cannot be done."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

import legato
from legato import flow, task
from legato.engine.operations import Operations, RunChange, Submitted
from legato.errors import (
    IdempotencyConflictError,
    InputError,
    InputRejected,
    RunNotFoundError,
    RunStateError,
)
from legato.records import RunFilter
from legato.states import RunState
from legato.store import MemoryStore
from legato.store.base import QueueStore

ALICE = "alice@laptop"
UNKNOWN = "01J0000000000000000000000"
broken = {"fail": True}


@flow
def greet(name: str = "world") -> str:
    return f"hello {name}"


@task
def flaky(value: int) -> int:
    if broken["fail"]:
        raise ValueError("the supplier is down")
    return value * 2


calls: list[int] = []


@task
def first(value: int) -> int:
    calls.append(value)
    return value + 1


@flow
def pipeline(value: int) -> int:
    return flaky(first(value))


@flow
def awaits_payment(order: str) -> object:
    return legato.wait_for_event("payment", match={"order": order})


@flow
def parent_of_a_waiting_child() -> object:
    return awaits_payment("o-child")


class Approval(BaseModel):
    approved: bool


@flow
def asks_manager() -> str:
    try:
        answer = legato.wait_for_input("manager", schema=Approval)
    except InputRejected as exc:
        return f"rejected: {exc}"
    return "approved" if answer.approved else "declined"


@task
def submit_greeting(name: str) -> str:
    return greet.submit(name).run_id


@flow
def submits_from_a_step(name: str) -> str:
    return submit_greeting(name)


@flow
def submits_from_the_body(name: str) -> str:
    return greet.submit(name).run_id


def actors(store: QueueStore, run_id: str, state: str) -> list[str | None]:
    """Who brought the run into ``state``, oldest first, from its history."""
    return [e.by for e in store.get_events(run_id) if e.kind == "run" and e.state == state]


@pytest.fixture
def ops(store: QueueStore) -> Operations:
    return Operations(store)


@pytest.fixture(autouse=True)
def _fixed() -> None:
    broken["fail"] = True
    calls.clear()


# -- start, submit --------------------------------------------------------------------


def test_start_runs_the_flow_here_and_records_who_started_it(ops: Operations) -> None:
    handle = ops.start(greet, kwargs={"name": "ada"}, by=ALICE)
    assert handle.result() == "hello ada"
    assert actors(ops.store, handle.run_id, "running") == [ALICE]


def test_start_and_submit_take_a_target_as_well_as_a_flow(ops: Operations) -> None:
    assert greet.target is not None
    assert ops.start(greet.target, args=("bob",)).result() == "hello bob"
    submitted = ops.submit(greet.target, kwargs={"name": "cy"})
    assert submitted.run.flow_name == "greet"
    assert legato.get_run(submitted.run.run_id, store=ops.store).record.params == '{"name":"cy"}'


def test_submit_queues_a_pending_run_with_the_options_given(ops: Operations) -> None:
    submitted = ops.submit(
        greet,
        kwargs={"name": "ada"},
        queue="nightly",
        priority=5,
        tags=["gpu"],
        idempotency_key="greet-ada",
        by=ALICE,
    )
    assert isinstance(submitted, Submitted) and submitted.created
    run = ops.store.get_run(submitted.run.run_id)
    assert (run.state, run.queue, run.priority, run.tags) == (
        RunState.PENDING,
        "nightly",
        5,
        ("gpu",),
    )
    assert run.idempotency_key == "greet-ada"
    assert actors(ops.store, run.run_id, "pending") == [ALICE]


def test_submit_with_a_known_idempotency_key_returns_that_run_or_a_conflict(
    ops: Operations,
) -> None:
    first_run = ops.submit(greet, kwargs={"name": "ada"}, idempotency_key="k")
    again = ops.submit(greet, kwargs={"name": "ada"}, idempotency_key="k", by=ALICE)
    assert (again.run.run_id, again.created) == (first_run.run.run_id, False)
    assert actors(ops.store, first_run.run.run_id, "pending") == [None]  # nothing written
    with pytest.raises(IdempotencyConflictError):
        ops.submit(greet, kwargs={"name": "bob"}, idempotency_key="k")


# -- cancel, pause, unpause ------------------------------------------------------------


def test_cancel_records_who_and_why_and_refuses_an_ended_run(ops: Operations) -> None:
    run_id = ops.submit(greet).run.run_id
    change = ops.cancel(run_id, reason="wrong input", by=ALICE)
    assert isinstance(change, RunChange)
    assert (change.before.state, change.after.state) == (RunState.PENDING, RunState.CANCELLED)
    cancelled = [e for e in ops.store.get_events(run_id) if e.state == "cancelled"]
    assert [(e.by, e.message) for e in cancelled] == [(ALICE, "wrong input")]
    with pytest.raises(RunStateError, match="already ended"):
        ops.cancel(run_id, by=ALICE)
    with pytest.raises(RunNotFoundError):
        ops.cancel(UNKNOWN, by=ALICE)


def test_cancel_of_a_waiting_parent_cancels_its_child_first_by_the_same_actor(
    ops: Operations,
) -> None:
    parent = ops.start(parent_of_a_waiting_child)
    assert parent.state is RunState.WAITING
    [child] = ops.store.list_runs(RunFilter(parent_run_id=parent.run_id))
    ops.cancel(parent.run_id, by=ALICE)
    child_cancel = [e for e in ops.store.get_events(child.run_id) if e.state == "cancelled"]
    assert [(e.by, e.message) for e in child_cancel] == [
        (ALICE, f"parent run {parent.run_id} cancelled")
    ]
    assert actors(ops.store, parent.run_id, "cancelled") == [ALICE]
    assert child_cancel[0].at <= ops.store.get_events(parent.run_id)[-1].at


def test_pause_and_unpause_record_who_and_refuse_the_wrong_state(ops: Operations) -> None:
    run_id = ops.submit(greet).run.run_id
    paused = ops.pause(run_id, reason="supplier outage", by=ALICE)
    assert paused.after.state is RunState.PAUSED
    with pytest.raises(RunStateError, match="only a pending, waiting or running run"):
        ops.pause(run_id, by=ALICE)
    assert ops.unpause(run_id, by="bob").after.state is RunState.PENDING
    with pytest.raises(RunStateError, match="only a paused run can be unpaused"):
        ops.unpause(run_id, by="bob")
    assert actors(ops.store, run_id, "paused") == [ALICE]
    assert actors(ops.store, run_id, "pending")[-1] == "bob"
    with pytest.raises(RunNotFoundError):
        ops.pause(UNKNOWN)


def test_the_clock_stamps_what_the_service_writes(store: QueueStore) -> None:
    at = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    ops = Operations(store, clock=lambda: at)
    run_id = ops.submit(greet).run.run_id
    ops.pause(run_id, by=ALICE)
    assert [e.at for e in store.get_events(run_id)] == [at, at]
    assert store.get_run(run_id).created_at == at


# -- retry, requeue, resume ------------------------------------------------------------


def test_retry_reruns_the_failed_step_only_and_records_who(ops: Operations) -> None:
    handle = ops.start(pipeline, args=(1,))
    assert handle.state is RunState.FAILED
    broken["fail"] = False
    retried = ops.retry(handle.run_id, by=ALICE)
    assert retried.result() == 4
    assert actors(ops.store, handle.run_id, "running")[-1] == ALICE
    assert calls == [1]  # first#0 kept its result: it did not run again


def test_retry_from_a_step_that_does_not_exist_names_the_steps(ops: Operations) -> None:
    handle = ops.start(pipeline, args=(1,))
    with pytest.raises(RunStateError, match="no step 'nope#0'.*first#0"):
        ops.retry(handle.run_id, from_step="nope#0", by=ALICE)
    with pytest.raises(RunNotFoundError):
        ops.retry(UNKNOWN)


def test_requeue_hands_a_failed_run_to_workers_and_refuses_others(ops: Operations) -> None:
    handle = ops.start(pipeline, args=(1,))
    change = ops.requeue(handle.run_id, by=ALICE)
    assert (change.before.state, change.after.state) == (RunState.FAILED, RunState.PENDING)
    assert actors(ops.store, handle.run_id, "pending") == [ALICE]
    with pytest.raises(RunStateError, match="is pending, not failed"):
        ops.requeue(handle.run_id, by=ALICE)
    with pytest.raises(RunNotFoundError):
        ops.requeue(UNKNOWN)


def test_send_event_then_resume_finishes_a_waiting_run(ops: Operations) -> None:
    handle = ops.start(awaits_payment, args=("o-7",))
    assert handle.state is RunState.WAITING
    sent = ops.send_event("payment", {"order": "o-7"}, run_id=handle.run_id, by=ALICE)
    assert sent.id is not None and sent.by == ALICE
    assert ops.resume(handle.run_id, by="bob").result() == {"order": "o-7"}
    assert actors(ops.store, handle.run_id, "running")[-1] == "bob"
    with pytest.raises(RunStateError):
        ops.send_event("payment", {}, run_id=handle.run_id)


def test_resume_refuses_a_failed_run(ops: Operations) -> None:
    handle = ops.start(pipeline, args=(1,))
    with pytest.raises(RunStateError, match="legato runs retry"):
        ops.resume(handle.run_id)


# -- answer, reject ----------------------------------------------------------------------


def test_answer_is_recorded_with_who_and_the_first_answer_wins(ops: Operations) -> None:
    handle = ops.start(asks_manager)
    assert handle.state is RunState.WAITING
    with pytest.raises(InputError, match="not waiting for input 'cfo'"):
        ops.answer(handle.run_id, "cfo", {"approved": True}, by=ALICE)
    with pytest.raises(InputError, match="does not fit its schema"):
        ops.answer(handle.run_id, "manager", {"approved": "perhaps"}, by=ALICE)
    answer = ops.answer(handle.run_id, "manager", {"approved": True}, by=ALICE)
    assert (answer.decision, answer.answered_by) == ("answered", ALICE)
    with pytest.raises(InputError, match=f"already answered by {ALICE}"):
        ops.reject(handle.run_id, "manager", "too late", by="bob")
    answered = [
        e for e in ops.store.get_events(handle.run_id) if e.message == "input 'manager' answered"
    ]
    assert [e.by for e in answered] == [ALICE]
    assert ops.resume(handle.run_id).result() == "approved"


def test_reject_gives_the_flow_the_reason(ops: Operations) -> None:
    handle = ops.start(asks_manager)
    rejected = ops.reject(handle.run_id, "manager", "no receipt", by=ALICE)
    assert (rejected.decision, rejected.answered_by) == ("rejected", ALICE)
    said = ops.resume(handle.run_id).result()
    assert said.startswith("rejected: ") and said.endswith(f"rejected by {ALICE}: no receipt")
    with pytest.raises(RunStateError, match="already ended"):
        ops.answer(handle.run_id, "manager", {"approved": True})


# -- the store a run's own calls land in ---------------------------------------------------


@pytest.mark.parametrize("starter", [submits_from_a_step, submits_from_the_body])
def test_what_a_run_submits_without_naming_a_store_lands_in_the_runs_store(
    store: QueueStore, starter: legato.Flow[[str], str]
) -> None:
    elsewhere = MemoryStore()  # the run's store; ``store`` is the process default
    handle = Operations(elsewhere).start(starter, args=("ada",))
    submitted_id = handle.result()
    assert elsewhere.get_run(submitted_id).flow_name == "greet"
    with pytest.raises(RunNotFoundError):
        store.get_run(submitted_id)


def test_the_module_functions_act_through_the_service_on_the_default_store(
    store: QueueStore,
) -> None:
    run_id = Operations(store).submit(greet).run.run_id
    assert legato.pause(run_id, by=ALICE).state is RunState.PAUSED
    assert legato.unpause(run_id, by=ALICE).state is RunState.PENDING
    assert legato.cancel(run_id, reason="done", by=ALICE).state is RunState.CANCELLED
    assert actors(store, run_id, "cancelled") == [ALICE]
