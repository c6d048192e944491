"""The contract of ``step_counts`` (``StepCountStore``) on every backend: a page of runs'
steps counted by outcome in one read."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from legato.errors import StoreError
from legato.records import RunRecord, StepRecord
from legato.states import RunState, StepState
from legato.store.step_counts import MAX_RUN_IDS, StepCounts, StepCountStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def add_run(store, run_id: str, *states: StepState) -> None:
    store.create_run(
        RunRecord(run_id=run_id, flow_name="orders", state=RunState.RUNNING, created_at=T0)
    )
    store.record(
        [
            StepRecord(run_id=run_id, key=f"s#{n}", seq=n, task_name="s", state=state)
            for n, state in enumerate(states)
        ]
    )


def test_every_backend_counts_steps(store):
    assert isinstance(store, StepCountStore)


def test_steps_are_counted_per_run_by_outcome(store):
    add_run(
        store,
        "r1",
        StepState.COMPLETED,
        StepState.COMPLETED,
        StepState.SKIPPED,
        StepState.FAILED,
        StepState.RUNNING,
        StepState.WAITING,
    )
    add_run(store, "r2", StepState.PENDING, StepState.RETRYING, StepState.CANCELLED)
    assert store.step_counts(["r1", "r2"]) == {
        "r1": StepCounts(done=3, failed=1, total=6),
        "r2": StepCounts(done=0, failed=0, total=3),
    }


def test_only_the_runs_asked_for_are_counted_and_runs_without_steps_are_absent(store):
    add_run(store, "r1", StepState.COMPLETED)
    add_run(store, "r2", StepState.COMPLETED, StepState.COMPLETED)
    add_run(store, "empty")
    got = store.step_counts(["r2", "empty", "unknown", "r2"])
    assert got == {"r2": StepCounts(done=2, failed=0, total=2)}
    assert store.step_counts([]) == {}


def test_a_step_replaced_by_a_later_record_is_counted_once_in_its_new_state(store):
    add_run(store, "r1", StepState.RUNNING)
    store.record(
        [StepRecord(run_id="r1", key="s#0", seq=0, task_name="s", state=StepState.COMPLETED)]
    )
    assert store.step_counts(["r1"]) == {"r1": StepCounts(done=1, failed=0, total=1)}


def test_too_many_run_ids_at_once_are_refused_with_the_limit(store):
    with pytest.raises(StoreError, match=f"at most {MAX_RUN_IDS}"):
        store.step_counts([f"r{n}" for n in range(MAX_RUN_IDS + 1)])
