"""The app over a real store (SQLite file, PostgreSQL schema), with one token per role;
helpers in ``server_helpers``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from postgres_service import open_postgres
from server_helpers import Api, add_tokens

from legato.store import SqliteStore
from legato.store.tokens import Role

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(params=BACKENDS)
def api_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "sqlite":
        store: Any = SqliteStore(tmp_path / "legato.db")
    else:
        store = open_postgres(tmp_path)
    yield store
    store.close()


@pytest.fixture
def api(api_store: Any) -> Api:
    from legato.server.app import create_app

    add_tokens(api_store, *(role.value for role in Role))
    return Api(store=api_store, app=create_app(api_store, poll_interval=0.05))
