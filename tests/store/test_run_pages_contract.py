"""The contract of ``RunPagesStore`` on every backend: a run's steps and history a page
at a time, and its steps counted per task and state."""

from __future__ import annotations

from datetime import UTC, datetime

from legato.records import EventRecord, RunRecord, StepRecord
from legato.states import RunState, StepState
from legato.store.run_pages import RunPagesStore, StepCount

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def add_run(store, run_id: str, *, steps: int = 0, events: int = 0) -> None:
    """A run with ``steps`` steps (every third a failed ``check``) and ``events`` events,
    the steps recorded in reverse order so that the store, not the writer, orders them."""
    store.create_run(
        RunRecord(run_id=run_id, flow_name="wide", state=RunState.RUNNING, created_at=T0)
    )
    store.record(
        [
            StepRecord(
                run_id=run_id,
                key=f"{'check' if n % 3 == 2 else 'fetch'}#{n}",
                seq=n,
                task_name="check" if n % 3 == 2 else "fetch",
                state=StepState.FAILED if n % 3 == 2 else StepState.COMPLETED,
            )
            for n in reversed(range(steps))
        ]
        + [
            EventRecord(run_id=run_id, at=T0, kind="step", state="running", step_key=f"e{n}")
            for n in range(events)
        ]
    )


def test_every_backend_pages_runs(store):
    assert isinstance(store, RunPagesStore)


def test_steps_come_a_page_at_a_time_in_program_order(store):
    add_run(store, "r1", steps=7)
    add_run(store, "other", steps=3)
    first = store.step_page("r1", after_seq=None, limit=3)
    assert [s.seq for s in first] == [0, 1, 2]
    assert [s.key for s in first] == ["fetch#0", "fetch#1", "check#2"]
    assert [s.seq for s in store.step_page("r1", after_seq=2, limit=3)] == [3, 4, 5]
    assert [s.seq for s in store.step_page("r1", after_seq=5, limit=3)] == [6]
    assert store.step_page("r1", after_seq=6, limit=3) == []
    assert store.step_page("r1", after_seq=None, limit=0) == []
    assert store.step_page("unknown", after_seq=None, limit=3) == []


def test_steps_are_counted_per_task_and_state_in_order_of_the_first(store):
    add_run(store, "r1", steps=7)
    store.record(
        [StepRecord(run_id="r1", key="fetch#6", seq=6, task_name="fetch", state=StepState.RUNNING)]
    )
    assert store.count_steps("r1") == [
        StepCount(task_name="fetch", state=StepState.COMPLETED, count=4, first_seq=0),
        StepCount(task_name="check", state=StepState.FAILED, count=2, first_seq=2),
        StepCount(task_name="fetch", state=StepState.RUNNING, count=1, first_seq=6),
    ]
    assert store.count_steps("unknown") == []


def test_the_history_comes_a_page_at_a_time_oldest_first_with_ids(store):
    add_run(store, "r1", events=5)
    add_run(store, "other", events=2)
    first = store.event_page("r1", after_id=None, limit=2)
    assert [e.step_key for e in first] == ["e0", "e1"]
    assert all(e.id is not None for e in first)
    rest = store.event_page("r1", after_id=first[-1].id, limit=10)
    assert [e.step_key for e in rest] == ["e2", "e3", "e4"]
    assert store.event_page("r1", after_id=rest[-1].id, limit=10) == []
    assert [e.id for e in first + rest] == [e.id for e in store.get_events("r1")]
    assert store.count_events("r1") == 5
    assert store.count_events("unknown") == 0
    assert store.event_page("unknown", after_id=None, limit=10) == []
