"""One rule for ``on_failure``: a handler runs for every failure of the run, so a retried
run that fails again runs its handlers again, whichever way it is retried."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

import legato
from legato.clock import utcnow
from legato.engine.targets import load_target
from legato.states import RunState
from legato.worker import Worker

FLOWS = """
import os
from pathlib import Path

from legato import Failure, flow, task

LEDGER = Path(os.environ["HANDLER_LEDGER"])


def note(line: str) -> None:
    with LEDGER.open("a") as f:
        f.write(line + "\\n")


@task
def alert(failure: Failure) -> None:
    note(f"alert {failure.step_key or 'run'}")


@task
def prepare() -> int:
    note("prepare")
    return 1


@task(on_failure=alert)
def charge(n: int) -> int:
    note("charge")
    raise ValueError(f"card declined for {n}")


@flow(on_failure=alert)
def checkout() -> int:
    return charge(prepare())
"""


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    ledger = tmp_path / "ledger.txt"
    monkeypatch.setenv("HANDLER_LEDGER", str(ledger))
    path = tmp_path / "shop.py"
    path.write_text(textwrap.dedent(FLOWS))
    return load_target(f"{path}:checkout"), ledger


def lines(ledger: Path) -> list[str]:
    return ledger.read_text().splitlines()


ONE_FAILURE = ["prepare", "charge", "alert charge#0", "alert run"]
AGAIN = ["charge", "alert charge#0", "alert run"]


@pytest.mark.parametrize("from_step", [None, "charge#0"])
def test_a_retry_that_fails_again_runs_the_handlers_again(store, checkout, from_step) -> None:
    flow, ledger = checkout
    handle = flow.run()
    assert handle.state is RunState.FAILED
    assert lines(ledger) == ONE_FAILURE

    for _ in range(2):
        again = legato.resume(handle.run_id, store=store, retry_failed=True, from_step=from_step)
        assert again.state is RunState.FAILED
    assert lines(ledger) == ONE_FAILURE + AGAIN + AGAIN


def test_a_run_retried_by_a_worker_runs_the_handlers_again(store, checkout) -> None:
    flow, ledger = checkout
    run_id = flow.submit().run_id
    worker = Worker(store)
    for expected in (ONE_FAILURE, ONE_FAILURE + AGAIN):
        if expected is not ONE_FAILURE:
            assert store.requeue_run(run_id, now=utcnow(), message="retry", by="test")
        worker.tick()
        deadline = time.monotonic() + 30
        while store.get_run(run_id).state is not RunState.FAILED:
            assert time.monotonic() < deadline, "the worker did not finish the run"
            time.sleep(0.01)
            worker.tick()
        while worker.active():
            time.sleep(0.01)
        assert lines(ledger) == expected
