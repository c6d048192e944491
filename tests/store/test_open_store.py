"""open_store(url): which URL opens which backend, and the errors for the others."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from postgres_service import admin, new_schema, require_server, schema_url

from legato.errors import StoreError
from legato.records import RunFilter
from legato.store import MemoryStore, SqliteStore, open_store, redact_url


def test_memory_url_gives_a_new_empty_store_each_time() -> None:
    first, second = open_store("memory://"), open_store("memory://")
    assert isinstance(first, MemoryStore) and first is not second
    assert first.url == "memory://"


def test_sqlite_relative_url_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///data/legato.db")
    assert isinstance(store, SqliteStore)
    assert store.url == "sqlite:///data/legato.db"
    store.close()
    assert (tmp_path / "data" / "legato.db").is_file()


def test_sqlite_absolute_url(tmp_path: Path) -> None:
    path = tmp_path / "abs.db"
    store = open_store(f"sqlite:///{path}")  # four slashes: sqlite:// + /abs/path
    assert isinstance(store, SqliteStore) and store.path == path
    assert store.url == f"sqlite:///{path}"
    store.close()


@pytest.mark.parametrize("name", ["plain.db", "plain.sqlite", "plain.sqlite3"])
def test_bare_path_opens_sqlite(tmp_path: Path, name: str) -> None:
    store = open_store(str(tmp_path / name))
    assert isinstance(store, SqliteStore) and store.path == tmp_path / name
    store.close()


def test_durability_is_passed_to_sqlite(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "a.db"), durability="full")
    assert isinstance(store, SqliteStore) and store.durability == "full"
    store.close()
    with pytest.raises(ValueError, match="durability"):
        open_store("memory://", durability="eventual")


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://legato:s3cr3t@127.0.0.1:1/legato",
        "postgres://legato:s3cr3t@127.0.0.1:1/legato",
        "postgresql+psycopg://legato:s3cr3t@127.0.0.1:1/legato?sslmode=disable",
    ],
)
def test_postgresql_urls_open_postgres_and_never_show_the_password(url: str) -> None:
    # Port 1: nothing listens there, so the PostgreSQL backend fails at once.
    with pytest.raises(StoreError, match="cannot open the PostgreSQL store") as caught:
        open_store(url)
    message = str(caught.value)
    assert "s3cr3t" not in message and "legato:***@127.0.0.1:1" in message
    assert "pg_isready -h 127.0.0.1 -p 1" in message


@pytest.mark.parametrize(
    "url",
    ["mysql://root:hunter2@localhost/db", "legato.txt", "", "memory://somewhere", "sqlite://"],
)
def test_other_urls_list_the_accepted_forms(url: str) -> None:
    with pytest.raises(StoreError) as caught:
        open_store(url)
    message = str(caught.value)
    assert "hunter2" not in message
    assert "sqlite:///" in message or "memory://" in message


def test_a_path_that_cannot_be_opened_names_it(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=f"{tmp_path}.*directory"):
        open_store(f"sqlite:///{tmp_path}")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:pw@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("postgresql://u:p@ss/w@rd@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgresql://h/db?user=u&password=pw&x=1", "postgresql://h/db?user=u&password=***&x=1"),
        ("sqlite:////tmp/legato.db", "sqlite:////tmp/legato.db"),
        ("/tmp/legato.db", "/tmp/legato.db"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_importing_the_store_package_stays_light() -> None:
    code = (
        "import sys, legato.store; "
        "print(sorted(m for m in ('sqlite3', 'legato.store.sql', 'legato.store.sqlite') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_without_create_an_empty_postgres_schema_is_an_error_and_stays_empty(
    tmp_path: Path,
) -> None:
    require_server()
    schema = new_schema(str(tmp_path))
    url = schema_url(schema)
    with pytest.raises(StoreError, match=f"no legato store in schema '{schema}'.*db upgrade"):
        open_store(url, create=False)
    with admin() as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s", (schema,)
        ).fetchone()
    assert tables == (0,)
    open_store(url).close()  # creates it
    reopened = open_store(url, create=False)
    assert reopened.list_runs(RunFilter()) == []
    reopened.close()
