"""Flows the crash tests run in a subprocess and SIGKILL. Every task body appends to a
ledger file (outside legato's store) so the test can count how often each body ran.

Usage: python crashy_flows.py FLOW LEDGER
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

from legato import Failure, flow, gather, get_run_context, task

LEDGER = Path(os.environ.get("CRASH_LEDGER", "ledger.txt"))


def note(line: str) -> None:
    with LEDGER.open("a") as f:
        f.write(line + "\n")


@task
def work(i: int) -> int:
    key = get_run_context().step_key
    note(f"start {key}")
    gate = LEDGER.with_name("hold")
    if i == 5:
        # The test kills the process while this step runs, then removes the gate.
        while gate.exists():
            time.sleep(0.01)
    note(f"done {key}")
    return i * 2


@flow
def ten_steps() -> int:
    return sum(work(i) for i in range(10))


@flow
def pauses_between_steps() -> int:
    total = 0
    for i in range(6):
        total += work(i + 10)
        note(f"between {i}")
        time.sleep(0.05)
    return total


@task
def mapped(i: int) -> int:
    key = get_run_context().step_key
    time.sleep(random.uniform(0.01, 0.08))
    note(f"done {key}")
    return i


@flow
def batch_of_50() -> int:
    return sum(gather(mapped.map(range(50))))


@task
def quick(i: int) -> int:
    note(f"done {get_run_context().step_key}")
    return i


@flow
def many_quick_steps(n: int = 300) -> int:
    total = 0
    for i in range(n):
        total += quick(i)
    return total


@task
def undo(name: str) -> None:
    note(f"undo-start {name}")
    gate = LEDGER.with_name("hold")
    if name == "s1":
        # The test kills the process while this compensation runs.
        while gate.exists():
            time.sleep(0.01)
    note(f"undo {name}")


@task(compensate=undo)
def do(name: str) -> str:
    note(f"do {name}")
    return name


@task
def explode() -> None:
    note("explode")
    raise ValueError("the last step fails")


@task
def alert(failure: Failure) -> None:
    note(f"alert {failure.step_key or 'run'}")


@flow(on_failure=alert)
def saga() -> None:
    for name in ("s0", "s1", "s2"):
        do(name)
    explode()


@task(retries=3, retry_delay=1.0)
def always_down() -> None:
    note(f"attempt {get_run_context().attempt} {time.time()}")
    raise ConnectionError("the service is down")


@flow
def retries_with_backoff() -> None:
    always_down()


@flow(timeout=2.0)
def slow_past_its_deadline() -> int:
    return work(1) + work(5) + work(2)


if __name__ == "__main__":
    name = sys.argv[1]
    print(globals()[name]())
