"""Group commit with fences: a run that lost its lease does not take others down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from legato.engine.observer import Observer, StepFinished, subscribe
from legato.engine.recorder import Recorder
from legato.errors import LeaseLostError, StoreError
from legato.records import EventRecord, Fence, RunRecord, StepRecord
from legato.states import RunState, StepState
from legato.store import MemoryStore, SqliteStore, Store

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def step(run_id: str, key: str) -> StepRecord:
    return StepRecord(run_id=run_id, key=key, seq=0, task_name=key[:-2], state=StepState.COMPLETED)


def claimed(store: MemoryStore, run_id: str, created: datetime) -> Fence:
    pending = RunRecord(run_id=run_id, flow_name="f", state=RunState.PENDING, created_at=created)
    store.submit_run(pending)
    run = store.claim_run(worker_id="w", queues=["default"], lease=timedelta(1), now=T0)
    assert run is not None and run.run_id == run_id
    return Fence(run_id=run_id, epoch=run.lease_epoch)


def test_a_lost_run_is_dropped_from_the_batch_and_the_rest_commits() -> None:
    store = MemoryStore()
    stolen = claimed(store, "b", T0)
    kept = claimed(store, "a", T0 + timedelta(seconds=1))
    thief = store.claim_run(
        worker_id="thief", queues=["default"], lease=timedelta(1), now=T0 + timedelta(2)
    )
    assert thief is not None and thief.run_id == "b"  # the older claim expired first
    recorder = Recorder(store)
    # Both queue records without waiting, so that one commit carries both.
    recorder.write((step("b", "x#0"),), wait=False, fence=stolen)
    recorder.write((step("a", "x#0"),), wait=False, fence=kept)
    event = EventRecord(run_id="a", at=T0, kind="step", state="completed", step_key="y#0")
    recorder.write((step("a", "y#0"), event), wait=True, fence=kept)
    assert [s.key for s in store.get_steps("a")] == ["x#0", "y#0"]
    assert store.get_steps("b") == []
    assert recorder.is_lost("b") and not recorder.is_lost("a")
    with pytest.raises(LeaseLostError, match="run b"):
        recorder.write((step("b", "z#0"),), wait=True, fence=stolen)
    recorder.write((step("a", "z#0"),), wait=True, fence=kept)  # a is unaffected
    assert len(store.get_steps("a")) == 3


def finished(run_id: str, key: str) -> StepFinished:
    return StepFinished(
        run_id=run_id,
        flow_name="f",
        step_key=key,
        task_name=key[:-2],
        state=StepState.COMPLETED,
        at=T0,
    )


class Heard(Observer):
    """Notes each finished step and whether its record was in the store by then."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.heard: list[tuple[str, str, bool]] = []

    def on_step_finished(self, event: StepFinished) -> None:
        stored = any(s.key == event.step_key for s in self.store.get_steps(event.run_id))
        self.heard.append((event.run_id, event.step_key, stored))


def test_events_are_delivered_once_committed_and_never_for_a_lost_run() -> None:
    store = MemoryStore()
    stolen = claimed(store, "b", T0)
    kept = claimed(store, "a", T0 + timedelta(seconds=1))
    store.claim_run(
        worker_id="thief", queues=["default"], lease=timedelta(1), now=T0 + timedelta(2)
    )
    recorder = Recorder(store, flush_interval=60)  # nothing commits until a writer waits
    observer = Heard(store)
    with subscribe(observer):
        recorder.write((step("b", "x#0"),), wait=False, fence=stolen, events=[finished("b", "x#0")])
        recorder.write((step("a", "x#0"),), wait=False, fence=kept, events=[finished("a", "x#0")])
        assert observer.heard == []  # queued, not yet durable
        recorder.write((step("a", "y#0"),), wait=True, fence=kept, events=[finished("a", "y#0")])

    assert observer.heard == [("a", "x#0", True), ("a", "y#0", True)]


def test_events_of_a_failed_commit_are_never_delivered(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "legato.db")
    store.close()  # every commit now fails
    observer = Heard(store)
    with subscribe(observer), pytest.raises(StoreError, match="is closed"):
        Recorder(store).write((step("a", "x#0"),), wait=True, events=[finished("a", "x#0")])

    assert observer.heard == []
