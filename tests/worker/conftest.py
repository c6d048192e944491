"""Worker processes for the tests: real `legato worker` subprocesses, real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from legato.store import open_store

HERE = Path(__file__).parent
LEGATO = Path(sys.executable).with_name("legato")
FLOWS = HERE / "worker_flows.py"


class Cluster:
    """Workers and submissions against one store, with a ledger outside it."""

    def __init__(self, tmp_path: Path, db: str) -> None:
        self.db = db
        self.ledger = tmp_path / "ledger.txt"
        self.ledger.touch()
        self.env = {**os.environ, "LEGATO_DB": db, "WORKER_LEDGER": str(self.ledger)}
        self.workers: list[subprocess.Popen[str]] = []
        self.logs = tmp_path

    def worker(self, *args: str) -> subprocess.Popen[str]:
        log = (self.logs / f"worker{len(self.workers)}.log").open("w")
        proc = subprocess.Popen(
            [str(LEGATO), "worker", "--poll", "0.05", *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.workers.append(proc)
        return proc

    def submit(self, flow: str, *params: str) -> str:
        args = [str(LEGATO), "submit", f"{FLOWS}:{flow}"]
        for p in params:
            args += ["-p", p]
        out = subprocess.run(args, env=self.env, capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def lines(self) -> list[str]:
        return self.ledger.read_text().splitlines()

    def store(self):
        return open_store(self.db)

    def wait_for(self, predicate: Callable[[], bool], what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.02)
        logs = {p.name: p.read_text()[-2000:] for p in self.logs.glob("worker*.log")}
        raise AssertionError(f"timed out waiting for {what}; worker logs: {logs}")

    def stop_all(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                try:
                    proc.send_signal(signal.SIGCONT)
                    proc.kill()
                except ProcessLookupError:
                    pass
                proc.wait()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path, f"sqlite:///{tmp_path / 'queue.db'}")
    yield c
    c.stop_all()


@pytest.fixture(params=["sqlite", "postgres"])
def any_cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    """A cluster on each backend: SQLite, and PostgreSQL in a fresh schema."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'queue.db'}"
    else:
        from postgres_service import new_schema, require_server, schema_url

        require_server()
        url = schema_url(new_schema(str(tmp_path)))
    c = Cluster(tmp_path, url)
    yield c
    c.stop_all()


@pytest.fixture
def cluster_at(tmp_path: Path) -> Iterator[Callable[[str], Cluster]]:
    """Makes a cluster on a given store URL; stops its workers afterwards."""
    made: list[Cluster] = []

    def make(url: str) -> Cluster:
        made.append(Cluster(tmp_path, url))
        return made[-1]

    yield make
    for c in made:
        c.stop_all()
