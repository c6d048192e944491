"""The scheduler service stepped one tick at a time with a fake clock, on every backend:
schedules with catch-up and overlap, events with filters, run completions, the lease."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import scheduled_flows
from scheduled_flows import report

from legato import After, Cron, Every, OnEvent, deploy
from legato.clock import utcnow
from legato.engine.context import default_executor
from legato.engine.launch import execute_claimed
from legato.records import RunRecord, SentEvent
from legato.scheduler.service import Scheduler
from legato.states import RunState

T0 = datetime(2024, 5, 6, 8, 59, 30, tzinfo=UTC)  # a Monday


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def runs_of(store, name: str) -> list[RunRecord]:
    return [store.get_run(f.run_id) for f in store.list_fires(name, limit=1000)]


def finish(store, run: RunRecord, state: RunState = RunState.COMPLETED) -> None:
    from dataclasses import replace

    store.record([replace(run, state=state, finished_at=utcnow(), started_at=utcnow())])


def test_an_interval_fires_once_per_due_time_however_often_it_ticks(store):
    deploy(report, name="tick", triggers=[Every("10s")], store=store, now=T0)
    scheduler = Scheduler(store)
    fired = []
    for second in range(0, 35, 1):
        fired += scheduler.tick(at(second))
    assert [f.fired_at.strftime("%H:%M:%S") for f in fired] == ["08:59:40", "08:59:50", "09:00:00"]
    runs = runs_of(store, "tick")
    assert len(runs) == 3
    assert all(r.state is RunState.PENDING and r.tags == ("deployment:tick",) for r in runs)


def test_a_cron_in_a_time_zone_fires_at_its_local_time(store):
    deploy(
        report,
        name="paris",
        triggers=[Cron("0 11 * * 1-5", tz="Europe/Paris")],
        store=store,
        now=T0,
    )
    scheduler = Scheduler(store)
    assert scheduler.tick(at(0)) == []
    fired = scheduler.tick(datetime(2024, 5, 6, 9, 0, 1, tzinfo=UTC))  # 11:00 in Paris (CEST)
    assert [f.fired_at for f in fired] == [datetime(2024, 5, 6, 9, 0, tzinfo=UTC)]
    assert fired[0].kind == "cron"
    assert json.loads(fired[0].payload) == {"scheduled_at": "2024-05-06T09:00:00+00:00"}


@pytest.mark.parametrize(("catchup", "expected"), [("skip", 0), ("one", 1), ("all", 5)])
def test_fires_missed_while_no_scheduler_ran_follow_the_catchup_policy(store, catchup, expected):
    deploy(
        report, name="hourly", triggers=[Cron("0 * * * *")], catchup=catchup, store=store, now=T0
    )
    now = datetime(2024, 5, 6, 13, 10, tzinfo=UTC)  # 09:00 to 13:00 missed by 10 min or more
    fired = Scheduler(store).tick(now)
    assert len(fired) == expected
    if expected:
        assert fired[-1].fired_at == datetime(2024, 5, 6, 13, 0, tzinfo=UTC)
    assert Scheduler(store).tick(now + timedelta(seconds=1)) == []  # never made up twice


def test_catchup_all_is_bounded_by_the_limit(store):
    deploy(
        report,
        name="m",
        triggers=[Every("1m")],
        catchup="all",
        catchup_limit=3,
        store=store,
        now=T0,
    )
    fired = Scheduler(store, misfire_grace=timedelta(seconds=1)).tick(at(3660))
    assert [f.fired_at.strftime("%H:%M") for f in fired] == ["09:58", "09:59", "10:00"]


def test_overlap_skip_fires_nothing_while_the_previous_run_is_going(store):
    deploy(report, name="s", triggers=[Every("10s")], overlap="skip", store=store, now=T0)
    scheduler = Scheduler(store)
    assert len(scheduler.tick(at(11))) == 1
    assert scheduler.tick(at(21)) == []
    finish(store, runs_of(store, "s")[0])
    assert len(scheduler.tick(at(31))) == 1


def test_overlap_cancel_cancels_the_previous_run_first(store):
    deploy(report, name="c", triggers=[Every("10s")], overlap="cancel", store=store, now=T0)
    scheduler = Scheduler(store)
    first = scheduler.tick(at(11))[0]
    second = scheduler.tick(at(21))[0]
    assert store.get_run(first.run_id).state is RunState.CANCELLED
    assert store.get_run(second.run_id).state is RunState.PENDING
    assert "overlap policy is cancel" in store.get_events(first.run_id)[-1].message


def test_overlap_queue_runs_the_deployments_runs_one_at_a_time(store):
    deploy(report, name="q", triggers=[Every("10s")], overlap="queue", store=store, now=T0)
    scheduler = Scheduler(store)
    scheduler.tick(at(11))
    scheduler.tick(at(21))
    lease = timedelta(seconds=60)
    now = utcnow()
    first = store.claim_run(worker_id="w", queues=["default"], lease=lease, now=now)
    assert first is not None
    assert store.claim_run(worker_id="w", queues=["default"], lease=lease, now=now) is None


def test_an_event_fires_the_deployments_whose_name_and_filter_match(store):
    deploy(
        report,
        name="alerts",
        triggers=[OnEvent("MonitoringAlert.received", filter='severity == "CRITICAL"')],
        store=store,
        now=T0,
    )
    scheduler = Scheduler(store)
    for severity in ("INFO", "CRITICAL"):
        store.send_event(
            SentEvent(
                name="MonitoringAlert.received",
                payload=json.dumps({"severity": severity}),
                sent_at=at(1),
            )
        )
    store.send_event(SentEvent(name="other", payload='{"severity": "CRITICAL"}', sent_at=at(1)))
    fired = scheduler.tick(at(2))
    assert [json.loads(f.payload) for f in fired] == [{"severity": "CRITICAL"}]
    assert fired[0].kind == "event"
    assert scheduler.tick(at(3)) == []  # each event is looked at once


def test_a_standby_scheduler_takes_over_after_the_lease_expires_without_refiring(store):
    deploy(report, name="e", triggers=[Every("10s")], store=store, now=T0)
    a = Scheduler(store, holder="a", lease=timedelta(seconds=5))
    b = Scheduler(store, holder="b", lease=timedelta(seconds=5))
    assert len(a.tick(at(11))) == 1
    assert b.tick(at(12)) == [] and not b.active  # a's lease is live
    assert b.tick(at(15)) == []  # a died after firing 08:59:40; its lease is live until 16
    fired = b.tick(at(22))
    assert b.active
    assert [f.fired_at for f in fired] == [datetime(2024, 5, 6, 8, 59, 50, tzinfo=UTC)]
    assert len(runs_of(store, "e")) == 2
    assert a.tick(at(23)) == [] and not a.active


def test_a_paused_deployment_does_not_fire_and_resumes_without_catching_up_by_default(store):
    deploy(report, name="p", triggers=[Every("10s")], paused=True, store=store, now=T0)
    scheduler = Scheduler(store, misfire_grace=timedelta(seconds=5))
    assert scheduler.tick(at(11)) == []
    store.set_deployment_paused("p", paused=False, now=at(100))
    assert len(scheduler.tick(at(101))) == 1  # 09:01:10, on time; the rest were missed


def test_a_run_completing_starts_the_after_deployment_with_its_result(store):
    deploy(report, name="next", triggers=[After("upstream")], store=store, now=T0)
    done = RunRecord(
        run_id="up1",
        flow_name="upstream",
        state=RunState.COMPLETED,
        created_at=utcnow(),
        finished_at=utcnow(),
        result="30",
    )
    failed = RunRecord(
        run_id="up2",
        flow_name="upstream",
        state=RunState.FAILED,
        created_at=utcnow(),
        finished_at=utcnow(),
    )
    store.create_run(done)
    store.create_run(failed)
    scheduler = Scheduler(store)
    fired = scheduler.tick(utcnow())
    assert len(fired) == 1
    assert json.loads(fired[0].payload)["run_id"] == "up1"
    assert json.loads(fired[0].payload)["result"] == 30
    assert scheduler.tick(utcnow()) == []


def test_a_fired_run_knows_its_trigger(store):
    deploy(report, name="ctx", triggers=[Every("10s")], params={"day": "mon"}, store=store, now=T0)
    Scheduler(store).tick(at(11))
    claimed = store.claim_run(
        worker_id="w", queues=["default"], lease=timedelta(seconds=30), now=utcnow()
    )
    handle = execute_claimed(claimed, store=store, flow=report, executor=default_executor())
    result = handle.result()
    assert result["day"] == "mon"
    assert result["trigger"] == {
        "deployment": "ctx",
        "kind": "interval",
        "fired_at": "2024-05-06T08:59:40+00:00",
        "payload": {"scheduled_at": "2024-05-06T08:59:40+00:00"},
    }
    history = [e.message or "" for e in store.get_events(claimed.run_id)]
    assert any("started by interval trigger of deployment ctx" in m for m in history)
    assert scheduled_flows  # the module workers import
