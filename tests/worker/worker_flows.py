"""Flows the worker tests submit. Task bodies append to a ledger outside legato's store
(path in $WORKER_LEDGER) so tests can count how often each body ran, and where."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from legato import flow, get_run_context, task


def note(line: str) -> None:
    with Path(os.environ["WORKER_LEDGER"]).open("a") as f:
        f.write(line + "\n")


@task
def record_once(n: int) -> int:
    ctx = get_run_context()
    note(f"{ctx.run_id} {n} {os.getpid()}")
    return n


@flow
def one_step(n: int) -> int:
    return record_once(n)


@task
def slow_step(i: int, pause: float) -> dict:
    ctx = get_run_context()
    note(f"start {ctx.run_id} {ctx.step_key} {os.getpid()}")
    time.sleep(pause)
    note(f"done {ctx.run_id} {ctx.step_key} {os.getpid()}")
    return {"i": i, "pid": os.getpid()}


@flow
def ten_steps(pause: float = 0.3) -> list[int]:
    return [slow_step(i, pause)["i"] for i in range(10)]


@task
def fetch_once(n: int) -> int:
    note(f"fetch {n}")
    return n


@task
def needs_fix(n: int) -> int:
    if not Path(os.environ["WORKER_LEDGER"]).with_name("fixed").exists():
        raise ValueError("not fixed yet")
    note(f"fixed {n}")
    return n * 2


@flow
def fix_me(n: int) -> int:
    return needs_fix(fetch_once(n))


@flow
def sleepy(seconds: float = 2.0) -> str:
    record_once(1)
    import legato

    legato.sleep(seconds)
    record_once(2)
    return "woke up"


@task
def chaos_step(i: int) -> int:
    ctx = get_run_context()
    note(f"{ctx.run_id} {ctx.step_key} {time.time()}")
    time.sleep(0.02)
    return i


@flow
def chaos(steps: int = 8) -> int:
    return sum(chaos_step(i) for i in range(steps))


@task
def kill_my_worker() -> None:
    note(f"killing {os.getpid()}")
    os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's OOM killer would


@flow
def takes_down_its_worker() -> str:
    kill_my_worker()
    return "never"


@task(retries=1, retry_delay=0.01)
def fails_once(n: int) -> int:
    if get_run_context().attempt == 1:
        raise ConnectionError("the first attempt fails")
    return n


@flow
def retried(n: int) -> int:
    return fails_once(n)
