"""``legato scheduler`` (fire deployments' triggers) and ``legato up`` (scheduler and
worker in one process; the HTTP server joins them when it lands)."""

from __future__ import annotations

import signal
import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.text import Text

from legato.cli.console import out, user_errors
from legato.cli.options import DbOption, GraceOption, HostOption, PortOption, open_cli_store

if TYPE_CHECKING:
    import uvicorn

    from legato.server.api.deps import ServerStore


def _stop_on_signals() -> threading.Event:
    """An event set by the first SIGTERM or Ctrl-C; a second one interrupts at once."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stop


def _scheduler(store: Any, lease: float, interval: float) -> Any:
    from legato.scheduler.deployments import deployment_store
    from legato.scheduler.service import Scheduler
    from legato.scheduler.sources.board import StatusBoard
    from legato.settings import load_settings

    with user_errors():
        return Scheduler(
            deployment_store(store),  # type: ignore[arg-type]
            lease=timedelta(seconds=lease),
            interval=interval,
            board=StatusBoard(load_settings().home / "sources", store.url),
        )


def scheduler_command(
    ctx: typer.Context,
    lease: Annotated[
        float, typer.Option("--lease", min=1, help="Seconds the active scheduler's lease lasts.")
    ] = 10.0,
    interval: Annotated[
        float, typer.Option("--interval", min=0.01, help="Seconds between rounds.")
    ] = 0.5,
    db: DbOption = None,
) -> None:
    """Fire the deployments' schedules, events and run completions until SIGTERM or
    Ctrl-C. Several may run on one store: one fires, the others stand by and take over
    within --lease seconds when it dies.

    Example: legato scheduler --db postgresql://legato@db/legato
    """
    from legato.cli.queue import _log_to_stderr

    store = open_cli_store(ctx, db, create=True)
    scheduler = _scheduler(store, lease, interval)
    stop = _stop_on_signals()
    out().print(Text(f"scheduler {scheduler.holder} on {store.url}"))
    _log_to_stderr(20)
    with user_errors():
        scheduler.run(stop)
    out().print(Text(f"scheduler {scheduler.holder} stopped", style="dim"))


def up_command(
    ctx: typer.Context,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="Runs executed at once.")
    ] = 4,
    lease: Annotated[
        float, typer.Option("--lease", min=1, help="Scheduler lease, seconds.")
    ] = 10.0,
    grace: GraceOption = 30.0,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8400,
    db: DbOption = None,
) -> None:
    """Run everything on this machine in one process: the scheduler, a worker and the
    HTTP server (web UI at /ui/, REST API, webhooks on /hooks/PATH). Ctrl-C or SIGTERM
    stops firing, gives running runs --grace seconds and hands the rest back.

    Example: legato up --concurrency 8 --port 8400
    """
    from legato.cli.queue import _log_to_stderr
    from legato.executors import executor_from_url
    from legato.settings import load_settings
    from legato.worker import Worker, WorkerOptions

    store = open_cli_store(ctx, db, create=True)
    scheduler = _scheduler(store, lease, 0.5)
    with user_errors():
        worker = Worker(
            store,
            options=WorkerOptions(
                concurrency=concurrency,
                grace=grace,
                recovery_limit=load_settings().recovery_limit,
            ),
            executor=executor_from_url("threads"),
        )
    from legato.cli.server import http_server

    http = http_server(cast("ServerStore", store), host=host, port=port)
    stop = _stop_on_signals()
    services = [
        threading.Thread(target=scheduler.run, args=(stop,), name="legato-scheduler"),
        threading.Thread(target=http.run, name="legato-http"),
        threading.Thread(target=_stop_http, args=(stop, http), name="legato-http-stop"),
    ]
    out().print(
        Text(
            f"legato up on {store.url}: scheduler, worker {worker.id} (concurrency "
            f"{concurrency}), http://{host}:{port}/ui/"
        )
    )
    _log_to_stderr(20)
    for service in services:
        service.start()
    with user_errors():
        worker.run(stop)
    for service in services:
        service.join()
    out().print(Text("legato up stopped", style="dim"))


def _stop_http(stop: threading.Event, http: uvicorn.Server) -> None:
    """Stop the HTTP server once everything else is told to stop."""
    stop.wait()
    http.should_exit = True
