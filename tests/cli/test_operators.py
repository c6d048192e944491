"""The CLI acts through the operations service: who acted is in the run's history, and a
run started on ``--db`` keeps what it submits in that store, not in ``LEGATO_DB``."""

from __future__ import annotations

import getpass
import json
import socket
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .conftest import Cli

FLOWS = """
    from legato import flow, task

    @flow
    def greet(name: str = "world") -> str:
        return f"hello {name}"

    @task
    def hand_over(name: str) -> str:
        return greet.submit(name).run_id

    @flow
    def dispatch(name: str) -> str:
        return hand_over(name) + " " + greet.submit(name + "!").run_id
"""

ME = f"{getpass.getuser()}@{socket.gethostname()}"


def _events(cli: Cli, run_id: str, *db: str) -> list[dict[str, Any]]:
    return cli.json("runs", "show", run_id, *db)["events"]  # type: ignore[no-any-return]


def test_what_a_run_started_on_db_submits_lands_in_that_store(cli: Cli) -> None:
    cli.write_flow("flows.py", FLOWS)
    other = f"sqlite:///{cli.root / 'other.db'}"
    done = cli("run", "flows.py:dispatch", "-p", "name=ada", "--db", other, "--json")
    assert done.returncode == 0, done.stderr
    submitted = json.loads(done.stdout)["result"].split()
    assert len(submitted) == 2  # one from a step's body, one from the flow's body
    in_other = {run["run_id"] for run in cli.json("runs", "list", "--db", other)}
    assert set(submitted) <= in_other
    assert not cli.db_path.exists()  # LEGATO_DB's store was never even created


def test_operator_actions_record_who_did_them(cli: Cli) -> None:
    cli.write_flow("flows.py", FLOWS)
    done = cli("run", "flows.py:greet", "--json")
    assert done.returncode == 0, done.stderr
    started = json.loads(done.stdout)["run_id"]
    assert [e["by"] for e in _events(cli, started) if e["state"] == "running"] == [ME]

    queued = cli("submit", "flows.py:greet", "-p", "name=bo").stdout.split()[0]
    assert cli("runs", "pause", queued, "--reason", "outage").returncode == 0
    assert cli("runs", "unpause", queued).returncode == 0
    assert cli("runs", "cancel", queued, "--reason", "not needed").returncode == 0
    history = [(e["state"], e["by"]) for e in _events(cli, queued) if e["kind"] == "run"]
    assert history == [
        ("pending", ME),
        ("paused", ME),
        ("pending", ME),
        ("cancelled", f"{ME} (cli)"),
    ]


def test_requeue_of_a_run_that_did_not_fail_says_so(cli: Cli) -> None:
    cli.write_flow("flows.py", FLOWS)
    queued = cli("submit", "flows.py:greet").stdout.split()[0]
    done = cli("runs", "retry", queued, "--queue")
    cli.assert_clean_error(done)
    assert f"run {queued} is pending, not failed" in done.stderr
