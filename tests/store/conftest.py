"""The ``store`` fixture: every contract test runs once per backend.

To add a backend, write an opener ``(tmp_path) -> Store`` that calls ``pytest.skip``
when its server is not configured, and add it to ``BACKENDS`` (and to
``DURABLE_BACKENDS`` if reopening it sees the same data). PostgreSQL's opener and its
server settings are in ``postgres_service``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from postgres_service import open_postgres

from legato.store import MemoryStore, SqliteStore, Store

Opener = Callable[[Path], Store]


def _memory(tmp_path: Path) -> Store:
    return MemoryStore()


def _sqlite(tmp_path: Path) -> Store:
    return SqliteStore(tmp_path / "legato.db")


BACKENDS: dict[str, Opener] = {"memory": _memory, "sqlite": _sqlite, "postgres": open_postgres}
# Backends whose data outlives the store object: opening again sees the same data.
DURABLE_BACKENDS: dict[str, Opener] = {"sqlite": _sqlite, "postgres": open_postgres}


@pytest.fixture(params=list(BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened = BACKENDS[request.param](tmp_path)
    yield opened
    opened.close()


@pytest.fixture(params=list(DURABLE_BACKENDS))
def open_again(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    """Opens the same persistent store each time it is called; closes them all after."""
    opened: list[Store] = []

    def open_store() -> Store:
        opened.append(DURABLE_BACKENDS[request.param](tmp_path))
        return opened[-1]

    yield open_store
    for each in opened:
        each.close()
