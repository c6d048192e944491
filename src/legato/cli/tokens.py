"""``legato tokens create|list|revoke``: the tokens ``legato server`` accepts."""

from __future__ import annotations

import getpass
import socket
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from legato.cli.console import err, fail, out, user_errors, write_json
from legato.cli.options import DbOption, JsonOption, open_cli_store
from legato.store.tokens import Role, TokenStore

tokens_app = typer.Typer(
    name="tokens",
    help=(
        "API tokens for legato server: who may read, operate, approve.\n\n"
        "Example: legato tokens create --name ci --role operator"
    ),
    no_args_is_help=True,
)


def open_token_store(ctx: typer.Context, db: str | None, *, create: bool = False) -> TokenStore:
    store = open_cli_store(ctx, db, create=create)
    assert isinstance(store, TokenStore)  # every backend keeps tokens
    return store


@tokens_app.command("create")
def create_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="Unique; recorded in history as who acted.")],
    role: Annotated[
        Role,
        typer.Option(
            "--role",
            case_sensitive=False,
            help="viewer reads; operator also starts, cancels, pauses, retries runs and "
            "sends events; approver reads and answers inputs; admin everything.",
        ),
    ],
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Create a token and print it, once: only its hash is stored, so copy it now.

    Example: legato tokens create --name alice --role approver
    """
    from legato.clock import utcnow
    from legato.store.tokens import TokenRecord, check_token_name, hash_token, new_token

    with user_errors():
        check_token_name(name)
    store = open_token_store(ctx, db, create=True)
    token = new_token()
    record = TokenRecord(
        name=name,
        role=role,
        token_hash=hash_token(token),
        created_at=utcnow(),
        created_by=f"{getpass.getuser()}@{socket.gethostname()}",
    )
    with user_errors():
        store.create_token(record)
    if json_output:
        write_json({"name": name, "role": role.value, "token": token})
        return
    out().print(token)
    err().print(
        Text(
            f"token {name!r} ({role.value}) created. It is shown only now: keep it in a "
            "secret store. Send it as: Authorization: Bearer TOKEN",
            style="dim",
        )
    )


@tokens_app.command("list")
def list_command(ctx: typer.Context, db: DbOption = None, json_output: JsonOption = False) -> None:
    """List tokens: name, role, when and by whom created (never the tokens themselves).

    Example: legato tokens list
    """
    store = open_token_store(ctx, db)
    with user_errors():
        tokens = store.list_tokens()
    if json_output:
        write_json(
            [
                {
                    "name": t.name,
                    "role": t.role.value,
                    "created_at": t.created_at.isoformat(),
                    "created_by": t.created_by,
                }
                for t in tokens
            ]
        )
        return
    if not tokens:
        out().print(Text("No tokens. Create one: legato tokens create --name NAME --role viewer"))
        return
    table = Table(box=None, header_style="bold")
    for column in ("NAME", "ROLE", "CREATED", "BY"):
        table.add_column(column)
    for t in tokens:
        table.add_row(
            Text(t.name), t.role.value, t.created_at.strftime("%Y-%m-%d %H:%M"), t.created_by or "-"
        )
    out().print(table)


@tokens_app.command("revoke")
def revoke_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The token's name.")],
    db: DbOption = None,
) -> None:
    """Revoke a token: requests sending it are refused from now on.

    Example: legato tokens revoke ci
    """
    store = open_token_store(ctx, db)
    with user_errors():
        revoked = store.revoke_token(name)
    if not revoked:
        fail(f"there is no token named {name!r}; see legato tokens list")
    out().print(f"token {name!r} revoked")
