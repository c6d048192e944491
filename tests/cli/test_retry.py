"""`legato runs retry`: after fixing the failing code, from a step, and in bulk."""

from __future__ import annotations

import json


def failing_run(cli, n: int) -> dict:
    done = cli("run", "etl.py:etl", "-p", f"n={n}", "--json")
    assert done.returncode == 1, done.stderr
    return json.loads(done.stdout)


FLOW = """
from pathlib import Path

from legato import flow, task

HERE = Path(__file__).parent


@task
def load(n: int) -> int:
    with (HERE / "ledger.txt").open("a") as f:
        f.write(f"load {n}\\n")
    return n


@task
def transform(n: int) -> int:
    if not (HERE / "fixed").exists():
        raise ValueError(f"bug in transform for {n}")
    with (HERE / "ledger.txt").open("a") as f:
        f.write(f"transform {n}\\n")
    return n * 10


@flow
def etl(n: int) -> int:
    return transform(load(n))
"""


def test_retry_after_fixing_the_code_keeps_completed_steps(cli) -> None:
    cli.write_flow("etl.py", FLOW)
    failed = [failing_run(cli, n) for n in (1, 2)]
    assert [r["state"] for r in failed] == ["failed", "failed"]
    (cli.root / "fixed").touch()  # the fix is deployed

    one = cli("runs", "retry", failed[0]["run_id"], "--json")
    assert one.returncode == 0, one.stderr
    assert '"result": 10' in one.stdout

    bulk = cli("runs", "retry", "--flow", "etl", "--state", "failed")
    assert bulk.returncode == 0, bulk.stderr
    assert "1 completed" in bulk.stdout
    ledger = (cli.root / "ledger.txt").read_text().splitlines()
    assert sorted(ledger) == ["load 1", "load 2", "transform 1", "transform 2"]  # load once

    again = cli("runs", "retry", "--flow", "etl", "--state", "failed")
    assert again.returncode == 0 and "No failed runs" in again.stdout


def test_retry_from_an_earlier_step_and_mistakes(cli) -> None:
    cli.write_flow("etl.py", FLOW)
    run = failing_run(cli, 3)
    (cli.root / "fixed").touch()
    done = cli("runs", "retry", run["run_id"], "--from", "load#0")
    assert done.returncode == 0, done.stderr
    ledger = (cli.root / "ledger.txt").read_text().splitlines()
    assert ledger == ["load 3", "load 3", "transform 3"]
    cli.assert_clean_error(cli("runs", "retry", run["run_id"], "--from", "load#0"))
    cli.assert_clean_error(cli("runs", "retry", "--flow", "etl"))
