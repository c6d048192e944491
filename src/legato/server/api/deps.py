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
from legato.store.step_counts import StepCountStore
from legato.store.tokens import TokenStore


class ServerStore(
    base.Store,
    DeploymentStore,
    RunSearchStore,
    StepCountStore,
    RunPagesStore,
    TokenStore,
    Protocol,
):
    """What the server needs of a store; every backend (memory, SQLite, PostgreSQL) is one."""


Responses = dict[int | str, dict[str, Any]]

ERRORS: Responses = ERROR_RESPONSES


def documented(description: str) -> dict[str, Any]:
    """An error answer (``{"error": {...}}``) for the OpenAPI document."""
    from legato.server.schemas import ErrorBody

    return {"model": ErrorBody, "description": description}


# The answers of routes that name a run, and of those that change one.
RUN_NOT_FOUND: Responses = {404: documented("No such run.")}
RUN_CONFLICT: Responses = {
    **RUN_NOT_FOUND,
    409: documented("The run's state does not allow it (it ended, it is not failed...)."),
}


def get_store(request: Request) -> ServerStore:
    """The store the app was created with."""
    store: ServerStore = request.app.state.store
    return store


Store = Annotated[ServerStore, Depends(get_store)]
Reader = Annotated[Principal, Depends(require(Permission.READ))]
Operator = Annotated[Principal, Depends(require(Permission.OPERATE))]
Answerer = Annotated[Principal, Depends(require(Permission.ANSWER))]
