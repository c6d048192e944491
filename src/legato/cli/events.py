"""``legato events send``: an event for the flows waiting on it (``wait_for_event``)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from legato.cli.console import fail, out, user_errors, write_json
from legato.cli.options import DbOption, JsonOption, open_operations, operator

events_app = typer.Typer(
    name="events",
    help="Events for waiting flows.\n\nExample: legato events send payment --data '{\"order\": 7}'",
    no_args_is_help=True,
)


@events_app.command("send")
def send_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The event's name, as the flow waits for it.")],
    data: Annotated[
        str, typer.Option("--data", "-d", metavar="JSON", help="The payload, as JSON.")
    ] = "null",
    key: Annotated[
        str | None, typer.Option("--key", "-k", help="A key waits can select (key=...).")
    ] = None,
    run: Annotated[
        str | None, typer.Option("--run", metavar="RUN_ID", help="For this run only.")
    ] = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Send an event. It is stored, so a run that reaches its wait later still gets it;
    runs already waiting for it are resumed by a worker.

    Example: legato events send payment --data '{"order": "o-7", "amount": 30}'
    """
    try:
        payload = json.loads(data)
    except json.JSONDecodeError as exc:
        fail(f"--data is not valid JSON ({exc.msg} at column {exc.colno}): {data!r}")
    operations = open_operations(ctx, db)
    with user_errors():
        sent = operations.send_event(name, payload, key=key, run_id=run, by=operator())
    event_id = sent.id
    if json_output:
        write_json({"event_id": event_id, "name": name})
    else:
        out().print(f"sent event {name!r} (id {event_id})")
