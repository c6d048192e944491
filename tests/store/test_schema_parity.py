"""Both dialects' migrations end with the same schema: tables, columns (in order) and
indexes (by name, table and columns). Types differ by design (BIGINT times on
PostgreSQL), and SQLite does not mark primary-key columns NOT NULL, so neither is
compared."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from postgres_service import admin, new_schema, require_server, schema_url

from legato.store.postgres import PostgresStore
from legato.store.sql import load_migrations
from legato.store.sqlite import SqliteStore

Schema = tuple[dict[str, list[str]], dict[str, tuple[str, list[str]]]]


def sqlite_schema(path: Path) -> Schema:
    SqliteStore(path).close()
    conn = sqlite3.connect(path)
    try:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        tables = {t: [c[1] for c in conn.execute(f"PRAGMA table_info({t})")] for t in names}
        indexes = {
            name: (table, [c[2] for c in conn.execute(f"PRAGMA index_info({name})")])
            for name, table in conn.execute(
                "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' "
                "AND name NOT LIKE 'sqlite_autoindex_%'"
            )
        }
    finally:
        conn.close()
    return tables, indexes


def postgres_schema(schema: str) -> Schema:
    PostgresStore(schema_url(schema)).close()
    with admin() as conn:
        tables: dict[str, list[str]] = {}
        for table, column in conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = %s ORDER BY table_name, ordinal_position",
            (schema,),
        ):
            tables.setdefault(table, []).append(column)
        # Primary keys are named by PostgreSQL (runs_pkey) and implicit in SQLite.
        found = conn.execute(
            "SELECT i.relname, t.relname, array_agg(a.attname ORDER BY k.ord) "
            "FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN pg_class t ON t.oid = x.indrelid "
            "JOIN pg_namespace n ON n.oid = t.relnamespace "
            "CROSS JOIN LATERAL unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) "
            "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum "
            "WHERE n.nspname = %s AND NOT x.indisprimary "
            "GROUP BY i.relname, t.relname",
            (schema,),
        ).fetchall()
    return tables, {name: (table, list(columns)) for name, table, columns in found}


def test_both_dialects_end_with_the_same_tables_columns_and_indexes(tmp_path: Path) -> None:
    require_server()
    sqlite_tables, sqlite_indexes = sqlite_schema(tmp_path / "parity.db")
    pg_tables, pg_indexes = postgres_schema(new_schema(f"{tmp_path}/parity"))
    assert pg_tables == sqlite_tables
    assert pg_indexes == sqlite_indexes
    assert {"runs", "steps", "events", "logs", "cache", "schema_migrations"} <= set(pg_tables)


def test_both_dialects_have_the_same_numbered_migrations() -> None:
    named = {d: [(m.version, m.name) for m in load_migrations(d)] for d in ("sqlite", "postgres")}
    assert named["postgres"] == named["sqlite"]
