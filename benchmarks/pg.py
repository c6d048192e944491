"""A throwaway schema on the benchmark PostgreSQL server, or None when unreachable."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager


def server_url() -> str:
    return os.environ.get("LEGATO_BENCH_PG") or os.environ.get(
        "LEGATO_TEST_PG", "postgresql://127.0.0.1/test"
    )


@contextmanager
def fresh_schema() -> Iterator[str | None]:
    """Yields a store URL in a new schema (dropped afterwards), or None."""
    base = server_url()
    try:
        import psycopg

        admin = psycopg.connect(base, autocommit=True, connect_timeout=3)
    except Exception as exc:  # noqa: BLE001 - reported, then skipped
        print(f"PostgreSQL at {base} is not reachable ({exc}); skipped")
        yield None
        return
    name = f"legato_bench_{secrets.token_hex(4)}"
    admin.execute(f"CREATE SCHEMA {name}")
    try:
        yield f"{base}{'&' if '?' in base else '?'}schema={name}"
    finally:
        admin.execute(f"DROP SCHEMA {name} CASCADE")
        admin.close()
