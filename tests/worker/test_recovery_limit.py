"""Runs that can never finish on a worker fail with the reason instead of being claimed
forever: real `legato worker` processes, killed with real SIGKILLs."""

from __future__ import annotations

from pathlib import Path

from legato.clock import utcnow
from legato.ids import new_run_id
from legato.records import RunRecord
from legato.states import RunState

FLOWS = Path(__file__).parent / "worker_flows.py"


def test_a_run_whose_parameters_cannot_be_loaded_fails_once_with_the_reason(
    any_cluster,
) -> None:
    cluster = any_cluster
    store = cluster.store()
    # Stored by code that had a class `Thing` in module `retired_models`, gone since.
    params = '{"n": {"__legato__": "dataclass", "cls": "retired_models:Thing", "v": {}}}'
    run = RunRecord(
        run_id=new_run_id(),
        flow_name="one_step",
        state=RunState.PENDING,
        created_at=utcnow(),
        target=f"{FLOWS}:one_step",
        params=params,
    )
    store.submit_run(run)
    cluster.worker("--lease", "1")
    cluster.wait_for(lambda: store.get_run(run.run_id).state.is_final, "the run to end")
    failed = store.get_run(run.run_id)
    assert failed.state is RunState.FAILED
    assert failed.error is not None
    assert "parameters cannot be loaded" in failed.error.message
    assert "retired_models:Thing" in failed.error.message
    assert f"legato runs retry {run.run_id}" in failed.error.message
    assert failed.lease_epoch == 1  # claimed once, not again every lease
    assert cluster.lines() == []  # no step ran
    store.close()


def test_a_run_that_keeps_killing_its_worker_fails_at_the_recovery_limit(any_cluster) -> None:
    cluster = any_cluster
    cluster.env["LEGATO_RECOVERY_LIMIT"] = "2"
    run_id = cluster.submit("takes_down_its_worker")
    store = cluster.store()
    for _ in range(4):  # each worker claims the run and dies of it, until the limit
        worker = cluster.worker("--lease", "1")
        cluster.wait_for(
            lambda w=worker: w.poll() is not None or store.get_run(run_id).state.is_final,
            "the worker to die or the run to end",
        )
        if store.get_run(run_id).state.is_final:
            break
    failed = store.get_run(run_id)
    assert failed.state is RunState.FAILED
    assert failed.error is not None and "recovery limit" in failed.error.message
    assert "legato runs retry" in failed.error.message
    # The first worker and one recovery ran it; the second recovery was refused.
    assert len([line for line in cluster.lines() if line.startswith("killing")]) == 2
    events = [e.message or "" for e in store.get_events(run_id) if e.state == "failed"]
    assert any("recovery limit" in m for m in events)
    store.close()
