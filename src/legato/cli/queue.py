"""``legato submit``, ``legato worker``, ``legato workers list``, ``legato limits``: the
run queue from the terminal."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from legato.cli.console import err, fail, out, user_errors, write_json
from legato.cli.options import (
    DbOption,
    GraceOption,
    JsonOption,
    open_cli_store,
    open_operations,
    operator,
)
from legato.cli.run import PARAM_HELP, TARGET_HELP, flow_arguments, load_flow

if TYPE_CHECKING:
    from legato.store.base import Store


def submit_command(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(metavar="TARGET", help=TARGET_HELP, show_default=False)],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", metavar="NAME=VALUE", help=PARAM_HELP, show_default=False),
    ] = None,
    queue: Annotated[
        str | None, typer.Option("--queue", "-q", help="Queue to wait in (default: the flow's).")
    ] = None,
    priority: Annotated[
        int | None, typer.Option("--priority", help="Higher runs first (default: the flow's).")
    ] = None,
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            "--idempotency-key", "-k", help="Submitting again with this key returns that run."
        ),
    ] = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Put a run in the queue for a worker and print its id.

    Example: legato submit flows/etl.py:etl -p day=2024-05-01 --queue nightly -k etl-2024-05-01
    """
    flow = load_flow(target)
    args, kwargs = flow_arguments(flow, param or [], target=target)
    operations = open_operations(ctx, db, create=True)
    with user_errors():
        submitted = operations.submit(
            flow,
            args,
            kwargs,
            queue=queue,
            priority=priority,
            idempotency_key=idempotency_key,
            by=operator(),
        )
        record = operations.store.get_run(submitted.run.run_id)
    if json_output:
        write_json({"run_id": record.run_id, "flow": record.flow_name, "state": record.state})
    else:
        out().print(record.run_id)
    _warn_if_unserved(operations.store, record.queue)


LIVE_WORKER = timedelta(minutes=2)  # a worker heard from this recently counts as live


def _warn_if_unserved(store: Store, queue: str) -> None:
    """A run in a queue no live worker takes from waits forever: say so (a warning, not
    an error: the worker may simply not be started yet)."""
    from legato.clock import utcnow

    now = utcnow()
    live = [w for w in store.list_workers() if now - w.heartbeat_at < LIVE_WORKER]
    if any(queue in w.queues for w in live):
        return
    served = sorted({q for w in live for q in w.queues})
    where = f"live workers take from: {', '.join(served)}" if served else "no worker is live"
    err().print(
        Text(
            f"warning: no live worker takes runs from queue {queue!r} ({where}). "
            f"Start one with: legato worker --queue {queue}",
            style="yellow",
        )
    )


def worker_command(
    ctx: typer.Context,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="Runs executed at once.")
    ] = 4,
    queue: Annotated[
        list[str] | None,
        typer.Option("--queue", "-q", help="Queue to take runs from; repeat for several."),
    ] = None,
    lease: Annotated[
        float, typer.Option("--lease", min=1, help="Seconds a claim lasts without renewal.")
    ] = 30.0,
    poll: Annotated[
        float, typer.Option("--poll", min=0.01, help="Seconds between looks for new runs.")
    ] = 0.5,
    grace: GraceOption = 30.0,
    executor: Annotated[
        str, typer.Option("--executor", help="Where task bodies run: threads, dask://HOST:PORT.")
    ] = "threads",
    quiet: Annotated[
        bool, typer.Option("--quiet", help="Log only failures and lost leases.")
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", help="Also log every step transition and what steps log."),
    ] = False,
    summary_every: Annotated[
        float,
        typer.Option(
            "--summary-every",
            min=0,
            metavar="SECONDS",
            help="Seconds between one-line summaries of the counts; 0 for none.",
        ),
    ] = 60.0,
    db: DbOption = None,
) -> None:
    """Claim runs from the queue and execute them, until SIGTERM or Ctrl-C.

    It logs one line on stderr per claim, outcome (completed, failed, waiting...), retry
    and lost lease, each with the run id and flow, and a summary of the counts every
    --summary-every seconds.

    On SIGTERM it stops claiming, gives running runs --grace seconds to reach their next
    step, and hands the rest back to the queue for another worker.

    Example: legato worker --concurrency 8 --queue default --queue nightly
    """
    from legato.executors import executor_from_url
    from legato.notifications.channels import configured_channels
    from legato.settings import load_settings
    from legato.worker import Worker, WorkerOptions

    if quiet and verbose:
        fail("--quiet and --verbose contradict each other: give one of them")
    store = open_cli_store(ctx, db, create=True)
    with user_errors():
        try:
            configured_channels()  # a bad LEGATO_NOTIFY_* fails now, not at the first failure
        except ValueError as exc:
            fail(str(exc))
        chosen = executor_from_url(executor)
        worker = Worker(
            store,
            options=WorkerOptions(
                concurrency=concurrency,
                queues=tuple(queue or ("default",)),
                lease=timedelta(seconds=lease),
                poll_interval=poll,
                grace=grace,
                recovery_limit=load_settings().recovery_limit,  # checked by open_cli_store
                summary_every=summary_every or None,
            ),
            executor=chosen,
        )
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        if stop.is_set():  # a second signal: do not wait for the grace period
            raise KeyboardInterrupt
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    queues = ", ".join(worker.options.queues)
    out().print(
        Text(f"worker {worker.id} on {store.url}: queues {queues}, concurrency {concurrency}")
    )
    _log_to_stderr(logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO)
    with user_errors():
        worker.run(stop)
    out().print(Text(f"worker {worker.id} stopped", style="dim"))


def _log_to_stderr(level: int) -> None:
    """Show legato's log lines (the worker's activity, warnings from the store) on
    stderr, one timestamped line each; what steps log only at DEBUG (--verbose)."""
    from legato.engine.context import STEP_LOGGER

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%Y-%m-%d %H:%M:%S")
    )
    if level > logging.DEBUG:
        handler.addFilter(lambda record: not record.name.startswith(STEP_LOGGER))
    root = logging.getLogger("legato")
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False  # a flow that configures logging does not print these twice


workers_app = typer.Typer(
    name="workers", help="Live workers.\n\nExample: legato workers list", no_args_is_help=True
)


@workers_app.command("list")
def workers_list_command(
    ctx: typer.Context, db: DbOption = None, json_output: JsonOption = False
) -> None:
    """Workers with their last heartbeat and the runs they execute.

    Example: legato workers list --json
    """
    from legato.clock import utcnow

    store = open_cli_store(ctx, db)
    with user_errors():
        workers = store.list_workers()
    now = utcnow()
    if json_output:
        write_json(
            [
                {
                    "worker_id": w.worker_id,
                    "host": w.host,
                    "pid": w.pid,
                    "queues": list(w.queues),
                    "concurrency": w.concurrency,
                    "heartbeat_at": w.heartbeat_at.isoformat(),
                    "seconds_since_heartbeat": round((now - w.heartbeat_at).total_seconds(), 3),
                    "running": list(w.running),
                }
                for w in workers
            ]
        )
        return
    if not workers:
        out().print(Text("No workers have reported.", style="dim"))
        return
    table = Table(box=None, header_style="bold")
    for column in ("WORKER", "QUEUES", "SLOTS", "HEARTBEAT", "RUNNING"):
        table.add_column(column)
    for w in workers:
        age = (now - w.heartbeat_at).total_seconds()
        table.add_row(
            w.worker_id,
            ", ".join(w.queues),
            f"{len(w.running)}/{w.concurrency}",
            Text(f"{age:.1f}s ago", style="red" if age > 120 else ""),
            " ".join(w.running) or "-",
        )
    out().print(table)


limits_app = typer.Typer(
    name="limits",
    help="Concurrency limits per flow or tag.\n\nExample: legato limits set flow:etl 2",
    no_args_is_help=True,
)


@limits_app.command("set")
def limits_set_command(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="flow:NAME or tag:TAG")],
    limit: Annotated[int, typer.Argument(min=0, help="Runs at most at once.")],
    db: DbOption = None,
) -> None:
    """Run at most LIMIT runs of a flow (or with a tag) at once across all workers.

    Example: legato limits set tag:gpu 1
    """
    store = open_cli_store(ctx, db, create=True)
    with user_errors():
        before = store.get_limits().get(key)
        store.set_limit(key, limit)
    was = "" if before is None else f" (was {before})"
    out().print(Text(f"Limit set: at most {limit} run(s) of {key} at once{was}."))


@limits_app.command("remove")
def limits_remove_command(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="flow:NAME or tag:TAG")],
    db: DbOption = None,
) -> None:
    """Remove a concurrency limit.

    Example: legato limits remove flow:etl
    """
    store = open_cli_store(ctx, db)
    with user_errors():
        limits = store.get_limits()
        if key not in limits:
            known = ", ".join(sorted(limits)) or "none"
            fail(f"there is no limit {key!r} to remove; limits set: {known}")
        store.set_limit(key, None)
    out().print(Text(f"Limit removed: {key} (was {limits[key]}) is no longer limited."))


@limits_app.command("list")
def limits_list_command(
    ctx: typer.Context, db: DbOption = None, json_output: JsonOption = False
) -> None:
    """Every concurrency limit.

    Example: legato limits list
    """
    store = open_cli_store(ctx, db)
    with user_errors():
        limits = store.get_limits()
    if json_output:
        write_json(limits)
    elif not limits:
        out().print(Text("No limits.", style="dim"))
    else:
        for key, value in sorted(limits.items()):
            out().print(f"{key}  {value}")
