"""On every backend: a child run that ends makes its parent due, in the same write, when
the parent waits for it (and only then)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from legato.records import Fence, RunRecord, waits_for_child
from legato.states import RunState

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def make(store, run_id: str, **fields) -> RunRecord:
    fields.setdefault("state", RunState.RUNNING)
    run = RunRecord(run_id=run_id, flow_name="f", created_at=T0, **fields)
    store.create_run(run)
    return run


def test_a_child_that_ends_makes_the_parent_waiting_for_it_due(store) -> None:
    make(store, "parent", state=RunState.WAITING, waiting_for=waits_for_child("kid"))
    kid = make(store, "kid", parent_run_id="parent", parent_step_key="kid#0")
    make(store, "other", state=RunState.WAITING, waiting_for=waits_for_child("someone"))
    store.record([replace(kid, state=RunState.WAITING, waiting_for="go")])
    assert store.get_run("parent").wake_at is None  # the child only waits: not ended

    ended = T0 + timedelta(seconds=5)
    store.record([replace(kid, state=RunState.COMPLETED, result="1", finished_at=ended)])
    assert store.get_run("parent").wake_at == ended
    assert store.get_run("parent").state is RunState.WAITING  # due; a worker claims it
    assert store.get_run("other").wake_at is None
    claimed = store.claim_run(
        worker_id="w", queues=("default",), lease=timedelta(seconds=30), now=ended
    )
    assert claimed is not None and claimed.run_id == "parent"


def test_a_parent_that_waits_for_something_else_is_left_alone(store) -> None:
    make(store, "parent", state=RunState.WAITING, waiting_for="an-event")
    kid = make(store, "kid", parent_run_id="parent")
    store.record([replace(kid, state=RunState.FAILED, finished_at=T0)])
    assert store.get_run("parent").wake_at is None


def test_a_fenced_write_that_ends_a_child_wakes_its_parent_too(store) -> None:
    make(store, "parent", state=RunState.WAITING, waiting_for=waits_for_child("kid"))
    kid = make(store, "kid", state=RunState.PENDING, parent_run_id="parent")
    claimed = store.claim_run(
        worker_id="w", queues=("default",), lease=timedelta(seconds=30), now=T0
    )
    assert claimed is not None and claimed.run_id == "kid"
    store.record_fenced(
        [replace(kid, state=RunState.CANCELLED, finished_at=T0)],
        fences=[Fence(run_id="kid", epoch=claimed.lease_epoch)],
    )
    assert store.get_run("parent").wake_at == T0
