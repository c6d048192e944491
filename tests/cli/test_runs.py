"""``legato runs list/show/logs/cancel``, the shared options, and usage errors."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .conftest import Cli

NESTED = """
    from legato import flow, get_run_context, task

    @task
    def leaf(x: int) -> int:
        get_run_context().logger.info("leaf got %s", x)
        return x + 1

    @task
    def shout(text: str) -> str:
        get_run_context().logger.warning("shouting [%s]", text)
        return text.upper()

    @flow
    def grandchild(x: int) -> int:
        return leaf(x)

    @flow
    def child(x: int) -> int:
        return grandchild(leaf(x))

    @flow
    def parent(x: int = 1) -> str:
        a = child(x)
        b = child(a)
        return shout(f"got {b}")
"""


@pytest.fixture
def nested_run(cli: Cli) -> str:
    cli.write_flow("nested.py", NESTED)
    done = cli("run", "nested.py:parent", "-p", "x=1", "--json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["result"] == "GOT 5"
    return str(payload["run_id"])


def test_show_nests_child_run_steps_under_their_step(cli: Cli, nested_run: str) -> None:
    done = cli("runs", "show", nested_run)

    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert f"Run       {nested_run}" in text
    assert "History" in text and "Steps" in text
    tree = text[text.index("Steps") :].splitlines()[1:]
    depth = {line: len(line) - len(line.lstrip("│├└─ ")) for line in tree}
    labels = [re.sub(r"^[│├└─ ]+", "", line) for line in tree]
    # The root, its four steps, each child run with its steps, each grandchild with its leaf.
    order = [label.split()[:2] for label in labels]
    assert order == [
        ["parent", nested_run],
        ["✓", "child#0"],
        ["child", order[2][1]],
        ["✓", "leaf#0"],
        ["✓", "grandchild#0"],
        ["grandchild", order[5][1]],
        ["✓", "leaf#0"],
        ["✓", "child#1"],
        ["child", order[8][1]],
        ["✓", "leaf#0"],
        ["✓", "grandchild#0"],
        ["grandchild", order[11][1]],
        ["✓", "leaf#0"],
        ["✓", "shout#0"],
    ]
    levels = [depth[line] for line in tree]
    assert levels[1] < levels[3] < levels[6]  # child steps nest deeper, grandchild deeper
    assert levels[1] == levels[7] == levels[13]


def test_show_json_nests_child_runs(cli: Cli, nested_run: str) -> None:
    data = cli.json("runs", "show", nested_run)

    assert data["run_id"] == nested_run and data["state"] == "completed"
    assert data["result"] == "GOT 5"
    assert [s["key"] for s in data["steps"]] == ["child#0", "child#1", "shout#0"]
    first_child = data["steps"][0]["child_run"]
    assert first_child["flow"] == "child" and first_child["parent_run_id"] == nested_run
    assert [s["key"] for s in first_child["steps"]] == ["leaf#0", "grandchild#0"]
    grandchild = first_child["steps"][1]["child_run"]
    assert [s["result"] for s in grandchild["steps"]] == [3]
    assert data["events"][0]["kind"] == "run" and data["events"][-1]["state"] == "completed"


def test_list_filters_by_flow_and_state(cli: Cli, nested_run: str) -> None:
    runs = cli.runs()
    assert len(runs) == 5  # parent, two children, two grandchildren
    assert {r["flow"] for r in runs} == {"parent", "child", "grandchild"}

    children = cli.json("runs", "list", "--flow", "child")
    assert [r["flow"] for r in children] == ["child", "child"]
    assert all(r["parent_run_id"] == nested_run for r in children)
    assert cli.json("runs", "list", "--state", "failed") == []
    assert len(cli.json("runs", "list", "--limit", "2")) == 2

    table = cli("runs", "list", "--flow", "parent")
    assert table.returncode == 0, table.stderr
    assert nested_run in table.stdout and "completed" in table.stdout


def test_logs_of_a_run_and_of_one_step(cli: Cli, nested_run: str) -> None:
    done = cli("runs", "logs", nested_run)

    assert done.returncode == 0, done.stderr
    assert "WARNING" in done.stdout and "shouting [got 5]" in done.stdout
    assert "shout#0" in done.stdout

    (child,) = [r for r in cli.runs() if r["flow"] == "child" and r["params"] == {"x": 1}]
    one_step = cli("runs", "logs", child["run_id"], "--step", "leaf#0")
    assert one_step.returncode == 0, one_step.stderr
    assert "leaf got 1" in one_step.stdout

    as_json = cli.json("runs", "logs", child["run_id"])
    assert [log["message"] for log in as_json] == ["leaf got 1"]

    cli.assert_clean_error(cli("runs", "logs", nested_run, "--step", "nope#0"))


def test_cancel_records_reason_and_refuses_to_resume(cli: Cli) -> None:
    cli.write_flow(
        "ticks.py",
        """
        import time
        from pathlib import Path
        from legato import flow, task

        @task
        def tick(i: int) -> int:
            with open(Path(__file__).parent / "ticks.txt", "a") as f:
                f.write(f"{i}\\n")
            time.sleep(0.05)
            return i

        @flow
        def ticks(n: int = 600) -> int:
            return sum(tick(i) for i in range(n))
        """,
    )
    ledger = cli.root / "ticks.txt"
    process = cli.start("run", "ticks.py:ticks")
    try:
        cli.wait_for(lambda: ledger.exists() and len(ledger.read_text().split()) >= 3, what="ticks")
        (run,) = cli.runs()
        done = cli("runs", "cancel", run["run_id"], "--reason", "not needed [any more]")
        assert done.returncode == 0, done.stderr
        assert f"Cancelled run {run['run_id']}" in done.stdout

        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 4, (out, err)  # cancelled: neither failed (1) nor usage (2)
    assert "ticks cancelled" in out
    assert len(ledger.read_text().split()) < 600
    shown = cli.json("runs", "show", run["run_id"])
    assert shown["state"] == "cancelled"
    cancel_event = next(
        e for e in shown["events"] if e["state"] == "cancelled" and e["kind"] == "run"
    )
    assert cancel_event["message"] == "not needed [any more]"
    assert "(cli)" in cancel_event["by"]

    again = cli("runs", "cancel", run["run_id"])
    cli.assert_clean_error(again)
    assert "already ended (cancelled)" in again.stderr
    resumed = cli("runs", "resume", run["run_id"])
    cli.assert_clean_error(resumed)
    assert "is cancelled" in resumed.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["runs", "show", "01nosuchrun"],
        ["runs", "logs", "01nosuchrun"],
        ["runs", "cancel", "01nosuchrun"],
        ["runs", "resume", "01nosuchrun"],
    ],
)
def test_unknown_run_id_is_one_clear_line(cli: Cli, command: list[str]) -> None:
    assert cli("db", "upgrade").returncode == 0  # a store that exists, without that run
    done = cli(*command)

    cli.assert_clean_error(done)
    assert "no run with id '01nosuchrun'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("db", "complaint"),
    [
        ("postgresql://me:hunter2@127.0.0.1:1/legato", "cannot open the PostgreSQL store"),
        ("mysql://localhost/x", "is not one legato knows"),
    ],
)
def test_unusable_store_url_is_one_clear_line(cli: Cli, db: str, complaint: str) -> None:
    done = cli("runs", "list", "--db", db)

    cli.assert_clean_error(done)
    assert complaint in done.stderr
    assert "hunter2" not in done.stderr


def test_store_that_cannot_open_is_one_clear_line(cli: Cli) -> None:
    (cli.root / "dir.db").mkdir()

    done = cli("runs", "list", "--db", f"sqlite:///{cli.root / 'dir.db'}")

    cli.assert_clean_error(done)
    assert "it is a directory" in done.stderr


def test_db_option_before_the_command_and_env_var(cli: Cli, nested_run: str) -> None:
    other = cli.root / "other.db"
    assert cli("db", "upgrade", "--db", f"sqlite:///{other}").returncode == 0
    assert cli("runs", "list", "--db", f"sqlite:///{other}", "--json").stdout.strip() == "[]"
    before = cli("--db", f"sqlite:///{other}", "runs", "list", "--json")
    assert json.loads(before.stdout) == []
    assert len(cli.runs()) == 5  # LEGATO_DB names the store the fixture ran on


def test_version(cli: Cli) -> None:
    done = cli("--version")

    assert done.returncode == 0
    assert done.stdout == "legato 0.1.0\n"


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["run"],
        ["runs"],
        *[["runs", c] for c in ("list", "show", "result", "resume", "retry", "logs", "cancel")],
    ],
)
def test_every_help_has_an_example(cli: Cli, command: list[str]) -> None:
    done = cli(*command, "--help")

    assert done.returncode == 0, done.stderr
    assert "Example: legato " in done.stdout
