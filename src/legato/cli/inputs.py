"""``legato inputs list``, ``legato approve``, ``legato reject``: people answering flows."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from legato.cli.console import fail, out, user_errors, write_json
from legato.cli.options import DbOption, JsonOption, open_cli_store, open_operations, operator

if TYPE_CHECKING:
    from legato.records import InputAnswer

inputs_app = typer.Typer(
    name="inputs",
    help="Questions flows wait on.\n\nExample: legato inputs list",
    no_args_is_help=True,
)
RunId = Annotated[str, typer.Argument(metavar="RUN_ID", help="The waiting run.")]
Name = Annotated[str, typer.Argument(metavar="NAME", help="The input's name, as the flow asks.")]
By = Annotated[
    str | None,
    typer.Option(
        "--by",
        help="Who answers (default: user@host); kept in history as declared, not verified.",
    ),
]
Role = Annotated[
    str | None,
    typer.Option(
        "--role", help="The role you answer as; declared, not verified (anyone may pass it)."
    ),
]


@inputs_app.command("list")
def list_command(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1)] = 100,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """What flows wait for people to answer: run, name, prompt, schema, deadline.

    Example: legato inputs list --json
    """
    from legato.serialization import loads

    store = open_cli_store(ctx, db)
    with user_errors():
        steps = store.open_inputs(limit)
    questions = [{"run_id": s.run_id, "step": s.key, **loads(s.result or "{}")} for s in steps]
    if json_output:
        write_json(questions)
        return
    if not questions:
        out().print(Text("Nothing waits for an answer.", style="dim"))
        return
    table = Table(box=None, header_style="bold")
    for column in ("RUN ID", "NAME", "PROMPT", "FIELDS", "ROLES", "DEADLINE"):
        table.add_column(column)
    for q in questions:
        fields = ", ".join((q.get("schema") or {}).get("properties", {})) or "-"
        table.add_row(
            q["run_id"],
            q["name"],
            q.get("prompt") or "",
            fields,
            ", ".join(q.get("roles") or []) or "anyone",
            q.get("deadline") or "-",
        )
    out().print(table)
    out().print(Text("Answer with: legato approve RUN_ID NAME --input JSON", style="dim"))


def approve_command(
    ctx: typer.Context,
    run_id: RunId,
    name: Name,
    input_json: Annotated[
        str, typer.Option("--input", "-i", metavar="JSON", help="The answer, as JSON.")
    ] = "{}",
    by: By = None,
    role: Role = None,
    db: DbOption = None,
) -> None:
    """Answer a flow's question; it is checked against the schema field by field, and
    fields the schema does not have are refused. --by and --role are declared, not
    verified.

    Example: legato approve 01j2x3y4z5abcdefghjkmnpqrs manager --input '{"approved": true}'
    """
    try:
        data: Any = json.loads(input_json)
    except json.JSONDecodeError as exc:
        fail(f"--input is not valid JSON ({exc.msg} at column {exc.colno}): {input_json!r}")
    _answer(ctx, run_id, name, db=db, data=data, by=by, role=role, reject=None)


def reject_command(
    ctx: typer.Context,
    run_id: RunId,
    name: Name,
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why; the flow gets it.")],
    by: By = None,
    role: Role = None,
    db: DbOption = None,
) -> None:
    """Reject a flow's question; the flow gets InputRejected with the reason. --by and
    --role are declared, not verified.

    Example: legato reject 01j2x3y4z5abcdefghjkmnpqrs manager --reason "no receipt"
    """
    _answer(ctx, run_id, name, db=db, data=None, by=by, role=role, reject=reason)


def _answer(
    ctx: typer.Context,
    run_id: str,
    name: str,
    *,
    db: str | None,
    data: Any,
    by: str | None,
    role: str | None,
    reject: str | None,
) -> None:
    operations = open_operations(ctx, db)
    who = operator(by)
    with user_errors():
        if reject is None:
            answer = operations.answer(run_id, name, data, by=who, role=role)
        else:
            answer = operations.reject(run_id, name, reject, by=who, role=role)
    out().print(Text(_said(answer)))
    out().print(
        Text(
            "A worker resumes the run (legato worker), or: legato runs resume " + run_id,
            style="dim",
        )
    )


def _said(answer: InputAnswer) -> str:
    """What was recorded, as the flow will get it: the answer or the rejection's reason."""
    from legato.serialization import loads

    head = f"input {answer.name!r} of run {answer.run_id} {answer.decision} by {answer.answered_by}"
    value = loads(answer.payload)
    if answer.decision == "rejected":
        return f"{head}: {value}"
    return f"{head}: {json.dumps(value, ensure_ascii=False)}"
