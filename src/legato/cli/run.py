"""``legato run TARGET``: start a flow in the foreground with parameters from -p."""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING, Annotated, Any

import typer

from legato.cli.console import EXIT_INTERRUPTED, EXIT_USAGE, err, fail
from legato.cli.options import DbOption, JsonOption, open_operations, operator

if TYPE_CHECKING:
    from legato.engine.definitions import Flow

TARGET_HELP = "The flow: path/to/file.py:flow_name or package.module:flow_name."
PARAM_HELP = (
    "A parameter, converted by the flow's type hints (JSON for lists, dicts and models). "
    "NAME=@FILE reads the value from FILE. Repeat for each."
)


def run_command(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(metavar="TARGET", help=TARGET_HELP, show_default=False)],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", metavar="NAME=VALUE", help=PARAM_HELP, show_default=False),
    ] = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Run a flow here, in the foreground, and show its steps live.

    Exit code: 0 completed, 1 failed, 2 usage error, 3 waiting or paused, 4 cancelled, 130
    interrupted (Ctrl-C).

    Ctrl-C pauses the run (no worker takes it up): continue it with legato runs resume
    RUN_ID, or hand it to a worker with legato runs unpause RUN_ID.

    Example: legato run flows/etl.py:etl -p day=2024-05-01 -p 'tables=["users"]'
    """
    from legato.cli.foreground import follow

    try:
        flow = load_flow(target)
        args, kwargs = flow_arguments(flow, param or [], target=target)
    except KeyboardInterrupt:
        err().print("Interrupted before the run started; nothing was recorded.")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    # What the flow starts, submits or sends without naming a store lands in this one:
    # inside a run, the default store is the run's (engine.context.resolve_store).
    operations = open_operations(ctx, db, create=True)
    by = operator()

    def start() -> Any:
        return operations.start(flow, args, kwargs, by=by)

    follow(start, store=operations.store, flow_name=flow.name, json_output=json_output)


def load_flow(target: str) -> Flow[Any, Any]:
    """Import the flow; any failure (bad target, error in the module) exits 2."""
    from legato.engine.targets import load_target
    from legato.errors import DefinitionError

    try:
        flow: Flow[Any, Any] = load_target(target)
    except DefinitionError as exc:
        fail(str(exc))
    except SyntaxError as exc:
        fail(f"cannot load {target}: {type(exc).__name__}: {exc}")
    except Exception as exc:  # noqa: BLE001 - the user's module failed while importing
        fail(f"cannot load {target}: {type(exc).__name__}: {exc}{_where(exc)}")
    return flow


def flow_arguments(
    flow: Flow[Any, Any], assignments: list[str], *, target: str
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The flow's arguments from ``-p`` texts; a wrong parameter exits 2 with the list of
    the flow's parameters, before anything is written."""
    from legato.cli.params import convert_params, describe_params, parse_assignments
    from legato.errors import ParameterError

    try:
        texts = parse_assignments(assignments)
        return convert_params(flow, texts, target=target)
    except ParameterError as exc:
        first, _, rest = str(exc).partition("\n")
        fail(first, EXIT_USAGE, details=rest or describe_params(flow))


def _where(exc: BaseException) -> str:
    """`` (at file.py:12)`` for the innermost frame of the exception, if there is one."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<")]
    if not frames:
        return ""
    frame = frames[-1]
    return f" (at {frame.filename}:{frame.lineno})"
