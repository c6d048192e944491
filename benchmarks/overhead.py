"""Orchestration overhead per task: plain Python vs legato (memory and SQLite stores).

    W1  a chain of 200 trivial tasks (x -> x + 1)
    W2  one task makes 1000 ints, map runs 1000 trivial tasks, one task sums them
    W3  one run of 100,000 trivial mapped tasks: time and peak RSS (own subprocess)

W1 and W2 also run on PostgreSQL (a throwaway schema) when it is reachable.

Prints each figure; asserts nothing. Run with `make bench`.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import legato
from legato import flow, gather, task


@task
def inc(x: int) -> int:
    return x + 1


@task
def make_ints(n: int) -> list[int]:
    return list(range(n))


@task
def total(values: list[int]) -> int:
    return sum(values)


@flow
def w1(n: int = 200) -> int:
    x = 0
    for _ in range(n):
        x = inc(x)
    return x


@flow
def w2(n: int = 1000) -> int:
    values = make_ints(n)
    return total(gather(inc.map(values)))


def plain_w1(n: int = 200) -> int:
    x = 0
    for _ in range(n):
        x = inc.fn(x)
    return x


def plain_w2(n: int = 1000) -> int:
    return total.fn([inc.fn(v) for v in make_ints.fn(n)])


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(name: str, tasks: int, plain, orchestrated, repeat: int) -> None:
    plain_s = best_of(plain, repeat)
    print(f"{name}: plain Python {plain_s * 1e3:8.2f} ms")
    from pg import fresh_schema

    with tempfile.TemporaryDirectory() as tmp, fresh_schema() as pg_url:
        stores = [("memory", "memory://"), ("sqlite", f"sqlite:///{tmp}/bench.db")]
        if pg_url is not None:
            stores.append(("postgres", pg_url))
        for label, url in stores:
            legato.use_store(url)
            orchestrated()  # warm up: threads, schema, imports
            seconds = best_of(orchestrated, repeat)
            per_task = (seconds - plain_s) / tasks * 1e6
            print(
                f"{name}: legato/{label:8} {seconds * 1e3:8.2f} ms   "
                f"overhead {per_task:7.1f} us per task"
            )


def w3_child(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        legato.use_store(f"sqlite:///{tmp}/w3.db")
        start = time.perf_counter()
        assert w2(n) == sum(range(1, n + 1))
        seconds = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"n": n, "seconds": seconds, "rss_mb": rss_mb}))


def w3() -> None:
    results = {}
    for n in (1_000, 100_000):
        out = subprocess.run(
            [sys.executable, __file__, "--w3-child", str(n)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        results[n] = json.loads(out.strip().splitlines()[-1])
    for n, r in results.items():
        print(
            f"W3: {n:>7,} mapped tasks on sqlite: {r['seconds']:7.2f} s, "
            f"{r['seconds'] / n * 1e6:6.1f} us per task, peak RSS {r['rss_mb']:.0f} MB"
        )


def import_time() -> None:
    code = "import time; t = time.perf_counter(); import legato; print(time.perf_counter() - t)"
    samples = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(5)
    ]
    print(f"import legato: {statistics.median(samples) * 1e3:.1f} ms (median of 5)")


def main() -> None:
    print(f"python {sys.version.split()[0]}, legato {legato.__version__}, {Path.cwd()}")
    import_time()
    measure("W1 (chain of 200)", 200, plain_w1, w1, repeat=15)
    measure("W2 (map of 1000)", 1002, plain_w2, w2, repeat=7)
    w3()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--w3-child":
        w3_child(int(sys.argv[2]))
    else:
        main()
