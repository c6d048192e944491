"""People answering flows from the terminal: `inputs list`, `approve`, `reject`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

EXAMPLE = Path(__file__).parents[2] / "examples" / "refund_approval.py"


def test_a_refund_waits_is_answered_once_and_finished_by_a_later_worker(cli) -> None:
    shutil.copy(EXAMPLE, cli.root / "refund_approval.py")
    waiting = cli("run", "refund_approval.py:refund", "-p", "order=o-9", "-p", "amount=900")
    assert waiting.returncode == 3, waiting.stderr
    (question,) = cli.json("inputs", "list")
    run_id = question["run_id"]
    assert question["name"] == "manager" and question["roles"] == ["manager"]
    assert "approved" in question["schema"]["properties"]

    bad = cli(
        "approve", run_id, "manager", "--input", '{"approved": "perhaps"}', "--role", "manager"
    )
    cli.assert_clean_error(bad)
    assert "approved: Input should be a valid boolean" in bad.stderr
    assert cli.run_state(run_id) == "waiting"

    # Approve and reject raced from two processes: exactly one wins.
    racers = [
        cli.start(
            "approve",
            run_id,
            "manager",
            "--input",
            '{"approved": true}',
            "--by",
            "ana",
            "--role",
            "manager",
        ),
        cli.start(
            "reject",
            run_id,
            "manager",
            "--reason",
            "no receipt",
            "--by",
            "bob",
            "--role",
            "manager",
        ),
    ]
    codes = sorted(p.wait(60) for p in racers)
    assert codes == [0, 2]
    loser = next(p for p in racers if p.returncode == 2)
    assert "was already" in loser.stderr.read()

    worker = cli.start("worker", "--poll", "0.05")  # a worker started only now
    try:
        cli.wait_for(lambda: cli.run_state(run_id) == "completed", what="the run to finish")
    finally:
        worker.terminate()
        worker.wait(30)
    shown = cli.json("runs", "show", run_id)
    assert shown["result"] in ("o-9: refunded 900 for o-9", "o-9: refund declined: no receipt")
    answers = [e for e in shown["events"] if (e.get("by") or "") in ("ana", "bob")]
    assert len(answers) == 1  # who answered, and when, is in the history


def test_answering_a_run_that_does_not_ask(cli) -> None:
    shutil.copy(EXAMPLE, cli.root / "refund_approval.py")
    done = cli("run", "refund_approval.py:refund", "-p", "order=o-1", "-p", "amount=10", "--json")
    run_id = json.loads(done.stdout)["run_id"]
    late = cli("approve", run_id, "manager", "--input", "{}")
    cli.assert_clean_error(late)
    assert "already ended" in late.stderr
