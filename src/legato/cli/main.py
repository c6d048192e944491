"""The ``legato`` command: ``legato run`` and the ``legato runs`` group.

Every command takes ``--db URL`` (also accepted before the command, and read from
``LEGATO_DB`` otherwise). A mistake the user can fix exits 2 with one red line on
stderr, never a traceback.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from legato.cli.db import db_app
from legato.cli.deploy import deploy_command, deployments_app
from legato.cli.events import events_app
from legato.cli.inputs import approve_command, inputs_app, reject_command
from legato.cli.options import DB_HELP
from legato.cli.queue import limits_app, submit_command, worker_command, workers_app
from legato.cli.run import run_command
from legato.cli.runs import runs_app
from legato.cli.scheduler import scheduler_command, up_command
from legato.cli.server import server_command
from legato.cli.tokens import tokens_app

KEEP_LINE_PREFIXES = ("Example:", " ", "- ", "* ", "\b")  # lines that start their own line


def reflow(text: str) -> str:
    """Join the lines of each paragraph of a docstring into one line, so that the help
    screen wraps it to the terminal's width instead of also breaking where the source
    did. Examples and indented or listed lines keep their own lines."""
    paragraphs = []
    for paragraph in text.split("\n\n"):
        lines: list[str] = []
        for line in paragraph.splitlines():
            if lines and not line.startswith(KEEP_LINE_PREFIXES):
                lines[-1] = f"{lines[-1]} {line.strip()}"
            else:
                lines.append(line)
        paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs)


def _reflow_help(command: Any) -> None:
    """Reflow ``command``'s help and its subcommands' (typer's own click commands)."""
    if command.help:
        command.help = reflow(command.help)
    for sub in getattr(command, "commands", {}).values():
        _reflow_help(sub)


class LegatoGroup(TyperGroup):
    """The root command: every command's help reflowed (see ``reflow``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _reflow_help(self)


app = typer.Typer(
    name="legato",
    cls=LegatoGroup,
    help=(
        "legato: durable workflows for Python.\n\n"
        "Example: legato run flows.py:etl -p day=2024-05-01"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold secrets
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("run", no_args_is_help=True)(run_command)
app.add_typer(runs_app, name="runs")
app.command("submit", no_args_is_help=True)(submit_command)
app.command("worker")(worker_command)
app.add_typer(workers_app, name="workers")
app.add_typer(limits_app, name="limits")
app.add_typer(events_app, name="events")
app.add_typer(inputs_app, name="inputs")
app.command("approve", no_args_is_help=True)(approve_command)
app.command("reject", no_args_is_help=True)(reject_command)
app.add_typer(db_app, name="db")
app.command("deploy")(deploy_command)
app.add_typer(deployments_app, name="deployments")
app.command("scheduler")(scheduler_command)
app.command("up")(up_command)
app.command("server")(server_command)
app.add_typer(tokens_app, name="tokens")


def _version(value: bool) -> None:
    if value:
        from legato import __version__

        typer.echo(f"legato {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    db: Annotated[
        str | None, typer.Option("--db", metavar="URL", help=DB_HELP, show_default=False)
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print legato's version."),
    ] = False,
) -> None:
    ctx.obj = {"db": db}


def main() -> None:
    """The console script's entry point."""
    app()


if __name__ == "__main__":
    main()
