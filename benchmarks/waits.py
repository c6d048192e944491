"""Runs parked on ``wait_for_input``: what 1,000 waiting runs cost, and how fast an
approval reaches the run's next step.

Prints, for SQLite and PostgreSQL (when reachable): the store's size, the worker's RSS,
threads and CPU while 1,000 runs wait, and the latency from `approve` to the next step
starting (p50/p95 over 30 approvals). Asserts nothing.
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
PARKED = 1000


def proc_stats(pid: int) -> tuple[float, int, float]:
    """RSS in MB, threads, CPU seconds so far."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))
    threads = int(
        next(line.split()[1] for line in status.splitlines() if line.startswith("Threads"))
    )
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss / 1024, threads, (int(fields[11]) + int(fields[12])) / ticks


def bench(url: str, label: str, size_of: Path | None) -> None:
    from legato.engine.inputs import answer_input
    from legato.engine.launch import submit
    from legato.engine.targets import load_target
    from legato.records import RunFilter
    from legato.states import RunState
    from legato.store import open_store

    store = open_store(url)
    flow = load_target(f"{FLOWS}:parked")
    ids = [submit(flow, (i,), {}, store=store).run_id for i in range(PARKED)]
    env = {**os.environ, "LEGATO_DB": url}
    worker = subprocess.Popen(
        [str(LEGATO), "worker", "--poll", "0.05", "--concurrency", "16"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while len(store.list_runs(RunFilter(state=RunState.WAITING, limit=PARKED + 1))) < PARKED:
            time.sleep(0.2)
        time.sleep(1.0)
        rss, threads, cpu_before = proc_stats(worker.pid)
        time.sleep(5.0)
        _, _, cpu_after = proc_stats(worker.pid)
        size = ""
        if size_of is not None:
            mb = sum(p.stat().st_size for p in size_of.parent.glob(size_of.name + "*")) / 2**20
            size = f", store {mb:.1f} MB"
        print(
            f"parked/{label}: {PARKED} runs waiting{size}; worker RSS {rss:.0f} MB, "
            f"{threads} threads, CPU {100 * (cpu_after - cpu_before) / 5:.1f}% while idle"
        )
        delays = []
        for run_id in ids[:30]:
            answer = answer_input(run_id, "approval", {"x": 1}, by="bench", store=store)
            while True:
                steps = [s for s in store.get_steps(run_id) if s.task_name == "after_approval"]
                if steps and steps[0].started_at is not None:
                    delays.append((steps[0].started_at - answer.answered_at).total_seconds())
                    break
                time.sleep(0.001)
        delays.sort()
        print(
            f"approve->next step/{label}: p50 {statistics.median(delays) * 1e3:.1f} ms, "
            f"p95 {delays[int(len(delays) * 0.95) - 1] * 1e3:.1f} ms"
        )
    finally:
        worker.terminate()
        worker.wait()
        store.close()


def main() -> None:
    from pg import fresh_schema

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "parked.db"
        bench(f"sqlite:///{path}", "sqlite", path)
    with fresh_schema() as url:
        if url is not None:
            bench(url, "postgres", None)


if __name__ == "__main__":
    main()
