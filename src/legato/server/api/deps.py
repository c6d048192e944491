"""What every route needs: the store behind the app, and the caller's permission."""

from __future__ import annotations

from typing import Annotated, Any, Protocol

from fastapi import Depends, Request

from legato.server.auth import Permission, Principal, require
from legato.server.errors import ERROR_RESPONSES
from legato.store import base
from legato.store.deployments import DeploymentStore
from legato.store.run_pages import RunPagesStore
from legato.store.run_search import RunSearchStore
from legato.store.tokens import TokenStore


class ServerStore(base.Store, DeploymentStore, RunSearchStore, RunPagesStore, TokenStore, Protocol):
    """What the server needs of a store; every backend (memory, SQLite, PostgreSQL) is one."""


ERRORS: dict[int | str, dict[str, Any]] = ERROR_RESPONSES


def get_store(request: Request) -> ServerStore:
    """The store the app was created with."""
    store: ServerStore = request.app.state.store
    return store


Store = Annotated[ServerStore, Depends(get_store)]
Reader = Annotated[Principal, Depends(require(Permission.READ))]
Operator = Annotated[Principal, Depends(require(Permission.OPERATE))]
Answerer = Annotated[Principal, Depends(require(Permission.ANSWER))]
