"""The server over a big store: 100,000 runs and 1,000,000 steps, one run of 10,000.

For SQLite and PostgreSQL (when reachable), against ``legato server`` (a real uvicorn on
127.0.0.1, in its own process): p50/p99 of ``GET /api/v1/runs`` (the first page, and a
page filtered by flow and state) and of ``GET /api/v1/runs/{id}`` of the 10,000-step run;
then, in Debian's chromium (when installed), the runs page's first contentful paint and
the time until its table's first row shows, and the same for the 10,000-step run's page.
Each figure is printed beside its goal; nothing is asserted.

The store is filled directly (runs inserted in chunks, steps through the store's batch
``record``), not by executing flows: building it that way would take hours.

    python benchmarks/server.py [--runs 100000] [--steps 1000000] [--only sqlite|postgres]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from pg import fresh_schema  # noqa: E402

LEGATO = Path(sys.executable).with_name("legato")
CHROMIUM = "/usr/bin/chromium"
BIG = "run-big-10000"  # the run of 10,000 steps
BIG_STEPS = 10_000
FLOWS = 20  # runs spread over this many flows
REQUESTS = 300  # timed requests per figure, after WARMUP
WARMUP = 20
BROWSER_LOADS = 5  # page loads per browser figure (median)
API_GOAL_MS = 50.0  # p99
PAGE_GOAL_MS = 1000.0  # run page of 10,000 steps
T0 = datetime(2026, 1, 1, tzinfo=UTC)


# -- filling the store ------------------------------------------------------------------


def state_of(n: int) -> Any:
    from legato.states import RunState

    if n % 50 == 7:
        return RunState.FAILED
    if n % 97 == 3:
        return RunState.RUNNING
    return RunState.COMPLETED


def fill(store: Any, *, runs: int, steps: int) -> None:
    """``runs`` runs (one of them BIG with 10,000 steps and a history event per step)
    and ``steps`` steps in all, spread over the other runs (sequential steps)."""
    from legato.records import EventRecord, RunRecord, StepRecord
    from legato.states import StepState
    from legato.store import rows

    others = max(runs - 1, 1)
    per_run, extra = divmod(max(steps - BIG_STEPS, 0), others)
    records = [
        RunRecord(
            run_id=f"run-{n:07d}",
            flow_name=f"flow-{n % FLOWS}",
            state=state_of(n),
            params=f'{{"n": {n}}}',
            created_at=T0 + timedelta(seconds=n),
            started_at=T0 + timedelta(seconds=n),
            finished_at=T0 + timedelta(seconds=n + 3),
        )
        for n in range(others)
    ]
    records.append(
        RunRecord(
            run_id=BIG,
            flow_name="flow-big",
            state=state_of(0),
            created_at=T0 + timedelta(seconds=runs),
            started_at=T0,
            finished_at=T0 + timedelta(seconds=BIG_STEPS),
        )
    )
    insert_runs(store, [rows.run_row(run) for run in records])

    def step(run_id: str, n: int, task: str = "fetch", state: Any = StepState.COMPLETED) -> Any:
        return StepRecord(
            run_id=run_id,
            key=f"{task}#{n}",
            seq=n,
            task_name=task,
            state=state,
            attempts=1,
            started_at=T0 + timedelta(milliseconds=n),
            finished_at=T0 + timedelta(milliseconds=n + 1),
            result=str(n),
        )

    # The big run is a map between two steps: split, 9,998 fetches (1% failed), merge.
    mapped = range(1, BIG_STEPS - 1)
    batch: list[Any] = [step(BIG, 0, "split")]
    batch += [
        replace(
            step(BIG, n, "fetch", StepState.FAILED if n % 100 == 0 else StepState.COMPLETED),
            key=f"fetch#{n - 1}",
            started_at=T0 + timedelta(seconds=1),
        )
        for n in mapped
    ]
    batch.append(step(BIG, BIG_STEPS - 1, "merge"))
    batch += [
        EventRecord(run_id=BIG, at=T0, kind="step", state="completed", step_key=f"fetch#{n}")
        for n in range(BIG_STEPS)
    ]
    store.record(batch)
    batch = []
    for index, run in enumerate(records[:-1]):
        count = per_run + (1 if index < extra else 0)
        batch.extend(step(run.run_id, n) for n in range(count))
        if len(batch) >= 50_000:
            store.record(batch)
            batch = []
    store.record(batch)


def insert_runs(store: Any, run_rows: list[Any], chunk: int = 20_000) -> None:
    # The protocol creates runs one at a time (create_run); a benchmark of 100,000 runs
    # inserts them in large transactions through the SQL store's own multi-row insert.
    for start in range(0, len(run_rows), chunk):
        part = run_rows[start : start + chunk]
        store._write(
            "insert benchmark runs",
            lambda cur, part: store._insert_rows(cur, store._q.insert_run, part),
            part,
            (),
        )


# -- measuring --------------------------------------------------------------------------


@contextmanager
def served(url: str) -> Iterator[str]:
    """``legato server`` over ``url`` on a free loopback port; yields its base URL."""
    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [str(LEGATO), "server", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, "LEGATO_DB": url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"legato server over {url} did not start")
            time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(10)


def timings(base: str, path: str) -> list[float]:
    """Milliseconds per request of ``GET path``, REQUESTS of them after WARMUP."""
    import httpx

    with httpx.Client(base_url=base, timeout=30) as client:
        for _ in range(WARMUP):
            client.get(path).raise_for_status()
        took = []
        for _ in range(REQUESTS):
            start = time.perf_counter()
            client.get(path).raise_for_status()
            took.append((time.perf_counter() - start) * 1000)
    return took


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def report_api(label: str, base: str) -> None:
    paths = {
        "GET /runs (first page of 50)": "/api/v1/runs?limit=50",
        "GET /runs?flow&state (filtered)": "/api/v1/runs?flow=flow-7&state=failed&limit=50",
        "GET /runs/{id} (10,000 steps)": f"/api/v1/runs/{BIG}",
    }
    for name, path in paths.items():
        took = timings(base, path)
        p50, p99 = statistics.median(took), percentile(took, 99)
        print(
            f"  {label:10} {name:34} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms"
            f"   goal p99 < {API_GOAL_MS:.0f} ms"
        )


def report_browser(label: str, base: str) -> None:
    reason = browser_missing()
    if reason is not None:
        print(f"  {label:10} browser figures skipped: {reason}")
        return
    from playwright.sync_api import sync_playwright

    pages = {
        "runs page": ("/ui/#/runs", "#runs-table tbody tr"),
        "run page (10,000 steps)": (f"/ui/#/runs/{BIG}", "table[aria-label=Steps] tbody tr"),
    }
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            for name, (path, row) in pages.items():
                paints, firsts = [], []
                for _ in range(BROWSER_LOADS):
                    page = browser.new_page()
                    page.goto(base + path)
                    page.locator(row).first.wait_for(timeout=60_000)
                    firsts.append(page.evaluate("performance.now()"))
                    paints.append(
                        page.evaluate(
                            "(performance.getEntriesByName('first-contentful-paint')[0]"
                            " || {startTime: NaN}).startTime"
                        )
                    )
                    page.close()
                print(
                    f"  {label:10} {name:34} first paint {statistics.median(paints):7.1f} ms"
                    f"  first row {statistics.median(firsts):7.1f} ms"
                    f"   goal < {PAGE_GOAL_MS:.0f} ms"
                )
        finally:
            browser.close()


def browser_missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing (pip install -e '.[dev]')"
    return None


def bench(url: str, label: str, *, runs: int, steps: int) -> None:
    from legato.store import open_store

    store = open_store(url)
    try:
        start = time.perf_counter()
        fill(store, runs=runs, steps=steps)
        print(
            f"  {label:10} filled with {runs:,} runs and {steps:,} steps"
            f" in {time.perf_counter() - start:.1f} s"
        )
    finally:
        store.close()
    with served(url) as base:
        report_api(label, base)
        report_browser(label, base)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    print(f"server: {args.runs:,} runs, {args.steps:,} steps, one run of {BIG_STEPS:,} steps")
    if args.only != "postgres":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'legato.db'}"
            bench(url, "sqlite", runs=args.runs, steps=args.steps)
    if args.only != "sqlite":
        with fresh_schema() as url:
            if url is not None:
                bench(url, "postgres", runs=args.runs, steps=args.steps)


if __name__ == "__main__":
    main()
