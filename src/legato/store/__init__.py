"""Persistence: the ``Store`` protocol, its backends, and ``open_store(url)``.

Importing this package stays light: the SQLite backend (and ``sqlite3``) loads on first
use of ``SqliteStore`` or of a ``sqlite:`` URL, the PostgreSQL backend (and psycopg) on
first use of ``PostgresStore`` or of a ``postgresql:`` URL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from legato.errors import StoreError
from legato.store.base import Store
from legato.store.memory import MemoryStore
from legato.store.urls import parse_store_url, redact_url

if TYPE_CHECKING:
    from legato.store.postgres import PostgresStore
    from legato.store.sqlite import SqliteStore

__all__ = [
    "MemoryStore",
    "PostgresStore",
    "SqliteStore",
    "Store",
    "open_store",
    "redact_url",
    "upgrade_schema",
]


def open_store(url: str, *, durability: str = "normal", create: bool = True) -> Store:
    """Open the store ``url`` names (see ``legato.store.urls`` for the accepted forms).

    ``memory://`` gives a new empty ``MemoryStore`` (``durability`` does not apply);
    ``sqlite:///path.db``, ``sqlite:////abs/path.db`` or a bare ``*.db`` path give a
    ``SqliteStore`` with that ``durability`` (``"normal"`` survives a process crash,
    ``"full"`` also power loss), creating the file and its directory if needed;
    ``postgresql://user:password@host:port/database`` (or ``postgres://``) gives a
    ``PostgresStore`` (durability is the server's configuration there).

    ``create=False`` is for commands that only read or act on existing runs: a store
    that does not exist yet (no SQLite file; no legato tables in the PostgreSQL
    database or schema) is then an error, and nothing is created.

    Raises ``StoreError`` for an unknown or unsupported URL (passwords removed from the
    message), a file that cannot be opened, a store missing with ``create=False``, or an
    SQLite database of another program; ``ValueError`` for an unknown durability.
    """
    if durability not in ("normal", "full"):
        raise ValueError(
            f"durability={durability!r} is not one of 'normal' (survive a process crash) "
            "or 'full' (survive power loss)."
        )
    location = parse_store_url(url)
    if location.kind == "memory":
        return MemoryStore()
    if location.kind == "postgres":
        return _open_postgres(location.path, create=create)
    from legato.store.sqlite import SqliteStore

    return SqliteStore(location.path, durability=durability, create=create)


def _open_postgres(url: str, *, create: bool) -> Store:
    from legato.store.postgres import PostgresStore

    if create:
        return PostgresStore(url)
    store = PostgresStore(url, migrate=False)
    try:
        if store.schema_version() == 0:
            where = f"schema {store.schema!r}" if store.schema else "the database"
            raise StoreError(
                f"there is no legato store in {where} of {store.url}: it holds no legato "
                "tables, and reading creates nothing. Check the URL (--db / LEGATO_DB); a "
                "store is created by the first run, submit or worker, or by "
                f"legato db upgrade --db {store.url}."
            )
        store.migrate()
    except BaseException:
        store.close()
        raise
    return store


def upgrade_schema(url: str) -> tuple[int, int]:
    """Apply the schema migrations the store at ``url`` lacks; its version before and
    after (0 before: a new database). Opening a store does the same; this names the
    versions, for ``legato db upgrade``.

    Raises ``StoreError`` for ``memory://`` (it has no schema), for a store that cannot
    be opened, or for one whose schema is newer than this legato.
    """
    location = parse_store_url(url)
    if location.kind == "memory":
        raise StoreError(
            "memory:// keeps nothing, so it has no schema to upgrade; give the store with "
            "--db sqlite:///path/legato.db or --db postgresql://user@host/database."
        )
    if location.kind == "postgres":
        from legato.store.postgres import PostgresStore

        store = PostgresStore(location.path, migrate=False)
        try:
            return store.schema_version(), store.migrate()
        finally:
            store.close()
    from legato.store.sql import load_migrations
    from legato.store.sqlite import SqliteStore

    before = _sqlite_schema_version(location.path)
    SqliteStore(location.path).close()  # opening migrates, or refuses a newer schema
    return before, load_migrations("sqlite")[-1].version


def _sqlite_schema_version(path: str) -> int:
    """The schema version of the SQLite file at ``path``, read only; 0 when it is missing
    or empty, or cannot be read (opening the store then says why)."""
    import sqlite3
    from pathlib import Path

    file = Path(path).expanduser().absolute()
    if not file.is_file():
        return 0
    try:
        conn = sqlite3.connect(f"{file.as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return 0
    try:
        if conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        ).fetchone():
            return int(
                conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0] or 0
            )
    except sqlite3.Error:
        pass
    finally:
        conn.close()
    return 0


def __getattr__(name: str) -> Any:
    if name == "SqliteStore":
        from legato.store.sqlite import SqliteStore

        return SqliteStore
    if name == "PostgresStore":
        from legato.store.postgres import PostgresStore

        return PostgresStore
    raise AttributeError(f"module 'legato.store' has no attribute {name!r}")
