"""People answering flows from the terminal: `inputs list`, `approve`, `reject`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

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


TYPED_APP = """
    from datetime import date, datetime
    from decimal import Decimal
    from enum import Enum

    from pydantic import BaseModel

    import legato
    from legato import flow, task


    class Animal(Enum):
        PIG = "pig"
        COW = "cow"


    class Pen(BaseModel):
        animal: Animal
        since: date


    class Order(BaseModel):
        animal: Animal
        at: datetime
        price: Decimal
        tags: set[str]
        pens: list[Pen]


    def seen(order: Order) -> list[str]:
        types = [f"{name}: {type(value).__name__}" for name, value in order]
        pen = order.pens[0]
        return types + [
            f"pens[0]: {type(pen).__name__}, {pen.animal.value}, {pen.since.year}",
            f"animal is Animal.PIG: {order.animal is Animal.PIG}",
        ]


    @task
    def noted(lines: list[str]) -> list[str]:
        return lines


    @flow
    def buy() -> dict[str, list[str]]:
        order = legato.wait_for_input("order", schema=Order)
        first = noted(seen(order))
        legato.wait_for_input("go")
        return {"first": first, "replayed": seen(order)}
"""
TYPED_ANSWER = {
    "animal": "pig",
    "at": "2024-05-01T12:30:00+00:00",
    "price": "12.50",
    "tags": ["live"],
    "pens": [{"animal": "cow", "since": "2020-01-02"}],
}
TYPES = [
    "animal: Animal",
    "at: datetime",
    "price: Decimal",
    "tags: set",
    "pens: list",
    "pens[0]: Pen, cow, 2020",
    "animal is Animal.PIG: True",
]


@pytest.fixture(params=["sqlite", "postgres"])
def any_cli(request: pytest.FixtureRequest, cli):
    """The ``cli`` on SQLite, and on PostgreSQL in a schema of its own."""
    if request.param == "postgres":
        from postgres_service import new_schema, require_server, schema_url

        require_server()
        cli.env["LEGATO_DB"] = schema_url(new_schema(str(cli.root)))
    return cli


def test_a_typed_answer_is_the_schema_types_in_each_process_that_replays_it(any_cli) -> None:
    cli = any_cli
    cli.write_flow("typed_app.py", TYPED_APP)
    waiting = cli("run", "typed_app.py:buy", "--json")
    assert waiting.returncode == 3, waiting.stderr
    run_id = json.loads(waiting.stdout)["run_id"]
    answered = cli("approve", run_id, "order", "--input", json.dumps(TYPED_ANSWER))
    assert answered.returncode == 0, answered.stderr
    resumed = cli("runs", "resume", run_id)  # another process takes the answer, then waits
    assert resumed.returncode == 3, resumed.stderr
    assert cli("approve", run_id, "go").returncode == 0

    worker = cli.start("worker", "--poll", "0.05")  # and a worker replays it
    try:
        cli.wait_for(lambda: cli.run_state(run_id) == "completed", what="the run to finish")
    finally:
        worker.terminate()
        worker.wait(30)
    assert cli.json("runs", "show", run_id)["result"] == {"first": TYPES, "replayed": TYPES}


def test_approving_refuses_unknown_fields_and_says_what_was_answered(cli) -> None:
    shutil.copy(EXAMPLE, cli.root / "refund_approval.py")
    waiting = cli("run", "refund_approval.py:refund", "-p", "order=o-7", "-p", "amount=900")
    (question,) = cli.json("inputs", "list")
    run_id = question["run_id"]
    answer = ["approve", run_id, "manager", "--by", "ana", "--role", "manager", "--input"]

    lost = cli(*answer, '{"approved": false, "notes": "too big"}')
    cli.assert_clean_error(lost)
    assert "does not have: notes (its fields: approved, note)" in lost.stderr
    assert "Nothing was recorded" in lost.stderr
    assert [q["run_id"] for q in cli.json("inputs", "list")] == [run_id]  # still asked

    declined = cli(*answer, '{"approved": false, "note": "too big"}')
    assert declined.returncode == 0, declined.stderr
    said = " ".join(declined.stdout.split())
    assert f"input 'manager' of run {run_id} answered by ana:" in said
    assert '{"approved": false, "note": "too big"}' in said
    assert "approved by" not in said
    assert waiting.returncode == 3


def test_approve_help_says_by_and_role_are_declared_not_verified(cli) -> None:
    shown = " ".join(cli("approve", "--help").stdout.split())
    assert "--by and --role are declared, not verified" in shown
