"""The ``store`` fixture for scheduler tests: memory, SQLite and PostgreSQL."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from postgres_service import open_postgres

from legato.store import MemoryStore, SqliteStore, Store

sys.path.insert(0, str(Path(__file__).parent))  # scheduled_flows, for workers too

BACKENDS = {
    "memory": lambda tmp_path: MemoryStore(),
    "sqlite": lambda tmp_path: SqliteStore(tmp_path / "legato.db"),
    "postgres": open_postgres,
}


@pytest.fixture(params=list(BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened = BACKENDS[request.param](tmp_path)
    yield opened
    opened.close()
