"""Options every command shares, and opening the store they name."""

from __future__ import annotations

import getpass
import socket
from typing import TYPE_CHECKING, Annotated

import typer

from legato.cli.console import fail
from legato.errors import StoreError

if TYPE_CHECKING:
    from legato.engine.operations import Operations
    from legato.settings import Settings
    from legato.store.base import Store

DB_FORMS = (
    "Store URL: sqlite:///relative.db, sqlite:////absolute/path.db, a bare path ending in "
    ".db, postgresql://user:password@host/db[?schema=NAME] or memory://."
)


def db_help() -> str:
    """The ``--db`` help with the default as it resolves here (password hidden)."""
    from legato.settings import load_settings
    from legato.store.urls import redact_url

    rule = "$LEGATO_DB if set, else legato.db in $LEGATO_HOME (~/.legato if unset)"
    try:
        default = redact_url(load_settings().db_url)
    except ValueError:  # a bad LEGATO_* setting: the command itself will say so
        return f"{DB_FORMS} Default: {rule}."
    return f"{DB_FORMS} Default: {default} ({rule})."


DB_HELP = db_help()

DbOption = Annotated[
    str | None,
    typer.Option("--db", metavar="URL", help=DB_HELP, show_default=False),
]
JsonOption = Annotated[
    bool,
    typer.Option("--json", help="Print one JSON document on stdout instead of tables."),
]


def store_url(ctx: typer.Context, db: str | None) -> str:
    """``--db`` of the command, else ``--db`` given before it, else the settings."""
    if db:
        return db
    root = ctx.find_root()
    if isinstance(root.obj, dict) and root.obj.get("db"):
        return str(root.obj["db"])
    return _settings().db_url


def open_cli_store(ctx: typer.Context, db: str | None, *, create: bool = False) -> Store:
    """Open the store for a command; an unusable URL or file exits 2 with one red line.

    Only commands that start runs or workers pass ``create=True``: the others read or
    act on existing runs, and a store that does not exist is an error for them (a typo
    in --db must not leave an empty database behind)."""
    from legato.store import open_store

    url = store_url(ctx, db)
    try:
        return open_store(url, durability=_settings().durability, create=create)
    except (StoreError, ValueError, OSError) as exc:
        fail(str(exc))


def open_operations(ctx: typer.Context, db: str | None, *, create: bool = False) -> Operations:
    """The operations service on the command's store (opened as ``open_cli_store``)."""
    from legato.engine.operations import Operations

    store = open_cli_store(ctx, db, create=create)
    try:
        return Operations.for_store(store)
    except StoreError as exc:
        fail(str(exc))


def operator(declared: str | None = None) -> str:
    """Who acts, as recorded in the run's history: ``declared`` (``--by``), else
    ``user@host`` of this terminal."""
    if declared:
        return declared
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in this environment
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _settings() -> Settings:
    from legato.settings import load_settings

    try:
        return load_settings()
    except ValueError as exc:
        fail(str(exc))


# Options of the long-running commands (worker, server, up), defined once.
HostOption = Annotated[
    str, typer.Option("--host", help="Address to listen on; 0.0.0.0 for every interface.")
]
PortOption = Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on.")]
GraceOption = Annotated[
    float, typer.Option("--grace", min=0, help="Seconds running runs get on SIGTERM.")
]
