"""Commands that read never create a store, and no command writes into another program's
SQLite database."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .conftest import Cli

FLOW = """
    from legato import flow

    @flow
    def hello(name: str = "world") -> str:
        return f"hello {name}"
"""

READING = [
    ("runs", "list"),
    ("runs", "show", "01J0000000000000000000000"),
    ("runs", "logs", "01J0000000000000000000000"),
    ("runs", "cancel", "01J0000000000000000000000"),
    ("inputs", "list"),
    ("workers", "list"),
    ("limits", "list"),
]


@pytest.mark.parametrize("command", READING, ids=[" ".join(c[:2]) for c in READING])
def test_a_reading_command_on_a_missing_store_says_so_and_creates_nothing(
    cli: Cli, tmp_path: Path, command: tuple[str, ...]
) -> None:
    typo = tmp_path / "typo" / "dir" / "x.db"
    done = cli(*command, "--db", f"sqlite:///{typo}")
    cli.assert_clean_error(done)
    said = " ".join(done.stderr.split())
    assert f"no legato store at {typo}" in said
    assert "does not exist" in said and "legato db upgrade" in said
    assert not (tmp_path / "typo").exists()


def test_the_default_store_is_not_created_by_reading_but_by_the_first_run(cli: Cli) -> None:
    done = cli("runs", "list")
    cli.assert_clean_error(done)
    assert f"no legato store at {cli.db_path}" in " ".join(done.stderr.split())
    assert not cli.db_path.parent.exists()

    cli.write_flow("hello.py", FLOW)
    assert cli("run", "hello.py:hello").returncode == 0
    assert [run["flow"] for run in cli.runs()] == ["hello"]
    assert cli.db_path.parent.stat().st_mode & 0o777 == 0o700
    assert cli.db_path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    "command", [("runs", "list"), ("run", "hello.py:hello")], ids=["read", "write"]
)
def test_another_programs_database_is_refused_and_left_unchanged(
    cli: Cli, tmp_path: Path, command: tuple[str, ...]
) -> None:
    cli.write_flow("hello.py", FLOW)
    other = tmp_path / "inventory.sqlite"
    raw = sqlite3.connect(other)
    raw.execute("CREATE TABLE items (sku TEXT PRIMARY KEY, count INTEGER)")
    raw.execute("INSERT INTO items VALUES ('A-1', 3)")
    raw.commit()
    raw.close()
    before = other.read_bytes()

    done = cli(*command, "--db", f"sqlite:///{other}")
    cli.assert_clean_error(done)
    said = " ".join(done.stderr.split())
    assert "is an SQLite database of another program (it holds items)" in said
    assert "not a legato store" in said
    assert other.read_bytes() == before
    assert sorted(p.name for p in tmp_path.glob("inventory.sqlite*")) == ["inventory.sqlite"]
