"""``legato server``: the REST API (FastAPI, served by uvicorn) over the store."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, cast

import typer
from rich.text import Text

from legato.cli.console import err, fail, user_errors
from legato.cli.options import DbOption, HostOption, PortOption, open_cli_store

if TYPE_CHECKING:
    import uvicorn

    from legato.server.api.deps import ServerStore

LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` is an address only this machine can reach."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def server_command(
    ctx: typer.Context,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8400,
    db: DbOption = None,
) -> None:
    """Serve the web UI (/ui/), the REST API (/api/v1, docs at /docs) and webhooks
    (/hooks/PATH) over the store until Ctrl-C.

    Requests send Authorization: Bearer TOKEN (legato tokens create). While no token
    exists it serves without one, on a loopback address only.

    Example: legato server --host 0.0.0.0 --port 8400
    """
    store = store_of(ctx, db)
    server = http_server(store, host=host, port=port)
    try:
        server.run()
    finally:
        store.close()


def store_of(ctx: typer.Context, db: str | None) -> ServerStore:
    """The command's store, as the server sees it (every backend is a ServerStore)."""
    return cast("ServerStore", open_cli_store(ctx, db, create=True))


def http_server(store: ServerStore, *, host: str, port: int) -> uvicorn.Server:
    """A uvicorn server for the API, webhooks and web UI over ``store``, after the token
    checks: without tokens it serves only on a loopback address, and says so. Used by
    ``legato server`` and ``legato up``."""
    try:
        import uvicorn

        from legato.server.app import create_app
    except ImportError as exc:
        fail(
            f"legato server needs FastAPI and uvicorn ({exc.name} is missing): "
            "pip install 'legato[server]'"
        )
    with user_errors():
        has_tokens = store.has_tokens()
    loopback = is_loopback(host)
    if not has_tokens and not loopback:
        store.close()
        fail(
            f"refusing to serve on {host} without tokens: anyone who reaches it could act on "
            "every run. Create a token first (legato tokens create --name admin --role "
            "admin), or serve on 127.0.0.1."
        )
    if not has_tokens:
        err().print(
            Text(
                f"No tokens exist: serving without authentication, on {host} only (loopback). "
                "Create one with legato tokens create --name NAME --role admin; then every "
                "request needs it.",
                style="yellow",
            )
        )
    app = create_app(store, allow_anonymous=loopback and not has_tokens)
    shown = f"[{host}]" if ":" in host else host
    err().print(
        Text(
            f"legato server on http://{shown}:{port} (web UI: /ui/, API docs: /docs, "
            "webhooks: /hooks/PATH)",
            style="bold",
        )
    )
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    return uvicorn.Server(config)
