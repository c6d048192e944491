"""``legato run``: outcomes, exit codes, parameters, --json."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .conftest import Cli

PIPELINE = """
    from legato import flow, task

    @task
    def double(x: int) -> int:
        return x * 2

    @task(retries=2, retry_delay=0)
    def flaky(x: int) -> int:
        from legato import get_run_context
        if get_run_context().attempt < 2:
            raise ConnectionError("try again")
        return x + 1

    @task
    def explode(x: int) -> int:
        raise RuntimeError(f"boom at {x} [really]")

    @flow
    def pipeline(n: int, fail: bool = False, label: str = "total") -> dict:
        doubled = [f.result() for f in double.map(range(n))]
        value = flaky(sum(doubled))
        if fail:
            explode(value)
        print("this goes to stdout from the flow")
        return {label: value, "count": len(doubled)}
"""


@pytest.fixture
def pipeline(cli: Cli) -> str:
    cli.write_flow("pipeline.py", PIPELINE)
    return "pipeline.py:pipeline"


def test_completed_run_shows_steps_result_and_run_id(cli: Cli, pipeline: str) -> None:
    done = cli("run", pipeline, "-p", "n=4")

    assert done.returncode == 0, done.stderr
    (run,) = cli.runs()
    assert run["state"] == "completed"
    assert run["run_id"] in done.stdout
    assert "pipeline completed" in done.stdout
    assert "{'total': 13, 'count': 4}" in done.stdout
    assert "double#3 completed" in done.stdout
    assert "flaky#0 attempt 1 failed (ConnectionError: try again)" in done.stdout
    assert "flaky#0 completed" in done.stdout


def test_failed_run_exits_1_and_shows_the_error(cli: Cli, pipeline: str) -> None:
    done = cli("run", pipeline, "-p", "n=2", "-p", "fail=true")

    assert done.returncode == 1, done.stderr
    assert "pipeline failed" in done.stdout
    assert "RuntimeError: boom at 3 [really]" in done.stdout
    assert "explode#0" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    (run,) = cli.runs()
    assert run["state"] == "failed"
    assert f"legato runs show {run['run_id']} --traceback" in done.stdout


@pytest.mark.parametrize(
    ("params", "complaint"),
    [
        ([], "missing required parameter 'n'"),
        (["n=3", "colour=red"], "unknown parameter 'colour'"),
        (["n=three"], "parameter 'n' expects int, got 'three'"),
        (["n=3", "fail=perhaps"], "parameter 'fail' expects bool"),
        (["n"], "-p 'n' is not of the form name=value"),
        (["n=1", "n=2"], "parameter 'n' is given twice"),
    ],
)
def test_bad_parameters_exit_2_listing_the_flow_parameters_and_write_nothing(
    cli: Cli, pipeline: str, params: list[str], complaint: str
) -> None:
    args = [arg for param in params for arg in ("-p", param)]
    done = cli("run", pipeline, *args)

    cli.assert_clean_error(done)
    assert complaint in done.stderr
    assert "Parameters of flow 'pipeline':" in done.stderr
    listed = {
        line.split()[0]: " ".join(line.split()[1:])
        for line in done.stderr.splitlines()
        if line.startswith("  ")
    }
    assert listed == {
        "n": "int required",
        "fail": "bool (true/false) default False",
        "label": "str default 'total'",
    }
    assert done.stdout == ""
    assert cli.runs() == []


def test_parameters_are_converted_by_type_hints(cli: Cli) -> None:
    cli.write_flow(
        "typed.py",
        """
        from datetime import datetime
        from pydantic import BaseModel
        from legato import flow

        class Order(BaseModel):
            sku: str
            quantity: int

        @flow
        def typed(
            count: int,
            ratio: float,
            dry_run: bool,
            name: str,
            when: datetime,
            ids: list[int],
            options: dict,
            order: Order,
            note: str | None = None,
        ) -> dict:
            return {
                "count": count + 1,
                "ratio": ratio * 2,
                "dry_run": dry_run,
                "name": name.upper(),
                "weekday": when.strftime("%A"),
                "hour": when.hour,
                "ids": sum(ids),
                "options": sorted(options),
                "order": f"{order.quantity} x {order.sku}",
                "note": note,
            }
        """,
    )
    done = cli(
        "run",
        "typed.py:typed",
        "-p", "count=41",
        "-p", "ratio=0.25",
        "-p", "dry_run=yes",
        "-p", "name=a=b",
        "-p", "when=2024-05-01T13:30:00+02:00",
        "-p", "ids=[1, 2, 3]",
        "-p", 'options={"b": 1, "a": 2}',
        "-p", 'order={"sku": "X-1", "quantity": "3"}',
        "-p", "note=null",
        "--json",
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["result"] == {
        "count": 42,
        "ratio": 0.5,
        "dry_run": True,
        "name": "A=B",
        "weekday": "Wednesday",
        "hour": 13,
        "ids": 6,
        "options": ["a", "b"],
        "order": "3 x X-1",
        "note": None,
    }


def test_ill_typed_json_parameter_names_the_field(cli: Cli) -> None:
    cli.write_flow(
        "orders.py",
        """
        from pydantic import BaseModel
        from legato import flow

        class Order(BaseModel):
            sku: str
            quantity: int

        @flow
        def orders(order: Order, ids: list[int] = []) -> int:
            return order.quantity
        """,
    )
    done = cli("run", "orders.py:orders", "-p", 'order={"sku": "x"}', "-p", "ids=[1,")

    cli.assert_clean_error(done)
    assert "parameter 'order' expects Order (JSON)" in done.stderr
    assert "quantity: Field required" in done.stderr
    assert "parameter 'ids' expects list[int] (JSON)" in done.stderr
    assert cli.runs() == []


@pytest.mark.parametrize("fail", [False, True])
def test_json_prints_exactly_one_object(cli: Cli, pipeline: str, fail: bool) -> None:
    done = cli("run", pipeline, "-p", "n=3", "-p", f"fail={fail}", "--json")

    assert done.returncode == (1 if fail else 0), done.stderr
    payload = json.loads(done.stdout)  # the whole of stdout is one JSON document
    assert isinstance(payload, dict)
    assert set(payload) == {"run_id", "flow", "state", "result", "error"}
    assert payload["flow"] == "pipeline"
    assert payload["run_id"] == cli.runs()[0]["run_id"]
    if fail:
        assert payload["state"] == "failed"
        assert payload["result"] is None
        assert payload["error"]["type"] == "builtins.RuntimeError"
        assert payload["error"]["message"].startswith("boom at 7 [really]")
    else:
        assert payload["state"] == "completed"
        assert payload["result"] == {"total": 7, "count": 3}
        assert payload["error"] is None
        assert "this goes to stdout from the flow" in done.stderr


def test_target_as_module_path(cli: Cli, pipeline: str) -> None:
    done = cli("run", "pipeline:pipeline", "-p", "n=1", "--json", env={"PYTHONPATH": str(cli.root)})

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["result"] == {"total": 1, "count": 1}


@pytest.mark.parametrize(
    ("target", "complaint"),
    [
        ("pipeline.py:nothing", "has no flow named 'nothing'. Flows there: pipeline"),
        ("missing.py:flow", "no such file missing.py"),
        ("no_such_module_xyz:flow", "cannot import module 'no_such_module_xyz'"),
        ("pipeline.py", "must look like path/to/file.py:flow_name"),
        ("broken.py:flow", "cannot load broken.py:flow: ZeroDivisionError: division by zero"),
    ],
)
def test_bad_target_is_one_clear_line(cli: Cli, pipeline: str, target: str, complaint: str) -> None:
    cli.write_flow("broken.py", "x = 1 / 0\n")
    done = cli("run", target)

    cli.assert_clean_error(done)
    assert complaint in done.stderr
    assert cli.runs() == []


def test_live_view_on_a_terminal(cli: Cli, pipeline: str) -> None:
    """On a terminal the live region (spinners, progress bars) animates; the outcome is
    the same."""
    leader, follower = pty.openpty()
    env = {**cli.env, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "40"}
    process = subprocess.Popen(
        [cli.exe, "run", pipeline, "-p", "n=40"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        cwd=cli.root,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is gone
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(timeout=120) == 0
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode(errors="replace"))
    assert "pipeline completed" in screen
    assert "{'total': 1561, 'count': 40}" in screen
    assert "Traceback" not in screen
