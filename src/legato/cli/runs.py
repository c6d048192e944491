"""``legato runs ...``: list, show, resume, retry, logs and cancel recorded runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from legato.cli.console import EXIT_FAILED, fail, out, user_errors, write_json
from legato.cli.options import DbOption, JsonOption, open_cli_store, open_operations, operator
from legato.states import RunState

if TYPE_CHECKING:
    from legato.records import RunRecord
    from legato.store.base import Store

runs_app = typer.Typer(
    name="runs",
    help="Inspect and act on recorded runs.\n\nExample: legato runs list --state failed",
    no_args_is_help=True,
)

RunIdArgument = Annotated[
    str, typer.Argument(metavar="RUN_ID", help="The run's id, as legato run printed it.")
]


@runs_app.command("list")
def list_command(
    ctx: typer.Context,
    state: Annotated[
        RunState | None,
        typer.Option("--state", "-s", help="Only runs in this state.", case_sensitive=False),
    ] = None,
    flow: Annotated[
        str | None, typer.Option("--flow", "-f", metavar="NAME", help="Only runs of this flow.")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="At most this many runs, newest first.")
    ] = 20,
    deployment: Annotated[
        str | None,
        typer.Option("--deployment", "-d", metavar="NAME", help="Only runs this deployment fired."),
    ] = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """List runs, newest first.

    Example: legato runs list --state failed --flow etl --limit 5
    """
    from legato.cli.render import run_json, runs_table
    from legato.records import RunFilter

    store = open_cli_store(ctx, db)
    with user_errors():
        if deployment is None:
            runs = store.list_runs(RunFilter(state=state, flow_name=flow, limit=limit))
        else:
            from legato.cli.deploy import deployment_runs

            runs = deployment_runs(store, deployment, state=state, flow=flow, limit=limit)
    if json_output:
        write_json([run_json(run) for run in runs])
    elif not runs:
        out().print(Text("No runs match.", style="dim"))
    else:
        out().print(runs_table(runs, width=out().width))


@runs_app.command("show")
def show_command(
    ctx: typer.Context,
    run_id: RunIdArgument,
    everything: Annotated[
        bool, typer.Option("--all", "-a", help="Every step and event, nothing folded.")
    ] = False,
    traceback: Annotated[
        bool, typer.Option("--traceback", "-t", help="Full tracebacks of failures.")
    ] = False,
    full: Annotated[
        bool, typer.Option("--full", help="Parameters and result whole, not shortened.")
    ] = False,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show a run: its details, history and tree of steps.

    Child runs are nested under the step that started them. Long parameters and results
    are shortened: --full, --json or legato runs result show them whole.

    Example: legato runs show 01j2x3y4z5abcdefghjkmnpqrs --traceback
    """
    from legato.cli.render import event_json, run_tree_json, show_run

    store = open_cli_store(ctx, db)
    with user_errors():
        run = store.get_run(run_id)
        if json_output:
            data = run_tree_json(store, run)
            data["events"] = [event_json(e) for e in store.get_events(run_id)]
            write_json(data)
            return
        out().print(show_run(store, run, everything=everything, traceback=traceback, full=full))


@runs_app.command("result")
def result_command(ctx: typer.Context, run_id: RunIdArgument, db: DbOption = None) -> None:
    """Print a completed run's result as JSON on stdout, whole.

    Dataclasses and models print as objects of their fields. A run that has no result
    (failed, cancelled, not finished) is an error that says why (exit 1).

    Example: legato runs result 01j2x3y4z5abcdefghjkmnpqrs > result.json
    """
    from legato.cli.render import stored_json

    store = open_cli_store(ctx, db)
    with user_errors():
        run = store.get_run(run_id)
    if run.state is not RunState.COMPLETED:
        fail(_no_result(run), EXIT_FAILED)
    if run.serializer != "json":
        fail(
            f"run {run_id}'s result is stored with the {run.serializer} serializer, which "
            f"the CLI does not load; load it in Python: legato.get_run({run_id!r}).result()",
            EXIT_FAILED,
        )
    write_json(stored_json(run.result, run.serializer))


def _no_result(run: RunRecord) -> str:
    """Why ``runs result`` has nothing to print, and what to do."""
    run_id, state = run.run_id, run.state.value
    if run.state is RunState.FAILED:
        why = f": {run.error.summary()}" if run.error is not None else ""
        return f"run {run_id} failed{why}; see legato runs show {run_id} --traceback"
    if run.state is RunState.CANCELLED:
        return f"run {run_id} was cancelled, so it has no result; see legato runs show {run_id}"
    return (
        f"run {run_id} is {state}, so it has no result yet; ask again once it has completed "
        f"(legato runs show {run_id} shows where it is)"
    )


@runs_app.command("resume")
def resume_command(
    ctx: typer.Context,
    run_id: RunIdArgument,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Resume an interrupted or crashed run here, in the foreground.

    Completed steps are replayed from the store, not run again.

    The rest runs with the same live view and exit codes as legato run.

    Example: legato runs resume 01j2x3y4z5abcdefghjkmnpqrs
    """
    _continue(ctx, run_id, db=db, json_output=json_output, retry_failed=False)


@runs_app.command("retry")
def retry_command(
    ctx: typer.Context,
    run_id: Annotated[
        str | None,
        typer.Argument(metavar="[RUN_ID]", help="The failed run; omit it to retry in bulk."),
    ] = None,
    from_step: Annotated[
        str | None,
        typer.Option(
            "--from", metavar="STEP_KEY", help="Also re-run this step and the later ones."
        ),
    ] = None,
    flow: Annotated[
        str | None,
        typer.Option("--flow", "-f", metavar="NAME", help="Bulk: retry failed runs of this flow."),
    ] = None,
    state: Annotated[
        RunState | None,
        typer.Option(
            "--state", "-s", help="Bulk: only 'failed' can be retried.", case_sensitive=False
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="Bulk: at most this many.")
    ] = 100,
    to_queue: Annotated[
        bool,
        typer.Option("--queue", help="Hand the run(s) back to the queue for a worker to retry."),
    ] = False,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Retry a failed run by replay (or every failed run of a flow).

    Completed steps keep their results; the failed step and what follows run again, with
    the code as it is now (a fix deployed meanwhile is used). --from re-runs an earlier
    step too.

    Example: legato runs retry 01j2x3y4z5abcdefghjkmnpqrs --from charge#0
    Example: legato runs retry --flow etl --state failed
    """
    if to_queue:
        if from_step is not None:
            fail("--from runs in the foreground: drop --queue to use it")
        _requeue(ctx, run_id, flow, state, limit=limit, db=db)
        return
    if run_id is not None:
        if flow is not None or state is not None:
            fail("give either a RUN_ID or --flow/--state for a bulk retry, not both")
        _continue(
            ctx, run_id, db=db, json_output=json_output, retry_failed=True, from_step=from_step
        )
        return
    if flow is None or state is not RunState.FAILED:
        fail("name the run to retry, or retry in bulk with --flow NAME --state failed")
    if from_step is not None:
        fail("--from applies to one run: name its RUN_ID")
    _retry_all(ctx, flow, limit=limit, db=db)


def _requeue(
    ctx: typer.Context,
    run_id: str | None,
    flow: str | None,
    state: RunState | None,
    *,
    limit: int,
    db: str | None,
) -> None:
    """Hand failed runs back to the queue; workers retry them by replay."""
    from legato.errors import RunStateError
    from legato.records import RunFilter

    operations = open_operations(ctx, db)
    if run_id is None and (flow is None or state is not RunState.FAILED):
        fail("name the run to requeue, or requeue in bulk with --flow NAME --state failed")
    by = operator()
    requeued: list[str] = []
    with user_errors():
        if run_id is not None:
            requeued.append(operations.requeue(run_id, by=by).after.run_id)
        else:
            found = operations.store.list_runs(
                RunFilter(state=RunState.FAILED, flow_name=flow, limit=limit)
            )
            for run in found:
                try:
                    requeued.append(operations.requeue(run.run_id, by=by).after.run_id)
                except RunStateError:
                    continue  # retried or requeued by someone else meanwhile
    for i in requeued:
        out().print(i)
    out().print(Text(f"{len(requeued)} run(s) back in the queue for a worker", style="dim"))


def _retry_all(ctx: typer.Context, flow: str, *, limit: int, db: str | None) -> None:
    """Retry each failed run of ``flow`` in turn, in the foreground; a summary at the end."""
    from legato.errors import LegatoError
    from legato.records import RunFilter

    operations = open_operations(ctx, db)
    with user_errors():
        runs = operations.store.list_runs(
            RunFilter(state=RunState.FAILED, flow_name=flow, limit=limit)
        )
    by = operator()
    if not runs:
        out().print(Text(f"No failed runs of flow {flow!r}.", style="dim"))
        return
    outcomes: dict[str, int] = {}
    for run in reversed(runs):  # oldest first
        try:
            handle = operations.retry(run.run_id, by=by)
            state_now = handle.state.value
        except LegatoError as exc:
            state_now = "not retried"
            out().print(Text(f"{run.run_id}: {exc}", style="red"))
        outcomes[state_now] = outcomes.get(state_now, 0) + 1
        out().print(f"{run.run_id}  {state_now}")
    summary = ", ".join(f"{count} {name}" for name, count in sorted(outcomes.items()))
    out().print(Text(f"retried {len(runs)} runs of {flow}: {summary}", style="bold"))
    if outcomes.get("completed", 0) != len(runs):
        raise typer.Exit(1)


def _continue(
    ctx: typer.Context,
    run_id: str,
    *,
    db: str | None,
    json_output: bool,
    retry_failed: bool,
    from_step: str | None = None,
) -> None:
    from legato.cli.foreground import follow

    operations = open_operations(ctx, db)
    store = operations.store
    with user_errors():
        run = store.get_run(run_id)
    if run.state is RunState.COMPLETED and not retry_failed:
        _already_completed(store, run, json_output=json_output)
        return
    by = operator()

    def start() -> Any:
        if retry_failed:
            return operations.retry(run_id, from_step=from_step, by=by)
        return operations.resume(run_id, by=by)

    follow(start, store=store, flow_name=run.flow_name, run_id=run_id, json_output=json_output)


def _already_completed(store: Store, run: RunRecord, *, json_output: bool) -> None:
    """``runs resume`` of a completed run: say that nothing ran, and show its result."""
    from legato.cli.console import err
    from legato.cli.foreground import outcome
    from legato.cli.render import format_time
    from legato.cli.values import plain_json
    from legato.engine.handles import RunHandle

    with user_errors():
        value = RunHandle(run.run_id, store).result()
    note = Text(
        f"Run {run.run_id} had already completed ({format_time(run.finished_at)}); "
        "nothing ran again.",
        style="yellow",
    )
    if json_output:
        err().print(note)
        write_json(
            {
                "run_id": run.run_id,
                "flow": run.flow_name,
                "state": run.state.value,
                "result": plain_json(value),
                "error": None,
            }
        )
        return
    out().print(note)
    out().print(outcome(run, value))


@runs_app.command("pause")
def pause_command(
    ctx: typer.Context,
    run_id: RunIdArgument,
    reason: Annotated[str | None, typer.Option("--reason", help="Why; kept in history.")] = None,
    db: DbOption = None,
) -> None:
    """Pause a run: at once if it is pending or waiting, at its next step if running.

    Example: legato runs pause 01j2x3y4z5abcdefghjkmnpqrs --reason "supplier outage"
    """
    _pause(ctx, run_id, True, reason=reason, db=db)


@runs_app.command("unpause")
def unpause_command(
    ctx: typer.Context,
    run_id: RunIdArgument,
    reason: Annotated[str | None, typer.Option("--reason", help="Why; kept in history.")] = None,
    db: DbOption = None,
) -> None:
    """Put a paused run back in its queue; a worker resumes it by replay.

    Example: legato runs unpause 01j2x3y4z5abcdefghjkmnpqrs
    """
    _pause(ctx, run_id, False, reason=reason, db=db)


def _pause(
    ctx: typer.Context, run_id: str, paused: bool, *, reason: str | None, db: str | None
) -> None:
    operations = open_operations(ctx, db)
    act = operations.pause if paused else operations.unpause
    with user_errors():
        change = act(run_id, reason=reason, by=operator())
    out().print(f"run {run_id} is {change.after.state.value}")


@runs_app.command("logs")
def logs_command(
    ctx: typer.Context,
    run_id: RunIdArgument,
    step: Annotated[
        str | None,
        typer.Option("--step", metavar="KEY", help="Only this step's logs, e.g. fetch#0."),
    ] = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show what a run's steps logged, oldest first.

    Steps log through get_run_context().logger.

    Example: legato runs logs 01j2x3y4z5abcdefghjkmnpqrs --step fetch#0
    """
    from legato.cli.render import log_json, logs_table

    store = open_cli_store(ctx, db)
    with user_errors():
        store.get_run(run_id)
        if step is not None:
            keys = [s.key for s in store.get_steps(run_id)]
            if step not in keys:
                shown = ", ".join(keys[:10]) + (" …" if len(keys) > 10 else "")
                fail(f"run {run_id} has no step {step!r}; its steps: {shown or 'none yet'}")
        logs = store.get_logs(run_id, step_key=step)
    if json_output:
        write_json([log_json(log) for log in logs])
    elif not logs:
        where = f"step {step} of run {run_id}" if step else f"run {run_id}"
        out().print(Text(f"No logs for {where}.", style="dim"))
    else:
        out().print(logs_table(logs))


@runs_app.command("cancel")
def cancel_command(
    ctx: typer.Context,
    run_id: RunIdArgument,
    reason: Annotated[
        str | None, typer.Option("--reason", "-r", metavar="TEXT", help="Recorded with it.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Cancel a run.

    A process executing it stops at its next step boundary.

    Example: legato runs cancel 01j2x3y4z5abcdefghjkmnpqrs --reason "wrong input"
    """
    operations = open_operations(ctx, db)
    with user_errors():
        # Cancels have always named the CLI as well as the user: kept so.
        change = operations.cancel(run_id, reason=reason, by=f"{operator()} (cli)")
    before = change.before
    message = Text(f"Cancelled run {run_id} (flow {before.flow_name}).", style="green")
    if before.state is RunState.RUNNING:
        message.append(" The process executing it stops at its next step boundary.")
    out().print(message)
