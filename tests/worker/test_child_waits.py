"""Child flows that wait, through real `legato worker` processes: the parent waits for
its child holding nothing; a worker resumes the child when it is due and then the
parent. A worker killed while the parent waits loses nothing."""

from __future__ import annotations

import collections
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from legato.records import RunFilter
from legato.states import RunState

HERE = Path(__file__).parent
LEGATO = Path(sys.executable).with_name("legato")


def submit(cluster, target: str, *params: str) -> str:
    args = [str(LEGATO), "submit", target]
    for param in params:
        args += ["-p", param]
    out = subprocess.run(args, env=cluster.env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.fixture
def children(any_cluster):
    """A cluster whose workers import ``child_flows`` by module name."""
    any_cluster.env["PYTHONPATH"] = str(HERE)
    return any_cluster


def states(cluster, *run_ids: str) -> list[RunState]:
    store = cluster.store()
    try:
        return [store.get_run(run_id).state for run_id in run_ids]
    finally:
        store.close()


def child_of(cluster, run_id: str) -> str:
    store = cluster.store()
    try:
        (child,) = store.list_runs(RunFilter(parent_run_id=run_id))
        return child.run_id
    finally:
        store.close()


def result(cluster, run_id: str):
    import legato

    store = cluster.store()
    try:
        return legato.get_run(run_id, store=store).result()
    finally:
        store.close()


def test_parents_wait_for_children_that_sleep_wait_for_events_or_input(children) -> None:
    cluster = children
    cluster.worker("--concurrency", "4")
    sleeper = submit(cluster, "child_flows:sleeps_in_child", "n=4")
    evented = submit(cluster, "child_flows:waits_for_event_in_child")
    answered = submit(cluster, "child_flows:waits_for_input_in_child")
    deep = submit(cluster, "child_flows:sleeps_in_grandchild", "n=1")
    parents = (sleeper, evented, answered, deep)
    cluster.wait_for(
        lambda: states(cluster, evented, answered) == [RunState.WAITING] * 2,
        "the parents of the event and input children to wait",
    )
    store = cluster.store()
    try:
        import legato

        legato.send_event("child-go", {"n": 7}, store=store)
        asked = child_of(cluster, answered)
        legato.answer_input(asked, "child-ok", {"colour": "red"}, by="ann", store=store)
    finally:
        store.close()
    cluster.wait_for(
        lambda: states(cluster, *parents) == [RunState.COMPLETED] * 4, "every parent to end"
    )
    assert [result(cluster, run_id) for run_id in parents] == [9, "event 7", "input red", 103]
    counts = collections.Counter(
        line.split()[0] + " " + line.split()[1] for line in cluster.lines()
    )
    assert counts["parent before"] == 2 and counts["parent after"] == 2
    assert counts["grandparent before"] == 1
    assert counts["sleeping-child before"] == 2 and counts["sleeping-child after"] == 2


def test_a_worker_killed_while_the_parent_waits_loses_nothing(children) -> None:
    cluster = children
    gate = cluster.ledger.with_name("gate")
    gate.touch()
    first = cluster.worker("--lease", "1")
    run_id = submit(cluster, "child_flows:waits_for_gated_child")
    cluster.wait_for(
        lambda: any(line.startswith("gated-child step start") for line in cluster.lines()),
        "the child to be resumed after its sleep",
    )
    assert states(cluster, run_id) == [RunState.WAITING]  # the parent holds nothing
    first.send_signal(signal.SIGKILL)
    first.wait()
    gate.unlink()
    cluster.worker("--lease", "1")
    cluster.wait_for(lambda: states(cluster, run_id) == [RunState.COMPLETED], "the parent")
    assert result(cluster, run_id) == "gated-child step"
    lines = cluster.lines()
    assert sum(line.startswith("parent before") for line in lines) == 1
    assert sum(line.startswith("gated-child before") for line in lines) == 1
    assert sum(line.startswith("parent after") for line in lines) == 1
    done = [line for line in lines if line.startswith("gated-child step done")]
    assert len(done) == 1 and done[0].split()[-1] != str(first.pid)
