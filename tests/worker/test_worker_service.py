"""The worker service stepped by hand: claims, heartbeats, lost leases, shutdown."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from legato.engine.launch import submit
from legato.engine.targets import load_target
from legato.states import RunState
from legato.store import MemoryStore
from legato.worker import Worker, WorkerOptions

FLOWS = Path(__file__).parent / "worker_flows.py"


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "ledger.txt"
    path.touch()
    monkeypatch.setenv("WORKER_LEDGER", str(path))
    return path


def wait_until(predicate, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_tick_claims_up_to_concurrency_and_runs_complete(ledger: Path) -> None:
    store = MemoryStore()
    flow = load_target(f"{FLOWS}:ten_steps")
    ids = [submit(flow, (), {"pause": 0.02}, store=store).run_id for _ in range(5)]
    worker = Worker(store, options=WorkerOptions(concurrency=2))
    assert len(worker.tick()) == 2  # each run takes 0.2 s: no slot frees meanwhile
    most = 0
    while any(store.get_run(i).state is not RunState.COMPLETED for i in ids):
        worker.tick()
        most = max(most, len(worker.active()))
        time.sleep(0.005)
    assert most <= 2
    starts = [line for line in ledger.read_text().splitlines() if line.startswith("start")]
    assert len(starts) == 50  # 5 runs x 10 steps, each body once
    assert all(store.get_run(i).owner is None for i in ids)


def test_beat_renews_leases_and_records_the_worker(ledger: Path) -> None:
    store = MemoryStore()
    flow = load_target(f"{FLOWS}:ten_steps")
    run_id = submit(flow, (), {"pause": 0.05}, store=store).run_id
    worker = Worker(store, options=WorkerOptions(lease=timedelta(seconds=5)))
    worker.tick()
    first_expiry = store.get_run(run_id).lease_expires_at
    time.sleep(0.02)
    assert worker.beat() == []
    assert store.get_run(run_id).lease_expires_at > first_expiry
    (row,) = store.list_workers()
    assert row.worker_id == worker.id and row.running == (run_id,)
    wait_until(lambda: store.get_run(run_id).state is RunState.COMPLETED)


def test_a_lost_lease_stops_the_run_and_its_writes(ledger: Path) -> None:
    store = MemoryStore()
    flow = load_target(f"{FLOWS}:ten_steps")
    run_id = submit(flow, (), {"pause": 0.1}, store=store).run_id
    worker = Worker(store, options=WorkerOptions(lease=timedelta(seconds=5)))
    worker.tick()
    wait_until(lambda: "slow_step#1" in ledger.read_text())
    # Another worker takes the run over as if this one's lease had expired.
    later = store.get_run(run_id).lease_expires_at + timedelta(seconds=1)
    thief = store.claim_run(worker_id="other", queues=["default"], lease=timedelta(60), now=later)
    assert thief is not None and thief.lease_epoch == 2
    assert worker.beat() == [run_id]
    wait_until(lambda: worker.free_slots() == worker.options.concurrency)
    steps = store.get_steps(run_id)
    assert len(steps) < 10  # it stopped; the new owner will replay and finish
    assert store.get_run(run_id).owner == "other"


def test_shutdown_hands_running_runs_back(ledger: Path) -> None:
    store = MemoryStore()
    flow = load_target(f"{FLOWS}:ten_steps")
    run_id = submit(flow, (), {"pause": 0.1}, store=store).run_id
    worker = Worker(store, options=WorkerOptions(grace=5))
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    wait_until(lambda: "slow_step#1" in ledger.read_text())
    stop.set()
    thread.join(10)
    run = store.get_run(run_id)
    assert run.state is RunState.PENDING and run.owner is None
    assert any("stopped" in (e.message or "") for e in store.get_events(run_id))
    assert store.list_workers() == []
    # Another worker finishes it by replay.
    other = Worker(store)
    other.tick()
    wait_until(lambda: store.get_run(run_id).state is RunState.COMPLETED)


def test_foreground_resume_refuses_a_run_a_live_worker_holds(ledger: Path) -> None:
    import legato
    from legato.errors import RunStateError

    store = MemoryStore()
    flow = load_target(f"{FLOWS}:ten_steps")
    run_id = submit(flow, (), {"pause": 0.05}, store=store).run_id
    worker = Worker(store)
    worker.tick()
    with pytest.raises(RunStateError, match="is already running in worker"):
        legato.resume(run_id, store=store)
    wait_until(lambda: store.get_run(run_id).state is RunState.COMPLETED)


def test_foreground_resume_takes_a_pending_run_so_no_worker_claims_it(ledger: Path) -> None:
    import legato

    store = MemoryStore()
    flow = load_target(f"{FLOWS}:ten_steps")
    run_id = submit(flow, (), {"pause": 0.01}, store=store).run_id
    handle = legato.resume(run_id, store=store, background=False)
    assert handle.state is RunState.COMPLETED
    assert Worker(store).tick() == []  # nothing left to claim
    assert store.get_run(run_id).lease_epoch == 1
