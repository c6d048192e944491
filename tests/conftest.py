"""Shared fixtures: a fresh SQLite file store made the process default for each test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from postgres_service import drop_schemas

import legato
from legato.engine import context
from legato.store import open_store
from legato.store.base import Store


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'legato.db'}"


@pytest.fixture
def sqlite_store(db_url: str) -> Iterator[Store]:
    store = open_store(db_url)
    previous = context._defaults.store
    legato.use_store(store)
    yield store
    context._defaults.store = previous
    store.close()


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Never touch the developer's ~/.legato from a test.
    monkeypatch.setenv("LEGATO_HOME", str(tmp_path / "home"))
    if "LEGATO_DB" in os.environ:
        monkeypatch.delenv("LEGATO_DB")


@pytest.fixture(scope="session", autouse=True)
def _postgres_schemas() -> Iterator[None]:
    yield
    drop_schemas()
