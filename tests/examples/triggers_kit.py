"""What the trigger examples' tests share: the real ``legato`` command on the test's
SQLite file, and a scheduler and a worker running on threads against that file."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from legato.scheduler.service import Scheduler
from legato.store.base import Store
from legato.worker.service import Worker, WorkerOptions

LEGATO = str(Path(sys.executable).with_name("legato"))
TRIGGERS = Path(__file__).resolve().parents[2] / "examples" / "triggers"


def target(module: str) -> str:
    """The deploy target of ``examples/triggers/<module>.py``'s flow of the same name."""
    return f"{TRIGGERS / module}.py:{module}"


def legato(db_url: str, *args: str, env: dict[str, str] | None = None) -> str:
    """Run ``legato ARGS`` on the store at ``db_url``; its output (fails the test on a
    non-zero exit, with the output)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    environ.update(LEGATO_DB=db_url, NO_COLOR="1", COLUMNS="200", **(env or {}))
    done = subprocess.run([LEGATO, *args], capture_output=True, text=True, env=environ, timeout=120)
    assert done.returncode == 0, f"legato {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


@contextmanager
def services(store: Store, *, scheduler: bool = True) -> Iterator[Scheduler]:
    """A scheduler (ticking every 50 ms) and a worker running until the block ends."""
    stop = threading.Event()
    ticking = Scheduler(store, interval=0.05)  # type: ignore[arg-type]
    worker = Worker(store, options=WorkerOptions(concurrency=2, poll_interval=0.05))
    threads = [threading.Thread(target=worker.run, args=(stop,), daemon=True)]
    if scheduler:
        threads.append(threading.Thread(target=ticking.run, args=(stop,), daemon=True))
    for thread in threads:
        thread.start()
    try:
        yield ticking
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)


def eventually(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """``check()`` once it is truthy; fails naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.05)
