"""``--json`` output of runs whose values hold bytes that are not UTF-8 text."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .conftest import Cli

FLOW = """
from legato import flow, task


@task
def raw(data: bytes) -> bytes:
    return data + b"\\xff\\xfe\\x00"


@flow
def binary() -> dict:
    return {"blob": raw(b"\\x89PNG"), "text": b"plain"}
"""


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def test_run_and_runs_show_json_give_bytes_as_urlsafe_base64(cli: Cli) -> None:
    cli.write_flow("binary.py", FLOW)
    ran = cli.json("run", "binary.py:binary")
    assert ran["state"] == "completed"
    assert ran["result"] == {"blob": b64(b"\x89PNG\xff\xfe\x00"), "text": b64(b"plain")}

    shown = cli.json("runs", "show", ran["run_id"])
    assert shown["result"] == ran["result"]
    (step,) = shown["steps"]
    assert step["key"] == "raw#0" and step["result"] == b64(b"\x89PNG\xff\xfe\x00")

    listed = cli.json("runs", "list")
    assert listed[0]["result"] == ran["result"]

    table = cli("runs", "show", ran["run_id"])
    assert table.returncode == 0, table.stderr
    assert "Traceback" not in table.stderr
