"""Tasks and flows for the Dask tests. The Dask workers import this module (their
PYTHONPATH holds this folder), so exceptions raised there come back with their type."""

from __future__ import annotations

import asyncio
import os
import time

from legato import flow, get_run_context, task


class Flaky(Exception):
    """Raised by a body on its first attempt."""


@task
def where(i: int) -> list[int]:
    return [i, os.getpid()]


@flow
def spread(n: int) -> list[list[int]]:
    return [f.result() for f in where.map(range(n))]


@task(retries=1)
def fails_once(x: int) -> list[int]:
    context = get_run_context()
    if context.attempt == 1:
        raise Flaky(f"first attempt of {context.step_key} fails on purpose")
    return [x, context.attempt, os.getpid()]


@flow
def recovers(x: int) -> list[int]:
    return fails_once(x)


@task(retries=1)
def always_fails() -> None:
    raise Flaky(f"attempt {get_run_context().attempt} failed in process {os.getpid()}")


@flow
def gives_up() -> None:
    always_fails()


@task
async def doubled(x: int) -> list[int]:
    await asyncio.sleep(0)
    return [2 * x, os.getpid()]


@flow
def awaits(x: int) -> list[int]:
    return doubled(x)


@task(timeout=0.3)
def sleepy() -> str:
    time.sleep(2)
    return "late"


@flow
def too_slow() -> str:
    return sleepy()
