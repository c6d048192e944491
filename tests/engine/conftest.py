"""The engine's tests run on every backend: ``store`` is the process default store,
memory, SQLite or PostgreSQL in turn (the PostgreSQL one skips, or fails under
``LEGATO_REQUIRE_SERVICES=1``, when the server is unreachable)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from postgres_service import open_postgres

import legato
from legato.engine import context
from legato.store import MemoryStore, SqliteStore
from legato.store.base import Store


def _open(backend: str, tmp_path: Path) -> Store:
    if backend == "memory":
        return MemoryStore()
    if backend == "sqlite":
        return SqliteStore(tmp_path / "legato.db")
    return open_postgres(tmp_path)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened = _open(request.param, tmp_path)
    previous = context._defaults.store
    legato.use_store(opened)
    yield opened
    context._defaults.store = previous
    opened.close()
