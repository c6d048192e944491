"""The contract of the store verbs behind events, human input, pause and requeue:
every backend (memory, SQLite, PostgreSQL), same behaviour."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from legato.errors import RunNotFoundError, RunStateError
from legato.records import EventRecord, InputAnswer, RunRecord, SentEvent, StepRecord
from legato.states import RunState, StepState

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def run(run_id: str, state: RunState = RunState.PENDING, **fields) -> RunRecord:
    return RunRecord(
        run_id=run_id, flow_name="orders", state=state, created_at=T0, params="{}", **fields
    )


def waiting_for(store, run_id: str, name: str, *, wake_at: datetime | None = None) -> None:
    store.create_run(run(run_id))
    store.record([run(run_id, RunState.WAITING, waiting_for=name, wake_at=wake_at)])


def event(name: str, at: datetime, **fields) -> SentEvent:
    return SentEvent(name=name, payload='{"amount": 1}', sent_at=at, **fields)


def pause_event(run_id: str, state: str) -> EventRecord:
    return EventRecord(run_id=run_id, at=T0, kind="run", state=state, by="ops")


def test_send_event_stores_it_with_an_id_and_makes_waiting_runs_due(store):
    waiting_for(store, "r1", "payment")
    waiting_for(store, "r2", "shipping")
    sent = store.send_event(event("payment", T0 + timedelta(seconds=5), key="o-1", by="ops"))
    assert sent.id is not None and sent.key == "o-1" and sent.by == "ops"
    assert store.get_run("r1").wake_at == T0 + timedelta(seconds=5)
    assert store.get_run("r2").wake_at is None  # waits for another name


def test_send_event_never_postpones_an_earlier_wake(store):
    waiting_for(store, "r1", "payment", wake_at=T0)
    store.send_event(event("payment", T0 + timedelta(hours=1)))
    assert store.get_run("r1").wake_at == T0


def test_send_event_to_one_run_wakes_only_that_run(store):
    waiting_for(store, "r1", "payment")
    waiting_for(store, "r2", "payment")
    store.send_event(event("payment", T0, run_id="r2"))
    assert store.get_run("r1").wake_at is None
    assert store.get_run("r2").wake_at == T0


def test_send_event_to_an_unknown_or_ended_run_is_refused_and_not_stored(store):
    with pytest.raises(RunNotFoundError):
        store.send_event(event("payment", T0, run_id="nope"))
    store.create_run(run("done", RunState.COMPLETED))
    with pytest.raises(RunStateError, match="already ended"):
        store.send_event(event("payment", T0, run_id="done"))
    assert store.events_for("payment", run_id="done", since=T0 - timedelta(days=1)) == []


def test_events_for_gives_the_runs_and_broadcast_events_since_oldest_first(store):
    store.create_run(run("r1", RunState.RUNNING))
    store.create_run(run("r2", RunState.RUNNING))
    store.send_event(event("payment", T0 - timedelta(seconds=1)))  # before `since`
    store.send_event(event("payment", T0 + timedelta(seconds=1), key="b"))
    store.send_event(event("payment", T0 + timedelta(seconds=2), run_id="r2"))  # other run
    store.send_event(event("payment", T0 + timedelta(seconds=3), run_id="r1", key="c"))
    store.send_event(event("refund", T0 + timedelta(seconds=4)))  # other name
    found = store.events_for("payment", run_id="r1", since=T0)
    assert [e.key for e in found] == ["b", "c"]
    assert [e.sent_at for e in found] == sorted(e.sent_at for e in found)
    assert found[0].id < found[1].id


@pytest.mark.parametrize("state", [RunState.PENDING, RunState.WAITING, RunState.RUNNING])
def test_pause_takes_a_pending_waiting_or_running_run(store, state):
    store.create_run(run("r1"))
    store.record([run("r1", state)])
    assert store.set_paused("r1", paused=True, event=pause_event("r1", "paused"))
    assert store.get_run("r1").state is RunState.PAUSED
    assert store.get_events("r1")[-1].state == "paused"


def test_unpause_puts_the_run_back_in_its_queue_pending(store):
    store.create_run(run("r1"))
    store.record([run("r1", RunState.WAITING, waiting_for="payment", wake_at=T0)])
    store.set_paused("r1", paused=True, event=pause_event("r1", "paused"))
    assert store.set_paused("r1", paused=False, event=pause_event("r1", "pending"))
    back = store.get_run("r1")
    assert back.state is RunState.PENDING
    assert back.owner is None and back.waiting_for is None and back.wake_at is None
    assert [e.state for e in store.get_events("r1")][-2:] == ["paused", "pending"]


@pytest.mark.parametrize("state", [RunState.COMPLETED, RunState.FAILED, RunState.CANCELLED])
def test_pause_and_unpause_refuse_other_states_writing_nothing(store, state):
    store.create_run(run("r1"))
    store.record([run("r1", state)])
    before = store.get_events("r1")
    assert not store.set_paused("r1", paused=True, event=pause_event("r1", "paused"))
    assert not store.set_paused("r1", paused=False, event=pause_event("r1", "pending"))
    assert store.get_run("r1").state is state
    assert store.get_events("r1") == before
    assert not store.set_paused("nope", paused=True, event=pause_event("nope", "paused"))


def answer(run_id: str, by: str, at: datetime = T0) -> InputAnswer:
    return InputAnswer(
        run_id=run_id,
        name="manager",
        decision="approved",
        payload=f'{{"by": "{by}"}}',
        answered_at=at,
        answered_by=by,
    )


def test_the_first_answer_wins_and_makes_the_run_due(store):
    waiting_for(store, "r1", "input:manager")
    assert store.get_input("r1", "manager") is None
    first = store.answer_input(answer("r1", "ann", T0 + timedelta(seconds=1)))
    assert first.answered_by == "ann"
    assert store.get_run("r1").wake_at == T0 + timedelta(seconds=1)
    second = store.answer_input(answer("r1", "bob", T0 + timedelta(seconds=2)))
    assert second == first  # nothing written: the caller sees who won
    assert store.get_input("r1", "manager") == first
    assert store.get_input("r1", "other") is None


def test_an_answer_to_an_unknown_run_is_refused(store):
    with pytest.raises(RunNotFoundError):
        store.answer_input(answer("nope", "ann"))


def input_step(run_id: str, started_at: datetime, state: StepState = StepState.WAITING):
    return StepRecord(
        run_id=run_id,
        key="wait_for_input#0",
        seq=0,
        task_name="wait_for_input",
        state=state,
        started_at=started_at,
    )


def test_open_inputs_lists_waiting_input_steps_of_live_runs_oldest_first(store):
    waiting_for(store, "late", "input:manager")
    waiting_for(store, "early", "input:manager")
    store.create_run(run("blocking"))
    store.record([run("blocking", RunState.RUNNING)])
    store.create_run(run("ended"))
    store.record([run("ended", RunState.CANCELLED)])
    store.create_run(run("answered"))
    store.record([run("answered", RunState.RUNNING)])
    store.record(
        [
            input_step("late", T0 + timedelta(seconds=3)),
            input_step("early", T0 + timedelta(seconds=1)),
            input_step("blocking", T0 + timedelta(seconds=2)),
            input_step("ended", T0),
            input_step("answered", T0, StepState.COMPLETED),
        ]
    )
    assert [s.run_id for s in store.open_inputs()] == ["early", "blocking", "late"]
    assert [s.run_id for s in store.open_inputs(limit=1)] == ["early"]


def test_requeue_puts_only_a_failed_run_back_pending(store):
    store.create_run(run("r1"))
    store.record([run("r1", RunState.FAILED, owner="host:1", finished_at=T0)])
    assert store.requeue_run("r1", now=T0, message="retry by ops", by="ops")
    back = store.get_run("r1")
    assert back.state is RunState.PENDING and back.owner is None and back.error is None
    assert store.get_events("r1")[-1].state == "pending"
    assert store.get_events("r1")[-1].by == "ops"
    assert not store.requeue_run("r1", now=T0, message="again", by="ops")  # now pending
    assert not store.requeue_run("nope", now=T0, message="x", by="ops")


def test_requeued_run_is_claimed_by_a_worker(store):
    store.create_run(run("r1"))
    store.record([replace(run("r1", RunState.FAILED), finished_at=T0)])
    store.requeue_run("r1", now=T0, message="retry", by="ops")
    claimed = store.claim_run(worker_id="w1", queues=["default"], lease=timedelta(30), now=T0)
    assert claimed is not None and claimed.run_id == "r1"


def cancelled_event(run_id: str, at: datetime = T0) -> EventRecord:
    return EventRecord(run_id=run_id, at=at, kind="run", state="cancelled", by="ops")


def test_cancel_finishes_a_pending_or_running_run(store):
    store.create_run(run("r1"))
    store.record([run("r1", RunState.RUNNING, owner="host:1")])
    cancelled = store.cancel_run("r1", event=cancelled_event("r1", T0 + timedelta(seconds=1)))
    assert cancelled.state is RunState.CANCELLED
    assert cancelled.finished_at == T0 + timedelta(seconds=1)
    assert store.get_run("r1") == cancelled
    assert store.get_events("r1")[-1].state == "cancelled"
    assert store.get_events("r1")[-1].by == "ops"


@pytest.mark.parametrize("state", [RunState.WAITING, RunState.PAUSED])
def test_cancel_leaves_a_waiting_or_paused_run_due_to_be_unwound(store, state):
    store.create_run(run("r1", target="shop:order"))
    store.record([run("r1", state, target="shop:order", waiting_for="payment")])
    cancelled = store.cancel_run("r1", event=cancelled_event("r1", T0 + timedelta(seconds=2)))
    assert cancelled.state is RunState.CANCELLED and cancelled.finished_at is None
    assert cancelled.wake_at == T0 + timedelta(seconds=2) and cancelled.waiting_for is None


@pytest.mark.parametrize("state", [RunState.COMPLETED, RunState.FAILED, RunState.CANCELLED])
def test_cancel_refuses_an_ended_run_writing_nothing(store, state):
    store.create_run(run("r1"))
    store.record([run("r1", state, result="42" if state is RunState.COMPLETED else None)])
    before = (store.get_run("r1"), store.get_events("r1"))
    with pytest.raises(RunStateError, match="already ended"):
        store.cancel_run("r1", event=cancelled_event("r1"))
    assert (store.get_run("r1"), store.get_events("r1")) == before
    with pytest.raises(RunNotFoundError):
        store.cancel_run("nope", event=cancelled_event("nope"))


def test_cancel_racing_completion_never_loses_the_completion(store):
    import threading

    for i in range(40):
        run_id = f"race-{i}"
        store.create_run(run(run_id))
        store.record([run(run_id, RunState.RUNNING)])
        start = threading.Barrier(2)
        outcome: list[str] = []

        def complete(run_id: str = run_id, start: threading.Barrier = start) -> None:
            start.wait()
            store.record([run(run_id, RunState.COMPLETED, result="42", finished_at=T0)])

        def cancel(
            run_id: str = run_id, start: threading.Barrier = start, outcome: list = outcome
        ) -> None:
            start.wait()
            try:
                store.cancel_run(run_id, event=cancelled_event(run_id))
                outcome.append("cancelled first")
            except RunStateError:
                outcome.append("completed first")

        threads = [threading.Thread(target=complete), threading.Thread(target=cancel)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        final = store.get_run(run_id)
        # Either order ends with the completion recorded: a cancel that came first is
        # followed by the completion, one that came after is refused.
        assert final.state is RunState.COMPLETED and final.result == "42", (run_id, outcome)
