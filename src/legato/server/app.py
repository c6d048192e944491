"""``create_app(store)``: the ASGI app ``legato server`` serves.

It keeps no state of its own: everything is read from and written to ``store`` on each
request, so several servers can serve one PostgreSQL store. The REST API lives under
``/api/v1`` (one router per resource in ``legato.server.api``); ``/healthz``,
``/openapi.json`` and ``/docs`` at the root. Static pages (the web UI) mount beside it
with ``app.mount("/", StaticFiles(...))`` after the API, so API paths win.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter, FastAPI, Request

from legato import __version__
from legato.clock import utcnow
from legato.server import errors, ui
from legato.server.api import deployments, events, graph, hooks, inputs, me, runs, workers
from legato.server.api.deps import ServerStore
from legato.server.body_limit import MAX_BODY, BodyLimit
from legato.server.schemas import Health

API_PREFIX = "/api/v1"


def create_app(
    store: ServerStore,
    *,
    clock: Callable[[], datetime] = utcnow,
    allow_anonymous: bool = False,
    max_body: int = MAX_BODY,
    poll_interval: float = 0.5,
) -> FastAPI:
    """The app over ``store``.

    ``allow_anonymous``: requests without a token are served (as ``anonymous``, with
    every permission) while the store holds no token; give it only to a server bound to
    a loopback address. ``max_body``: bytes a request body may have (413 beyond).
    ``poll_interval``: seconds between looks at the store while following logs.
    """
    app = FastAPI(
        title="legato",
        version=__version__,
        description=(
            "Durable workflows: runs, their steps and logs, human inputs, events, deployments."
        ),
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.store = store
    app.state.clock = clock
    app.state.allow_anonymous = allow_anonymous
    app.state.poll_interval = poll_interval
    errors.install(app)
    api = APIRouter(prefix=API_PREFIX)
    for module in (runs, graph, inputs, events, deployments, workers, me):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(hooks.router)
    app.add_api_route("/healthz", healthz, methods=["GET"], response_model=Health, tags=["health"])
    app.add_middleware(BodyLimit, limit=max_body)
    ui.mount(app)
    return app


def healthz(request: Request) -> Health:
    """200 while the store answers; 503 (with a hint) while it does not."""
    store: ServerStore = request.app.state.store
    store.has_tokens()  # a small read: raises StoreError (503) when the store is down
    return Health(status="ok", store=store.url)
