"""``legato db ...``: the store's database schema."""

from __future__ import annotations

import typer
from rich.text import Text

from legato.cli.console import out, user_errors, write_json
from legato.cli.options import DbOption, JsonOption, store_url

db_app = typer.Typer(
    name="db",
    help=(
        "Manage the store's database schema.\n\n"
        "Example: legato db upgrade --db postgresql://legato@db.example.com/legato"
    ),
    no_args_is_help=True,
)


@db_app.command("upgrade")
def upgrade_command(
    ctx: typer.Context, db: DbOption = None, json_output: JsonOption = False
) -> None:
    """Apply the schema migrations the store lacks; print its version before and after.

    Opening a store applies them too: run this to upgrade at a moment you choose (before
    workers with a new legato start), or to check that a store is up to date.

    Example: legato db upgrade --db postgresql://legato@db.example.com/legato
    """
    from legato.store import redact_url, upgrade_schema

    url = store_url(ctx, db)
    with user_errors():
        before, after = upgrade_schema(url)
    shown = redact_url(url)
    if json_output:
        write_json({"store": shown, "before": before, "after": after})
    elif before == after:
        out().print(Text(f"{shown}: schema version {after}, already up to date."))
    else:
        out().print(Text(f"{shown}: schema version {before} -> {after}."))
