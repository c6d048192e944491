"""The PostgreSQL server the store tests use, and a fresh schema for each test's store.

``LEGATO_TEST_PG`` names the server (default ``postgresql://127.0.0.1/test``). Each
store gets a schema of its own, named after this test session and the test's temporary
directory (so reopening in the same test sees the same data); every schema this session
created is dropped when it ends. An unreachable server skips the PostgreSQL tests with
the reason, except under ``LEGATO_REQUIRE_SERVICES=1`` (CI), where they fail.

Tests that stop and start a server use ``private_cluster()``: a throwaway cluster of
their own, so that restarting it disturbs no test running beside them.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import psycopg

    from legato.store.postgres import PostgresStore

PG_URL = os.environ.get("LEGATO_TEST_PG") or "postgresql://127.0.0.1/test"
REQUIRED = os.environ.get("LEGATO_REQUIRE_SERVICES") == "1"
SESSION = f"legato_test_{os.getpid()}_{secrets.token_hex(3)}"

_created: list[str] = []
_unreachable: list[str] = []  # the reason, once known
_checked: list[bool] = []


def require_server() -> None:
    """Skip the calling test (fail it under LEGATO_REQUIRE_SERVICES=1) if the server
    cannot be reached; checked once per process."""
    if not _checked:
        import psycopg

        try:
            psycopg.connect(PG_URL, connect_timeout=3).close()
        except psycopg.Error as exc:
            from legato.store import redact_url

            _unreachable.append(f"{redact_url(PG_URL)}: {' '.join(str(exc).split())}")
        _checked.append(True)
    if _unreachable:
        reason = (
            f"PostgreSQL is not reachable at {_unreachable[0]}; set LEGATO_TEST_PG to a "
            "server where this user may create schemas"
        )
        if REQUIRED:
            pytest.fail(f"LEGATO_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)


def admin(timeout: float = 60.0) -> psycopg.Connection[Any]:
    """An autocommit connection to the test server. Waits while the server restarts
    (another test may be restarting it on purpose)."""
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            return psycopg.connect(PG_URL, connect_timeout=3, autocommit=True)
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def schema_url(schema: str) -> str:
    return f"{PG_URL}{'&' if '?' in PG_URL else '?'}schema={schema}"


def new_schema(key: str) -> str:
    """The session's schema for ``key``, created if missing."""
    name = f"{SESSION}_{hashlib.sha1(key.encode()).hexdigest()[:10]}"
    if name not in _created:
        with admin() as conn:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {name}")
        _created.append(name)
    return name


def drop_schemas() -> None:
    """Drop every schema this session created."""
    if not _created:
        return
    with admin() as conn:
        for name in _created:
            conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
    _created.clear()


def open_postgres(tmp_path: Path) -> PostgresStore:
    """The ``store`` fixture's opener: a PostgresStore in a schema of its own."""
    require_server()
    from legato.store.postgres import PostgresStore

    return PostgresStore(schema_url(new_schema(str(tmp_path))))


@dataclass(frozen=True)
class Cluster:
    """A PostgreSQL cluster made for one test (Debian's pg_createcluster)."""

    version: str
    name: str
    url: str  # its "postgres" database, as the superuser, trusted on 127.0.0.1

    def _ctl(self, action: str) -> None:
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, action],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def stop(self) -> None:
        self._ctl("stop")

    def start(self) -> None:
        self._ctl("start")

    def running(self) -> bool:
        status = ["pg_ctlcluster", self.version, self.name, "status"]
        return subprocess.run(status, capture_output=True, timeout=60).returncode == 0


@contextmanager
def private_cluster() -> Iterator[Cluster]:
    """A new PostgreSQL cluster on a free port, started; dropped afterwards. Skips the
    test unless this process is root on a machine with Debian's PostgreSQL tools."""
    tools = ("pg_createcluster", "pg_ctlcluster", "pg_dropcluster")
    installed = Path("/usr/lib/postgresql")
    if os.geteuid() != 0 or not all(shutil.which(t) for t in tools) or not installed.is_dir():
        pytest.skip("a private PostgreSQL cluster needs root and pg_createcluster")
    versions = [v.name for v in installed.iterdir() if (v / "bin" / "initdb").exists()]
    if not versions:
        pytest.skip(f"no PostgreSQL server is installed under {installed}")
    version = max(versions, key=lambda v: float(v))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    name = f"legato_test_{secrets.token_hex(4)}"
    create = ["pg_createcluster", "-p", str(port), "-o", "shared_buffers=16MB", version, name]
    subprocess.run([*create, "--", "--auth=trust"], check=True, capture_output=True, timeout=120)
    cluster = Cluster(version, name, f"postgresql://postgres@127.0.0.1:{port}/postgres")
    try:
        cluster.start()
        yield cluster
    finally:
        subprocess.run(
            ["pg_dropcluster", "--stop", version, name], capture_output=True, timeout=120
        )
