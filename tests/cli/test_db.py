"""``legato db upgrade``: the schema version before and after, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from legato.store.sql import load_migrations

if TYPE_CHECKING:
    from .conftest import Cli

LATEST = load_migrations("sqlite")[-1].version


def test_upgrade_creates_then_finds_the_sqlite_schema_current(cli: Cli) -> None:
    first = cli("db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"{cli.db}: schema version 0 -> {LATEST}."
    again = cli("db", "upgrade", "--db", cli.db, "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == {"store": cli.db, "before": LATEST, "after": LATEST}


def test_upgrade_of_memory_says_there_is_nothing_to_upgrade(cli: Cli) -> None:
    done = cli("db", "upgrade", "--db", "memory://")
    cli.assert_clean_error(done)
    assert "no schema to upgrade" in done.stderr


def test_upgrade_of_an_unreachable_server_hides_the_password(cli: Cli) -> None:
    done = cli("db", "upgrade", "--db", "postgresql://legato:s3cr3t@127.0.0.1:1/legato")
    cli.assert_clean_error(done)
    assert "legato:***@127.0.0.1:1" in done.stderr and "s3cr3t" not in done.stderr
    assert "pg_isready" in done.stderr


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A new schema on LEGATO_TEST_PG; skipped when unreachable, except in CI."""
    import psycopg

    base = os.environ.get("LEGATO_TEST_PG") or "postgresql://127.0.0.1/test"
    schema = f"legato_test_cli_{secrets.token_hex(4)}"
    try:
        conn = psycopg.connect(base, connect_timeout=3, autocommit=True)
    except psycopg.Error as exc:
        reason = f"PostgreSQL is not reachable at LEGATO_TEST_PG: {exc}"
        if os.environ.get("LEGATO_REQUIRE_SERVICES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    with conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        try:
            yield f"{base}{'&' if '?' in base else '?'}schema={schema}"
        finally:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def test_upgrade_of_a_new_postgres_schema(cli: Cli, pg_schema_url: str) -> None:
    first = cli("db", "upgrade", "--db", pg_schema_url, "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["before"] == 0
    assert json.loads(first.stdout)["after"] == LATEST
    again = cli("--db", pg_schema_url, "db", "upgrade")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().endswith(f"schema version {LATEST}, already up to date.")
