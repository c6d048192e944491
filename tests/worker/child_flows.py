"""Parents whose child flows wait, for the worker tests. Bodies append to the ledger at
$WORKER_LEDGER (outside legato's store) so tests count how often each ran. Imported by
module name (this directory on PYTHONPATH) by the workers."""

from __future__ import annotations

import os
import time
from pathlib import Path

import legato
from legato import flow, get_run_context, task


def note(line: str) -> None:
    with Path(os.environ["WORKER_LEDGER"]).open("a") as f:
        f.write(line + "\n")


@task
def mark(line: str) -> str:
    note(f"{line} {get_run_context().run_id} {os.getpid()}")
    return line


@task
def gated(line: str) -> str:
    """Runs until the test removes the ``gate`` file beside the ledger."""
    note(f"{line} start {os.getpid()}")
    gate = Path(os.environ["WORKER_LEDGER"]).with_name("gate")
    while gate.exists():
        time.sleep(0.01)
    note(f"{line} done {os.getpid()}")
    return line


@flow
def sleeping_child(n: int) -> int:
    mark("sleeping-child before")
    legato.sleep(1.5)
    mark("sleeping-child after")
    return n * 2


@flow
def event_child() -> int:
    return int(legato.wait_for_event("child-go")["n"])


@flow
def input_child() -> str:
    return str(legato.wait_for_input("child-ok")["colour"])


@flow
def sleeps_in_child(n: int) -> int:
    mark("parent before")
    doubled = sleeping_child(n)
    mark("parent after")
    return doubled + 1


@flow
def waits_for_event_in_child() -> str:
    return f"event {event_child()}"


@flow
def waits_for_input_in_child() -> str:
    return f"input {input_child()}"


@flow
def sleeps_in_grandchild(n: int) -> int:
    mark("grandparent before")
    return sleeps_in_child(n) + 100


@flow
def gated_child() -> str:
    mark("gated-child before")
    legato.sleep(1.5)
    return gated("gated-child step")


@flow
def waits_for_gated_child() -> str:
    mark("parent before")
    result = gated_child()
    mark("parent after")
    return result
