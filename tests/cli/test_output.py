"""What the CLI writes, read as text piped to a file: no trailing spaces on any line."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .conftest import Cli

FLOW = """
    from legato import flow, task

    @task
    def double(x: int) -> int:
        return x * 2

    @flow
    def doubled(x: int = 2) -> int:
        return double(x)
"""


def test_tables_and_run_output_have_no_trailing_spaces(cli: Cli) -> None:
    cli.write_flow("doubled.py", FLOW)
    ran = cli("run", "doubled.py:doubled")
    run_id = json.loads(cli("run", "doubled.py:doubled", "--json").stdout)["run_id"]
    cli("limits", "set", "flow:doubled", "2")

    outputs = [
        ran,
        cli("runs", "list"),
        cli("runs", "show", run_id),
        cli("runs", "show", run_id, "--all"),
        cli("limits", "list"),
    ]

    for done in outputs:
        assert done.returncode == 0, done.stderr
        padded = [line for line in done.stdout.splitlines() if line != line.rstrip()]
        assert padded == [], f"{done.args[1:]} printed lines ending in spaces: {padded}"
