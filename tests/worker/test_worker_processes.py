"""Workers as separate processes: racing for runs, dying, pausing, stopping."""

from __future__ import annotations

import collections
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from legato.records import RunFilter
from legato.states import RunState, StepState

FLOWS = Path(__file__).parent / "worker_flows.py"


def run_state(cluster, run_id: str) -> RunState:
    store = cluster.store()
    try:
        return store.get_run(run_id).state
    finally:
        store.close()


@pytest.mark.slow
def test_two_workers_race_for_300_runs_each_runs_exactly_once(any_cluster) -> None:
    cluster = any_cluster
    store = cluster.store()
    from legato.engine.launch import submit
    from legato.engine.targets import load_target

    flow = load_target(f"{FLOWS}:one_step")
    ids = [submit(flow, (n,), {}, store=store).run_id for n in range(300)]
    cluster.worker("--concurrency", "4")
    cluster.worker("--concurrency", "4")
    cluster.wait_for(
        lambda: all(r.state is RunState.COMPLETED for r in store.list_runs(RunFilter(limit=400))),
        "300 runs to complete",
        timeout=120,
    )
    executed = collections.Counter(line.split()[0] for line in cluster.lines())
    assert sorted(executed) == sorted(ids)
    assert set(executed.values()) == {1}
    pids = {line.split()[2] for line in cluster.lines()}
    assert pids == {str(p.pid) for p in cluster.workers}  # both workers took part
    store.close()


def test_a_killed_worker_s_run_is_finished_by_another(cluster) -> None:
    first = cluster.worker("--lease", "1")
    run_id = cluster.submit("ten_steps", "pause=0.2")
    cluster.wait_for(
        lambda: any("slow_step#4" in line for line in cluster.lines()), "step 4 to start"
    )
    first.send_signal(signal.SIGKILL)
    first.wait()
    killed_at = time.monotonic()
    store = cluster.store()
    before = {s.key for s in store.get_steps(run_id) if s.state is StepState.COMPLETED}
    assert {f"slow_step#{i}" for i in range(4)} <= before
    cluster.worker("--lease", "1")
    cluster.wait_for(
        lambda: any(
            line.startswith("start") and line.split()[3] != str(first.pid)
            for line in cluster.lines()
        ),
        "the second worker to start a step",
    )
    print(f"\nkill to resumed: {time.monotonic() - killed_at:.2f} s (lease 1 s)")
    cluster.wait_for(lambda: run_state(cluster, run_id) is RunState.COMPLETED, "the run")
    done = collections.Counter(
        line.split()[2] for line in cluster.lines() if line.startswith("done")
    )
    for key in before:
        assert done[key] == 1, f"{key} completed before the kill but ran again"
    steps = store.get_steps(run_id)
    assert [s.key for s in steps] == [f"slow_step#{i}" for i in range(10)]
    assert all(s.state is StepState.COMPLETED for s in steps)
    store.close()


def test_a_paused_worker_cannot_write_after_its_lease_was_taken(cluster) -> None:
    first = cluster.worker("--lease", "1")
    run_id = cluster.submit("ten_steps", "pause=0.4")
    cluster.wait_for(
        lambda: any("start" in line and "slow_step#2" in line for line in cluster.lines()),
        "step 2 to start",
    )
    # Stop it inside the step's body, after its "running" record was flushed: a process
    # frozen in the middle of an SQLite write would hold the file's lock for everyone.
    time.sleep(0.15)
    first.send_signal(signal.SIGSTOP)
    second = cluster.worker("--lease", "5")
    store = cluster.store()
    cluster.wait_for(lambda: store.get_run(run_id).lease_epoch >= 2, "the second worker's claim")
    first.send_signal(signal.SIGCONT)
    cluster.wait_for(lambda: run_state(cluster, run_id) is RunState.COMPLETED, "the run")
    # The first worker finished step 2's body after waking, but its write was refused:
    # every step was recorded completed exactly once, step 2 onwards by the second worker.
    completed = collections.Counter(
        e.step_key for e in store.get_events(run_id) if e.kind == "step" and e.state == "completed"
    )
    assert set(completed.values()) == {1} and len(completed) == 10
    steps = {s.key: s for s in store.get_steps(run_id)}
    from legato.serialization import loads

    for i in range(2, 10):
        assert loads(steps[f"slow_step#{i}"].result)["pid"] == second.pid
    # It noticed and gave up the run within about one heartbeat.
    log = cluster.logs / "worker0.log"
    cluster.wait_for(
        lambda: "taken over" in log.read_text() or "lost the lease" in log.read_text(),
        "the first worker to notice",
    )
    store.close()


def test_sigterm_gives_running_runs_back_to_the_queue(cluster) -> None:
    first = cluster.worker("--grace", "0.2", "--lease", "30")
    run_id = cluster.submit("ten_steps", "pause=0.3")
    cluster.wait_for(
        lambda: any("slow_step#1" in line for line in cluster.lines()), "step 1 to start"
    )
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=20) == 0
    store = cluster.store()
    record = store.get_run(run_id)
    assert record.state is RunState.PENDING and record.owner is None
    # Released at once: another worker takes it without waiting for the 30 s lease.
    cluster.worker()
    cluster.wait_for(lambda: run_state(cluster, run_id) is RunState.COMPLETED, "the run", 30)
    store.close()


def test_a_run_whose_code_does_not_import_fails_once_with_what_to_do(cluster, tmp_path) -> None:
    module = tmp_path / "gone.py"
    module.write_text("from legato import flow\n\n@flow\ndef vanishing() -> int:\n    return 1\n")
    out = subprocess.run(
        [str(cluster_legato()), "submit", f"{module}:vanishing"],
        env=cluster.env,
        capture_output=True,
        text=True,
        check=True,
    )
    run_id = out.stdout.strip()
    module.unlink()
    cluster.worker()
    cluster.wait_for(lambda: run_state(cluster, run_id) is RunState.FAILED, "the run to fail")
    store = cluster.store()
    error = store.get_run(run_id).error
    assert error is not None and "gone.py" in error.message and "runs retry" in error.message
    store.close()


def cluster_legato() -> Path:
    return Path(sys.executable).with_name("legato")


@pytest.mark.slow
def test_postgres_restart_during_a_batch_of_runs_loses_and_repeats_nothing(cluster_at) -> None:
    from postgres_service import private_cluster

    with private_cluster() as server:
        cluster = cluster_at(server.url)
        try:
            store = cluster.store()
            from legato.engine.launch import submit
            from legato.engine.targets import load_target

            flow = load_target(f"{FLOWS}:one_step")
            ids = [submit(flow, (n,), {}, store=store).run_id for n in range(120)]
            store.close()
            cluster.worker("--concurrency", "4")
            cluster.worker("--concurrency", "4")
            cluster.wait_for(lambda: len(cluster.lines()) >= 20, "20 runs to execute")
            server.stop()
            time.sleep(1.5)
            server.start()

            def all_completed() -> bool:
                s = cluster.store()
                try:
                    runs = s.list_runs(RunFilter(limit=200))
                    return all(r.state is RunState.COMPLETED for r in runs)
                finally:
                    s.close()

            cluster.wait_for(all_completed, "every run to complete after the restart", 120)
            executed = collections.Counter(line.split()[0] for line in cluster.lines())
            assert sorted(executed) == sorted(ids)
            assert set(executed.values()) == {1}
            store = cluster.store()
            for run_id in ids:
                states = [e.state for e in store.get_events(run_id) if e.kind == "step"]
                assert states == ["running", "completed"], (run_id, states)
            store.close()
        finally:
            cluster.stop_all()


def test_a_failed_run_retried_through_the_queue_keeps_its_completed_steps(any_cluster) -> None:
    cluster = any_cluster
    cluster.worker()
    run_id = cluster.submit("fix_me", "n=4")
    cluster.wait_for(lambda: run_state(cluster, run_id) is RunState.FAILED, "the run to fail")
    cluster.ledger.with_name("fixed").touch()  # the fix is deployed
    done = subprocess.run(
        [str(cluster_legato()), "runs", "retry", run_id, "--queue"],
        env=cluster.env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    cluster.wait_for(lambda: run_state(cluster, run_id) is RunState.COMPLETED, "the retry")
    assert cluster.lines() == ["fetch 4", "fixed 4"]  # fetch was not run again


def test_a_sleeping_run_is_resumed_by_a_worker_started_after_it_went_to_sleep(cluster) -> None:
    done = subprocess.run(
        [str(cluster_legato()), "run", f"{FLOWS}:sleepy", "-p", "seconds=2"],
        env=cluster.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3, (done.stdout, done.stderr)  # waiting
    assert "legato runs resume" in done.stdout
    store = cluster.store()
    (run,) = store.list_runs(RunFilter())
    assert run.state is RunState.WAITING and run.owner is None
    assert len(cluster.lines()) == 1  # the step before the sleep ran; nothing holds the run
    cluster.worker()  # started only now
    cluster.wait_for(lambda: run_state(cluster, run.run_id) is RunState.COMPLETED, "the wake-up")
    assert [line.split()[1] for line in cluster.lines()] == ["1", "2"]  # step 1 not re-run
    assert store.get_run(run.run_id).finished_at >= run.wake_at
    store.close()


def test_a_run_waiting_for_input_survives_a_restart_of_every_process(cluster) -> None:
    refund = Path(__file__).parents[2] / "examples" / "refund_approval.py"
    first = cluster.worker()
    out = subprocess.run(
        [
            str(cluster_legato()),
            "submit",
            f"{refund}:refund",
            "-p",
            "order=o-5",
            "-p",
            "amount=700",
        ],
        env=cluster.env,
        capture_output=True,
        text=True,
        check=True,
    )
    run_id = out.stdout.strip().splitlines()[0]
    cluster.wait_for(lambda: run_state(cluster, run_id) is RunState.WAITING, "the question")
    first.send_signal(signal.SIGKILL)  # every process that touched the run is gone
    first.wait()
    approve = subprocess.run(
        [
            str(cluster_legato()),
            "approve",
            run_id,
            "manager",
            "--input",
            '{"approved": true}',
            "--by",
            "ana",
            "--role",
            "manager",
        ],
        env=cluster.env,
        capture_output=True,
        text=True,
    )
    assert approve.returncode == 0, approve.stderr
    cluster.worker()  # a new worker, started after the answer
    cluster.wait_for(lambda: run_state(cluster, run_id) is RunState.COMPLETED, "the refund")
    store = cluster.store()
    assert legato_result(store, run_id) == "o-5: refunded 700 for o-5"
    store.close()


def legato_result(store, run_id: str):
    import legato

    return legato.get_run(run_id, store=store).result()
