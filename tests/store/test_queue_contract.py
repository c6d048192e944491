"""The run queue contract (``QueueStore``): every backend, same behaviour."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from legato.errors import IdempotencyConflictError, LeaseLostError, RunNotFoundError, StoreError
from legato.records import EventRecord, Fence, RunRecord, StepRecord, WorkerRecord
from legato.states import RunState, StepState

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def pending(run_id: str, **fields) -> RunRecord:
    base = dict(
        run_id=run_id,
        flow_name="etl",
        state=RunState.PENDING,
        created_at=T0 + timedelta(seconds=len(run_id)),
        params='{"day": 1}',
    )
    base.update(fields)
    return RunRecord(**base)


def claim(store, worker="w1", queues=("default",), now=T0):
    return store.claim_run(worker_id=worker, queues=list(queues), lease=LEASE, now=now)


def test_claim_takes_a_pending_run_once(store):
    store.submit_run(pending("r1"))
    run = claim(store)
    assert run.run_id == "r1" and run.state is RunState.RUNNING
    assert run.owner == "w1" and run.lease_epoch == 1 and run.lease_expires_at == T0 + LEASE
    assert claim(store, "w2") is None
    events = store.get_events("r1")
    assert events[-1].state == "running" and events[-1].by == "w1"


def test_priority_then_age_and_queues(store):
    store.submit_run(pending("old", created_at=T0))
    store.submit_run(pending("new", created_at=T0 + timedelta(1)))
    store.submit_run(pending("urgent", created_at=T0 + timedelta(2), priority=5))
    store.submit_run(pending("other", queue="gpu", priority=99))
    assert [claim(store).run_id for _ in range(3)] == ["urgent", "old", "new"]
    assert claim(store) is None
    assert claim(store, queues=["gpu"]).run_id == "other"


def test_idempotency_key_returns_the_existing_run(store):
    first, created = store.submit_run(pending("r1", idempotency_key="order-7"))
    assert created
    again, created = store.submit_run(pending("r2", idempotency_key="order-7"))
    assert not created and again.run_id == "r1"
    with pytest.raises(IdempotencyConflictError) as info:
        store.submit_run(pending("r3", idempotency_key="order-7", params='{"day": 2}'))
    assert "r1" in str(info.value) and "order-7" in str(info.value)
    with pytest.raises(RunNotFoundError):
        store.get_run("r3")


def test_expired_lease_is_claimed_again_and_fences_the_old_owner(store):
    store.submit_run(pending("r1"))
    first = claim(store, "w1")
    assert claim(store, "w2", now=T0 + LEASE / 2) is None  # still leased
    second = claim(store, "w2", now=T0 + LEASE + timedelta(seconds=1))
    assert second.run_id == "r1" and second.owner == "w2" and second.lease_epoch == 2
    assert not store.renew_lease("r1", owner="w1", epoch=first.lease_epoch, lease=LEASE, now=T0)
    step = StepRecord(run_id="r1", key="a#0", seq=0, task_name="a", state=StepState.COMPLETED)
    with pytest.raises(LeaseLostError, match="r1"):
        store.record_fenced([step], fences=[Fence(run_id="r1", epoch=1)])
    assert store.get_steps("r1") == []
    store.record_fenced([step], fences=[Fence(run_id="r1", epoch=2)])
    assert [s.key for s in store.get_steps("r1")] == ["a#0"]


def test_renew_keeps_the_run_and_release_gives_it_back(store):
    store.submit_run(pending("r1"))
    run = claim(store)
    later = T0 + LEASE - timedelta(seconds=1)
    assert store.renew_lease("r1", owner="w1", epoch=1, lease=LEASE, now=later)
    assert claim(store, "w2", now=T0 + LEASE + timedelta(seconds=1)) is None  # renewed
    assert store.release_run("r1", owner="w1", epoch=run.lease_epoch, now=later, message="bye")
    released = store.get_run("r1")
    assert released.state is RunState.PENDING and released.owner is None
    assert released.lease_expires_at is None
    assert not store.release_run("r1", owner="w1", epoch=1, now=later, message="again")
    assert claim(store, "w2", now=later).lease_epoch == 2


def test_a_finished_run_frees_its_lease(store):
    store.submit_run(pending("r1"))
    run = claim(store)
    from dataclasses import replace

    store.record([replace(run, state=RunState.COMPLETED, finished_at=T0)])
    done = store.get_run("r1")
    assert done.lease_expires_at is None and done.lease_epoch == 1
    assert claim(store, now=T0 + LEASE * 10) is None


def test_flow_limit_holds_until_the_lease_expires(store):
    store.set_limit("flow:etl", 1)
    store.submit_run(pending("a1"))
    store.submit_run(pending("a22"))
    store.submit_run(pending("o333", flow_name="other"))
    assert claim(store).run_id == "a1"
    assert claim(store).run_id == "o333"  # etl is at its limit: skipped, not blocking
    assert claim(store) is None
    # The holder died: once its lease expires the slot is free again (a1 is reclaimed
    # first, being older).
    assert claim(store, now=T0 + LEASE * 2).run_id == "a1"
    assert store.get_limits() == {"flow:etl": 1}
    store.set_limit("flow:etl", None)
    assert store.get_limits() == {}


def test_tag_limit(store):
    store.set_limit("tag:gpu", 1)
    store.submit_run(pending("g1", tags=("gpu", "big")))
    store.submit_run(pending("g22", flow_name="train", tags=("gpu",)))
    store.submit_run(pending("c333", tags=("cpu",)))
    assert [claim(store).run_id for _ in range(2)] == ["g1", "c333"]
    assert claim(store) is None


def test_bad_limit_keys_are_refused(store):
    with pytest.raises(StoreError, match="flow:NAME"):
        store.set_limit("etl", 2)
    with pytest.raises(StoreError, match=">= 0"):
        store.set_limit("flow:etl", -1)


def test_workers_heartbeat_list_and_remove(store):
    worker = WorkerRecord(
        worker_id="w1",
        host="h",
        pid=42,
        queues=("default", "gpu"),
        concurrency=4,
        started_at=T0,
        heartbeat_at=T0,
    )
    store.heartbeat_worker(worker)
    from dataclasses import replace

    later = replace(worker, heartbeat_at=T0 + LEASE, running=("r1",))
    store.heartbeat_worker(later)
    assert store.list_workers() == [later]
    store.remove_worker("w1")
    store.remove_worker("w1")
    assert store.list_workers() == []


def test_concurrent_claims_never_share_a_run(store):
    for i in range(60):
        store.submit_run(pending(f"r{i:03}"))
    claimed: list[str] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        while True:
            run = claim(store, name)
            if run is None:
                return
            with lock:
                claimed.append(run.run_id)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == [f"r{i:03}" for i in range(60)]


def test_submit_wakes_a_waiting_worker(store):
    woke = threading.Event()

    def waiter() -> None:
        store.wait_for_work(10)
        woke.set()

    thread = threading.Thread(target=waiter)
    thread.start()
    import time

    time.sleep(0.1)
    store.submit_run(pending("r1"))
    assert woke.wait(5)
    thread.join()


def test_submit_appends_its_events(store):
    event = EventRecord(run_id="r1", at=T0, kind="run", state="pending", message="submitted")
    store.submit_run(pending("r1"), events=[event])
    assert [e.message for e in store.get_events("r1")] == ["submitted"]


def test_take_run_only_when_no_live_lease_holds_it(store):
    store.submit_run(pending("r1"))
    taken = store.take_run("r1", owner="me", epoch=0, now=T0, message="resumed")
    assert taken.state is RunState.RUNNING and taken.owner == "me"
    assert taken.lease_expires_at is None and taken.lease_epoch == 1
    assert claim(store, now=T0 + LEASE * 10) is None  # held by the foreground process
    store.submit_run(pending("r22"))
    claim(store, "w1")
    assert store.take_run("r22", owner="me", epoch=1, now=T0, message="resumed") is None
    later = T0 + LEASE * 2
    taken = store.take_run("r22", owner="me", epoch=1, now=later, message="resumed")
    assert taken.lease_epoch == 2
    assert store.get_events("r22")[-1].message == "resumed"


def test_take_run_retries_a_failed_run_only_when_asked(store):
    from dataclasses import replace

    store.submit_run(pending("r1"))
    run = claim(store)
    store.record([replace(run, state=RunState.FAILED, finished_at=T0)])
    assert store.take_run("r1", owner="me", epoch=1, now=T0, message="m") is None
    retried = store.take_run(
        "r1", owner="me", epoch=1, now=T0 + LEASE, message="m", retry_failed=True
    )
    assert retried.state is RunState.RUNNING and retried.started_at == T0 + LEASE


def test_take_run_takes_a_paused_run_that_no_worker_claims(store):
    from dataclasses import replace

    store.submit_run(pending("r1"))
    store.record([replace(store.get_run("r1"), state=RunState.PAUSED)])  # e.g. after Ctrl-C
    assert claim(store, now=T0 + LEASE * 10) is None
    taken = store.take_run("r1", owner="me", epoch=0, now=T0, message="resumed")
    assert taken.state is RunState.RUNNING and taken.owner == "me"


def test_requeue_clears_the_deadline_of_a_failed_run(store):
    from dataclasses import replace

    store.submit_run(pending("r1"))
    run = claim(store)
    store.record([replace(run, state=RunState.FAILED, finished_at=T0, deadline_at=T0)])
    assert store.get_run("r1").deadline_at == T0
    assert store.requeue_run("r1", now=T0, message="requeued", by="me")
    requeued = store.get_run("r1")
    assert requeued.state is RunState.PENDING and requeued.deadline_at is None
