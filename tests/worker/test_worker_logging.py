"""What `legato worker` says while it works: a line per claim, outcome, retry and lost
lease (run id and flow), a periodic summary, and --quiet / --verbose."""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import TYPE_CHECKING

from legato.states import RunState

if TYPE_CHECKING:
    from conftest import Cluster


def log_of(cluster: Cluster, index: int = 0) -> str:
    return (cluster.logs / f"worker{index}.log").read_text()


def has_line(cluster: Cluster, pattern: str, index: int = 0) -> bool:
    return re.search(pattern, log_of(cluster, index), flags=re.M) is not None


def stop(cluster: Cluster, index: int = 0) -> str:
    worker = cluster.workers[index]
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=60)
    return log_of(cluster, index)


def test_the_worker_logs_claims_outcomes_retries_and_a_summary(any_cluster: Cluster) -> None:
    cluster = any_cluster
    ok = cluster.submit("one_step", "n=1")
    broken = cluster.submit("fix_me", "n=2")
    flaky = cluster.submit("retried", "n=3")
    cluster.worker("--summary-every", "0.2")

    summary = r"claimed 3, completed 2, failed 1\b.*retried 1.*running now 0/4$"
    cluster.wait_for(lambda: has_line(cluster, summary), "a summary of the three runs")
    log = stop(cluster)

    for run_id, flow in ((ok, "one_step"), (broken, "fix_me"), (flaky, "retried")):
        assert f"claimed run {run_id} (flow {flow}), queue default" in log, log
    assert f"run {ok} (flow one_step) completed" in log
    assert f"run {flaky} (flow retried) completed" in log
    assert re.search(
        rf"WARNING +run {broken} \(flow fix_me\) failed: ValueError: not fixed yet", log
    ), log
    assert re.search(
        rf"run {flaky} \(flow retried\): step fails_once#0 attempt 1 failed "
        r"\(ConnectionError: the first attempt fails\); retrying",
        log,
    ), log


def test_quiet_logs_only_failures_and_verbose_adds_each_step(cluster: Cluster) -> None:
    ok = cluster.submit("one_step", "n=1")
    broken = cluster.submit("fix_me", "n=2")
    cluster.worker("--quiet", "--summary-every", "0")
    cluster.wait_for(lambda: has_line(cluster, f"run {broken} .*failed"), "the failure")
    store = cluster.store()
    cluster.wait_for(lambda: store.get_run(ok).state is RunState.COMPLETED, "the other run")
    quiet = stop(cluster)
    assert "claimed" not in quiet and "completed" not in quiet, quiet
    assert "running now" not in quiet  # no summaries either

    again = cluster.submit("one_step", "n=3")
    cluster.worker("--verbose")
    cluster.wait_for(lambda: has_line(cluster, f"run {again} .*completed", 1), "the run")
    verbose = stop(cluster, 1)
    assert f"run {again} (flow one_step): step record_once#0 running" in verbose
    assert f"run {again} (flow one_step): step record_once#0 completed" in verbose
    store.close()


def test_a_worker_that_lost_a_lease_says_so(cluster: Cluster, tmp_path: Path) -> None:
    first = cluster.worker("--lease", "1")
    run_id = cluster.submit("ten_steps", "pause=0.3")
    cluster.wait_for(lambda: any("slow_step#1" in line for line in cluster.lines()), "step 1")
    first.send_signal(signal.SIGSTOP)  # frozen past its lease: another worker takes over
    cluster.worker("--lease", "1")
    cluster.wait_for(lambda: has_line(cluster, f"claimed run {run_id}", 1), "the takeover")
    first.send_signal(signal.SIGCONT)

    cluster.wait_for(
        lambda: has_line(cluster, rf"WARNING +lost the lease of run {run_id} \(flow ten_steps\)"),
        "the first worker to report the lost lease",
    )
    log = stop(cluster)
    assert "leases lost 1" in log
