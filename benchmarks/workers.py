"""Run queue figures: throughput of worker processes and submit-to-start latency.

    throughput  1,000 runs of 5 trivial steps through 2 `legato worker` processes
                (concurrency 16 each; BENCH_CONCURRENCY to change)
    latency     submit -> first step started, on an idle worker (50 samples)

On SQLite, and on PostgreSQL (in a throwaway schema) when LEGATO_BENCH_PG (default:
LEGATO_TEST_PG, else postgresql://127.0.0.1/test) is reachable. Prints figures; asserts
nothing.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
FLOWS = HERE / "bench_flows.py"
LEGATO = Path(sys.executable).with_name("legato")
CONCURRENCY = os.environ.get("BENCH_CONCURRENCY", "16")


def workers(url: str, count: int, *args: str) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "LEGATO_DB": url}
    return [
        subprocess.Popen(
            [str(LEGATO), "worker", "--poll", "0.01", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait()


def throughput(url: str, label: str, runs: int = 1000) -> None:
    from legato.engine.launch import submit
    from legato.engine.targets import load_target
    from legato.records import RunFilter
    from legato.states import RunState
    from legato.store import open_store

    store = open_store(url)
    flow = load_target(f"{FLOWS}:five_steps")
    for i in range(runs):
        submit(flow, (i,), {}, store=store)
    procs = workers(url, 2, "--concurrency", CONCURRENCY)
    start = time.perf_counter()
    try:
        while True:
            done = store.list_runs(RunFilter(state=RunState.COMPLETED, limit=runs + 1))
            if len(done) >= runs:
                break
            time.sleep(0.05)
        seconds = time.perf_counter() - start
    finally:
        stop(procs)
        store.close()
    print(
        f"throughput/{label}: {runs} runs x 5 steps in {seconds:.2f} s with 2 workers: "
        f"{runs / seconds:.0f} runs/s, {runs * 5 / seconds:.0f} steps/s"
    )


def latency(url: str, label: str, samples: int = 50) -> None:
    from legato.engine.launch import submit
    from legato.engine.targets import load_target
    from legato.store import open_store

    store = open_store(url)
    flow = load_target(f"{FLOWS}:five_steps")
    procs = workers(url, 1, "--concurrency", "1")
    time.sleep(1.0)  # let the worker start and go idle
    delays = []
    try:
        for i in range(samples):
            handle = submit(flow, (i,), {}, store=store)
            created = handle.record.created_at
            while True:
                steps = store.get_steps(handle.run_id)
                if steps and steps[0].started_at is not None:
                    delays.append((steps[0].started_at - created).total_seconds())
                    break
                time.sleep(0.001)
            time.sleep(0.02)
    finally:
        stop(procs)
        store.close()
    delays.sort()
    p50 = statistics.median(delays) * 1e3
    p95 = delays[int(len(delays) * 0.95) - 1] * 1e3
    print(f"latency/{label}: submit -> first step p50 {p50:.1f} ms, p95 {p95:.1f} ms")


def main() -> None:
    from pg import fresh_schema

    with tempfile.TemporaryDirectory() as tmp:
        throughput(f"sqlite:///{tmp}/throughput.db", "sqlite")
        latency(f"sqlite:///{tmp}/latency.db", "sqlite")
    with fresh_schema() as url:
        if url is not None:
            throughput(url, "postgres")
    with fresh_schema() as url:
        if url is not None:
            latency(url, "postgres")


if __name__ == "__main__":
    main()
