"""Triggers: how fast an event, a webhook and a file start a run, how late schedules fire,
and how many interval deployments one scheduler keeps on time.

On SQLite and on PostgreSQL (when reachable), prints each figure beside its goal and
asserts nothing:

- event -> first step (``legato.send_event`` from another process, and POST
  /api/v1/events), webhook -> first step (POST /hooks/PATH): p50/p99 over N (200) each,
  with ``legato up`` running as a subprocess; the first step's ``started_at`` in the
  run's history minus the moment just before sending;
- cron lateness: a cron with seconds on ``legato up`` for a while; each run's
  ``created_at`` minus its scheduled fire time;
- file -> first step: ``FileArrivals`` + ``start_run`` + a worker, IN-PROCESS (the
  scheduler does not drive file sources yet in this branch); each file is written under
  a hidden name and renamed into the watched folder;
- scale: 1,000 and 10,000 ``Every`` deployments (60 s + i ms: fires spread over the
  minute), the ``Scheduler.run`` loop IN-PROCESS on a real clock without a worker (the
  figure is the scheduler's alone): round durations and lateness p50/p99 (end of the
  round or quick round that recorded the fire minus its scheduled time: an upper
  bound). A first round before the loop (timed apart) parses every deployment and
  fires what fell due while they were being saved.

``LEGATO_BENCH_N`` changes the 200; ``LEGATO_BENCH_SCALE_S`` the seconds per scale run;
``LEGATO_BENCH_PARTS`` (``up,files,scale``) which parts run; arguments ``sqlite`` or
``postgres`` run one backend only.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
FLOWS = HERE / "bench_flows.py"
TARGET = f"{FLOWS}:triggered"
LEGATO = Path(sys.executable).with_name("legato")
N = int(os.environ.get("LEGATO_BENCH_N", "200"))
SCALE_SECONDS = float(os.environ.get("LEGATO_BENCH_SCALE_S", "20"))
CRON_SECONDS = 20
PARTS = os.environ.get("LEGATO_BENCH_PARTS", "up,files,scale").split(",")


def now() -> datetime:
    return datetime.now(UTC)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def report(what: str, label: str, delays: list[float], goals: str) -> None:
    ms = [d * 1e3 for d in delays]
    print(
        f"{what}/{label}: p50 {statistics.median(ms):.1f} ms, p99 {pct(ms, 0.99):.1f} ms, "
        f"max {max(ms):.1f} ms over {len(ms)}   (goal: {goals})",
        flush=True,
    )


def first_step_started(store: Any, run_id: str, timeout: float = 30.0) -> datetime:
    """The first step's ``started_at`` once the run's history has it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for step in store.get_steps(run_id):
            if step.started_at is not None:
                return step.started_at  # type: ignore[no-any-return]
        time.sleep(0.0005)
    raise TimeoutError(f"run {run_id}: no step started within {timeout} s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def legato_up(url: str) -> Iterator[int]:
    """``legato up`` on ``url`` in a subprocess; yields its HTTP port."""
    port = free_port()
    env = {**os.environ, "LEGATO_DB": url}
    proc = subprocess.Popen(
        [str(LEGATO), "up", "--port", str(port), "--concurrency", "8", "--grace", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError as exc:
                if proc.poll() is not None or time.monotonic() > deadline:
                    message = f"legato up did not start (exit {proc.returncode})"
                    raise RuntimeError(message) from exc
                time.sleep(0.1)
        time.sleep(1.0)  # the scheduler's first tick, the worker's first poll
        yield port
    finally:
        proc.terminate()
        proc.wait(30)


def fire_of(store: Any, deployment: str, key: str, timeout: float = 30.0) -> str:
    """The run id the fire ``key`` of ``deployment`` started, once recorded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for fire in store.list_fires(deployment, limit=5):
            if fire.key == key and fire.run_id:
                return str(fire.run_id)
        time.sleep(0.0005)
    raise TimeoutError(f"deployment {deployment}: fire {key} not recorded within {timeout} s")


def post(conn: http.client.HTTPConnection, path: str, body: Any) -> dict[str, Any]:
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    answer = conn.getresponse()
    data = answer.read()
    if answer.status >= 300:
        raise RuntimeError(f"POST {path}: {answer.status} {data[:200]!r}")
    return dict(json.loads(data))


# -- with legato up -------------------------------------------------------------------


def bench_up(url: str, label: str) -> None:
    import legato
    from legato import Cron, OnEvent, Webhook
    from legato.store import open_store

    store = open_store(url)
    legato.deploy(TARGET, name="on-event", triggers=[OnEvent("bench.ping")], store=store)
    legato.deploy(TARGET, name="on-api-event", triggers=[OnEvent("bench.api")], store=store)
    legato.deploy(TARGET, name="on-hook", triggers=[Webhook("bench")], store=store)
    try:
        with legato_up(url) as port:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            delays = []
            for i in range(N):
                sent = now()
                event_id = legato.send_event("bench.ping", {"i": i}, store=store)
                run_id = fire_of(store, "on-event", f"event:{event_id}")
                delays.append((first_step_started(store, run_id) - sent).total_seconds())
            report("event (send_event) -> first step", label, delays, "p50 < 10, p99 < 50 ms")
            delays = []
            for i in range(N):
                sent = now()
                sent_event = post(conn, "/api/v1/events", {"name": "bench.api", "data": {"i": i}})
                run_id = fire_of(store, "on-api-event", f"event:{sent_event['event_id']}")
                delays.append((first_step_started(store, run_id) - sent).total_seconds())
            report("event (POST /api/v1/events) -> first step", label, delays, "as above")
            delays = []
            for i in range(N):
                sent = now()
                run_id = post(conn, "/hooks/bench", {"i": i})["run_id"]
                delays.append((first_step_started(store, run_id) - sent).total_seconds())
            report("webhook -> first step", label, delays, "p50 < 10, p99 < 50 ms")
            conn.close()
            legato.deploy(TARGET, name="every-second", triggers=[Cron("* * * * * *")], store=store)
            time.sleep(CRON_SECONDS)
            fires = store.list_fires("every-second", limit=1000)
            late = []
            for fire in fires:
                run = store.get_run(fire.run_id)
                late.append((run.created_at - fire.fired_at).total_seconds())
            report("cron lateness (run created - scheduled)", label, late, "p99 < 100 ms")
    finally:
        store.close()


# -- in-process -----------------------------------------------------------------------


@contextmanager
def worker_thread(store: Any) -> Iterator[None]:
    from legato.executors import executor_from_url
    from legato.worker import Worker, WorkerOptions

    worker = Worker(
        store, options=WorkerOptions(concurrency=8), executor=executor_from_url("threads")
    )
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(30)


def bench_files(url: str, label: str, folder: Path) -> None:
    import legato
    from legato import OnFile
    from legato.scheduler.firing import start_run
    from legato.scheduler.sources.file_arrivals import FileArrivals
    from legato.store import open_store

    store = open_store(url)
    deployment = legato.deploy(
        TARGET, name="on-file", triggers=[OnFile(str(folder), pattern="*.csv")], store=store
    )

    def emit(fire: Any) -> str:
        run, _ = start_run(
            store,
            deployment,
            key=fire.key,
            kind=fire.kind,
            fired_at=fire.fired_at,
            payload=json.loads(fire.payload),
        )
        return str(run.run_id)

    source = FileArrivals(folder, "*.csv", "on-file", emit)
    source.start()
    try:
        with worker_thread(store):
            time.sleep(0.5)
            delays = []
            for i in range(N):
                hidden = folder / f".f{i}.csv.part"
                sent = now()
                hidden.write_text(f"a,b\n{i},{i}\n")
                hidden.rename(folder / f"f{i}.csv")
                run_id = None
                deadline = time.monotonic() + 30
                while run_id is None and time.monotonic() < deadline:
                    for fire in store.list_fires("on-file", limit=3):
                        if fire.key.startswith(f"file:{folder / f'f{i}.csv'}:"):
                            run_id = fire.run_id
                    time.sleep(0.0005)
                if run_id is None:
                    raise TimeoutError(f"file f{i}.csv did not fire")
                delays.append((first_step_started(store, run_id) - sent).total_seconds())
            report(
                f"file -> first step [in-process, {source.status.detail}]", label, delays, "< 1 s"
            )
    finally:
        source.stop()
        store.close()


def bench_scale(url: str, label: str, count: int) -> None:
    from legato import Every
    from legato.records import DeploymentRecord
    from legato.scheduler.deployments import deployment_store
    from legato.scheduler.service import Scheduler
    from legato.scheduler.triggers import trigger_json
    from legato.store import open_store

    store = deployment_store(open_store(url))
    created = now()
    for i in range(count):
        # 60 s plus i ms: intervals are aligned on the epoch, so distinct intervals spread
        # the fires over the minute (about count / 60 per second), as independent
        # deployments would be; the same interval everywhere would fire all at once.
        every = Every(timedelta(seconds=60, milliseconds=i))
        store.save_deployment(
            DeploymentRecord(
                name=f"every-{i}",
                flow_name="triggered",
                target=TARGET,
                queue="scale",
                triggers=json.dumps([trigger_json(every)]),
                created_at=created,
                updated_at=created,
            )
        )
    scheduler = Scheduler(store, interval=0.5)
    began = time.perf_counter()
    backlog = len(scheduler.tick())  # parses every deployment, fires what fell due meanwhile
    first = (time.perf_counter() - began) * 1e3
    ticks: list[float] = []
    late: list[float] = []

    def timed(real: Callable[..., Any], durations: list[float] | None) -> Callable[..., Any]:
        def tick(at: datetime | None = None, **options: Any) -> Any:
            began = time.perf_counter()
            fires = real(at, **options)
            ended = now()
            if durations is not None:
                durations.append(time.perf_counter() - began)
            late.extend((ended - fire.fired_at).total_seconds() for fire in fires)
            return fires

        return tick

    scheduler.tick = timed(scheduler.tick, ticks)  # type: ignore[method-assign]
    scheduler.quick_tick = timed(scheduler.quick_tick, None)  # type: ignore[method-assign]
    stop = threading.Event()
    timer = threading.Timer(SCALE_SECONDS, stop.set)
    timer.start()
    scheduler.run(stop)
    ms = [t * 1e3 for t in ticks]
    print(
        f"scale {count:,} Every(60 s + i ms)/{label}: {len(ticks)} rounds in {SCALE_SECONDS:.0f} s, "
        f"p50 {statistics.median(ms):.1f} ms, "
        f"max {max(ms):.1f} ms; "
        f"{len(late)} fires, lateness p50 {statistics.median(late) * 1e3:.0f} ms, "
        f"p99 {pct(late, 0.99) * 1e3:.0f} ms   (goal: lateness p99 < 100 ms at 10,000); "
        f"before: a first round of {first:.0f} ms parsed them all and fired the "
        f"{backlog} due while they were saved"
        if late
        else f"scale {count:,}/{label}: no fires in {SCALE_SECONDS:.0f} s",
        flush=True,
    )
    store.close()  # type: ignore[attr-defined]


def backend(label: str, url_for: Callable[[str], str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if "up" in PARTS:
            bench_up(url_for("up"), label)
        if "files" in PARTS:
            folder = Path(tmp) / "inbox"
            folder.mkdir()
            bench_files(url_for("files"), label, folder)
        if "scale" in PARTS:
            for count in (1_000, 10_000):
                bench_scale(url_for(f"scale{count}"), label, count)


def main() -> None:
    only = sys.argv[1:]
    if not only or "sqlite" in only:
        with tempfile.TemporaryDirectory() as tmp:
            backend("sqlite", lambda name: f"sqlite:///{Path(tmp) / name}.db")
    if not only or "postgres" in only:
        try:
            with _schemas() as make:
                backend("postgres", make)
        except _Unreachable:
            pass


class _Unreachable(Exception):
    pass


@contextmanager
def _schemas() -> Iterator[Callable[[str], str]]:
    """A function giving a fresh PostgreSQL schema per name (dropped afterwards)."""
    from contextlib import ExitStack

    from pg import fresh_schema

    with ExitStack() as stack:

        def make(_name: str) -> str:
            url = stack.enter_context(fresh_schema())
            if url is None:
                raise _Unreachable
            return url

        yield make


if __name__ == "__main__":
    main()
