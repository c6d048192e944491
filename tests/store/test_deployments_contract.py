"""The DeploymentStore contract, on every backend: deployments, fires recorded with
their runs in one transaction, and the scheduler lease."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from legato.errors import StoreError
from legato.records import (
    DeploymentRecord,
    EventRecord,
    FireRecord,
    RunRecord,
    SentEvent,
)
from legato.states import RunState
from legato.store.deployments import DeploymentStore

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def deployment(name: str = "nightly", **changes: object) -> DeploymentRecord:
    base = DeploymentRecord(
        name=name,
        flow_name="etl",
        target="flows:etl",
        params='{"day": "today"}',
        triggers='[{"kind": "cron", "expression": "0 9 * * *"}]',
        created_at=T0,
        updated_at=T0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def pending_run(run_id: str) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        flow_name="etl",
        state=RunState.PENDING,
        created_at=T0,
        target="flows:etl",
        tags=("deployment:nightly",),
    )


def fire(key: str = "cron:2024-05-01T09:00:00+00:00", **changes: object) -> FireRecord:
    base = FireRecord(deployment="nightly", key=key, kind="cron", fired_at=T0, payload='{"n": 1}')
    return replace(base, **changes)  # type: ignore[arg-type]


def test_every_backend_implements_the_deployment_store(store):
    assert isinstance(store, DeploymentStore)


def test_a_saved_deployment_reads_back_whole(store):
    saved = store.save_deployment(deployment(queue="nightly", priority=3, catchup_limit=7))
    assert store.get_deployment("nightly") == saved
    assert saved.queue == "nightly" and saved.priority == 3 and saved.catchup_limit == 7
    assert saved.created_at == T0 and saved.scheduled_until is None


def test_saving_again_by_name_updates_but_keeps_creation_and_schedule_progress(store):
    store.save_deployment(deployment())
    store.advance_schedule("nightly", until=T0 + timedelta(hours=1))
    later = T0 + timedelta(days=1)
    updated = store.save_deployment(
        deployment(params='{"day": "x"}', created_at=later, updated_at=later)
    )
    assert updated.params == '{"day": "x"}'
    assert updated.created_at == T0
    assert updated.updated_at == later
    assert updated.scheduled_until == T0 + timedelta(hours=1)
    assert [d.name for d in store.list_deployments()] == ["nightly"]


def test_deployments_are_listed_by_name_and_unknown_ones_are_none(store):
    store.save_deployment(deployment("b"))
    store.save_deployment(deployment("a"))
    assert [d.name for d in store.list_deployments()] == ["a", "b"]
    assert store.get_deployment("zzz") is None


def test_pause_resume_and_delete_report_whether_the_deployment_existed(store):
    store.save_deployment(deployment())
    assert store.set_deployment_paused("nightly", paused=True, now=T0)
    assert store.get_deployment("nightly").paused is True
    assert store.set_deployment_paused("nightly", paused=False, now=T0)
    assert store.get_deployment("nightly").paused is False
    assert not store.set_deployment_paused("missing", paused=True, now=T0)
    assert store.delete_deployment("nightly")
    assert not store.delete_deployment("nightly")
    assert store.get_deployment("nightly") is None


def test_the_schedule_progress_never_moves_backwards(store):
    store.save_deployment(deployment())
    store.advance_schedule("nightly", until=T0 + timedelta(hours=2))
    store.advance_schedule("nightly", until=T0 + timedelta(hours=1))
    assert store.get_deployment("nightly").scheduled_until == T0 + timedelta(hours=2)


def test_record_fire_submits_a_pending_run_and_its_history(store):
    event = EventRecord(run_id="r1", at=T0, kind="run", state="pending", message="by cron")
    run, created = store.record_fire(fire(), pending_run("r1"), events=[event])
    assert created and run.run_id == "r1"
    assert store.get_run("r1").state is RunState.PENDING
    assert [e.message for e in store.get_events("r1")] == ["by cron"]
    stored = store.get_fire("r1")
    assert stored == replace(fire(), run_id="r1")
    claimed = store.claim_run(
        worker_id="w", queues=["default"], lease=timedelta(seconds=30), now=T0
    )
    assert claimed is not None and claimed.run_id == "r1"


def test_a_fire_key_already_recorded_returns_its_run_and_writes_nothing(store):
    store.record_fire(fire(), pending_run("r1"))
    run, created = store.record_fire(fire(payload="{}"), pending_run("r2"))
    assert not created and run.run_id == "r1"
    with pytest.raises(Exception):  # noqa: B017 - RunNotFoundError
        store.get_run("r2")
    assert [f.run_id for f in store.list_fires("nightly")] == ["r1"]


def test_the_same_key_fires_once_per_deployment_not_once_overall(store):
    store.record_fire(fire(), pending_run("r1"))
    _, created = store.record_fire(fire(deployment="other"), pending_run("r2"))
    assert created
    assert store.get_fire("r2").deployment == "other"


def test_a_fire_whose_run_cannot_be_created_leaves_no_fire(store):
    store.record_fire(fire(), pending_run("r1"))
    with pytest.raises(StoreError):
        store.record_fire(fire("cron:later"), pending_run("r1"))
    assert store.known_fire_keys("nightly", ["cron:later"]) == set()


def test_fires_are_listed_newest_first_and_known_keys_are_found(store):
    for n in range(3):
        store.record_fire(fire(f"k{n}", fired_at=T0 + timedelta(minutes=n)), pending_run(f"r{n}"))
    assert [f.key for f in store.list_fires("nightly")] == ["k2", "k1", "k0"]
    assert [f.key for f in store.list_fires("nightly", limit=1)] == ["k2"]
    assert store.known_fire_keys("nightly", ["k0", "k2", "k9"]) == {"k0", "k2"}
    assert store.get_fire("unknown-run") is None


def test_active_fires_are_those_whose_run_has_not_ended(store):
    store.record_fire(fire("k0"), pending_run("r0"))
    store.record_fire(fire("k1", fired_at=T0 + timedelta(minutes=1)), pending_run("r1"))
    done = replace(store.get_run("r0"), state=RunState.COMPLETED, finished_at=T0)
    store.record([done])
    assert [f.run_id for f in store.active_fires("nightly")] == ["r1"]


def test_sent_events_after_a_cursor_come_oldest_first(store):
    sent = [store.send_event(SentEvent(name=f"e{n}", payload="{}", sent_at=T0)) for n in range(3)]
    after = store.sent_events_after(sent[0].id)
    assert [e.name for e in after] == ["e1", "e2"]
    assert [e.name for e in store.sent_events_after(sent[0].id, limit=1)] == ["e1"]
    assert store.sent_events_after(sent[-1].id) == []


def test_one_scheduler_holds_the_lease_until_it_expires(store):
    ttl = timedelta(seconds=10)
    first = store.acquire_scheduler_lease("a", ttl=ttl, now=T0)
    assert first is not None and first.holder == "a" and first.event_cursor == 0
    assert store.acquire_scheduler_lease("b", ttl=ttl, now=T0 + timedelta(seconds=5)) is None
    renewed = store.acquire_scheduler_lease("a", ttl=ttl, now=T0 + timedelta(seconds=5))
    assert renewed is not None and renewed.expires_at == T0 + timedelta(seconds=15)
    assert store.acquire_scheduler_lease("b", ttl=ttl, now=T0 + timedelta(seconds=14)) is None
    taken = store.acquire_scheduler_lease("b", ttl=ttl, now=T0 + timedelta(seconds=16))
    assert taken is not None and taken.holder == "b"


def test_a_released_lease_is_free_at_once_and_keeps_the_event_cursor(store):
    ttl = timedelta(seconds=10)
    store.acquire_scheduler_lease("a", ttl=ttl, now=T0)
    assert store.set_event_cursor("a", 7)
    assert not store.set_event_cursor("b", 9)
    store.release_scheduler_lease("a")
    taken = store.acquire_scheduler_lease("b", ttl=ttl, now=T0)
    assert taken is not None and taken.event_cursor == 7
    assert not store.set_event_cursor("a", 9)
