"""The scheduler between its rounds: schedules fire at their time and events start their
runs without waiting for the next round; a deployment created between rounds still gets
the events sent since. Real clock for ``run``, fake clock for single rounds."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from scheduled_flows import report

from legato import Every, OnEvent, deploy
from legato.clock import utcnow
from legato.records import SentEvent
from legato.scheduler.service import Scheduler

T0 = datetime(2024, 5, 6, 8, 59, 30, tzinfo=UTC)
ROUNDS_APART = 60.0  # seconds between the rounds of the schedulers run here


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@contextmanager
def running(scheduler: Scheduler) -> Iterator[None]:
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(10)


def wait_for_fires(store, name: str, count: int, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = len(store.list_fires(name, limit=100))
        if found >= count:
            return found
        time.sleep(0.02)
    return len(store.list_fires(name, limit=100))


def test_a_schedule_fires_at_its_time_between_rounds(store):
    deploy(report, name="each-second", triggers=[Every("1s")], store=store)
    scheduler = Scheduler(store, interval=ROUNDS_APART)
    with running(scheduler):
        assert wait_for_fires(store, "each-second", 2) >= 2  # one round: at most one fire
    fires = store.list_fires("each-second", limit=100)
    assert len({f.fired_at for f in fires}) == len(fires)  # each fire time once
    assert all(f.fired_at.microsecond == 0 for f in fires)


def test_an_event_starts_its_run_between_rounds(store):
    deploy(report, name="on-ping", triggers=[OnEvent("ping")], store=store)
    scheduler = Scheduler(store, interval=ROUNDS_APART)
    with running(scheduler):
        time.sleep(0.2)  # the first round is over
        store.send_event(SentEvent(name="ping", payload='{"n": 1}', sent_at=utcnow()))
        assert wait_for_fires(store, "on-ping", 1) == 1
        store.send_event(SentEvent(name="ping", payload='{"n": 2}', sent_at=utcnow()))
        assert wait_for_fires(store, "on-ping", 2) == 2


def test_a_deployment_created_between_rounds_gets_the_events_sent_since(store):
    deploy(report, name="early", triggers=[OnEvent("ping")], store=store, now=T0)
    scheduler = Scheduler(store)
    assert scheduler.tick(at(1)) == []
    deploy(report, name="late", triggers=[OnEvent("ping")], store=store, now=at(2))
    store.send_event(SentEvent(name="ping", payload="{}", sent_at=at(3)))
    quick = scheduler.quick_tick(at(4))
    assert [f.deployment for f in quick] == ["early"]  # "late" is not known until a round
    fired = scheduler.tick(at(5))
    assert [f.deployment for f in fired] == ["late"]
    assert scheduler.tick(at(6)) == [] and scheduler.quick_tick(at(7)) == []
    assert [len(store.list_fires(n)) for n in ("early", "late")] == [1, 1]


def test_a_standby_scheduler_fires_nothing_between_rounds(store):
    deploy(report, name="e", triggers=[Every("10s"), OnEvent("ping")], store=store, now=T0)
    active, standby = Scheduler(store, holder="a"), Scheduler(store, holder="b")
    assert len(active.tick(at(11))) == 1
    assert standby.tick(at(12)) == []
    store.send_event(SentEvent(name="ping", payload="{}", sent_at=at(13)))
    assert standby.quick_tick(at(21)) == []
    assert [f.kind for f in active.quick_tick(at(21))] == ["interval", "event"]


def test_a_deployment_paused_over_its_fire_time_fires_again_once_resumed(store):
    deploy(report, name="p", triggers=[Every("10s")], store=store, now=T0)
    scheduler = Scheduler(store, misfire_grace=timedelta(seconds=5))
    assert scheduler.tick(at(1)) == []  # due at 08:59:40
    store.set_deployment_paused("p", paused=True, now=at(2))
    assert scheduler.tick(at(3)) == [] and scheduler.quick_tick(at(11)) == []
    assert scheduler.tick(at(12)) == []
    store.set_deployment_paused("p", paused=False, now=at(13))
    fired = scheduler.tick(at(14)) + scheduler.quick_tick(at(21))
    assert [f.fired_at for f in fired] == [at(10), at(20)]  # 08:59:40 within the grace
