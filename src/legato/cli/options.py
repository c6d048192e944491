"""Options every command shares, and opening the store they name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from legato.cli.console import fail

if TYPE_CHECKING:
    from legato.settings import Settings
    from legato.store.base import Store

DB_HELP = (
    "Store URL: sqlite:///relative.db, sqlite:////absolute/path.db, "
    "postgresql://user:password@host/db[?schema=NAME] or memory://. "
    "Default: $LEGATO_DB, else ~/.legato/legato.db."
)

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
    from legato.errors import StoreError
    from legato.store import open_store

    url = store_url(ctx, db)
    try:
        return open_store(url, durability=_settings().durability, create=create)
    except (StoreError, ValueError, OSError) as exc:
        fail(str(exc))


def _settings() -> Settings:
    from legato.settings import load_settings

    try:
        return load_settings()
    except ValueError as exc:
        fail(str(exc))
