"""What only PostgreSQL shows: opening errors, migrations under concurrency, SKIP LOCKED,
LISTEN/NOTIFY, lost connections and lost COMMIT answers, a real server restart.

The contract suites run on PostgreSQL through the ``store`` fixture; these tests add what
the other backends cannot have. See ``postgres_service`` for the server they use.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from postgres_service import (
    PG_URL,
    admin,
    new_schema,
    open_postgres,
    private_cluster,
    require_server,
    schema_url,
)
from psycopg.conninfo import conninfo_to_dict

from legato.errors import StoreError
from legato.records import EventRecord, RunRecord, StepRecord
from legato.states import RunState, StepState
from legato.store import open_store
from legato.store.postgres import PostgresStore
from legato.store.sql import load_migrations

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LATEST = load_migrations("postgres")[-1].version


def _run(run_id: str = "r1", state: RunState = RunState.RUNNING) -> RunRecord:
    return RunRecord(run_id=run_id, flow_name="etl", state=state, created_at=T0)


def _batch(b: int, run_id: str = "r1") -> list[Any]:
    """One step and two events, all marked with the batch number ``b``."""
    return [
        StepRecord(run_id=run_id, key=f"b{b}#0", seq=b, task_name="b", state=StepState.COMPLETED),
        EventRecord(run_id=run_id, at=T0, kind="step", state="running", message=f"b{b}"),
        EventRecord(run_id=run_id, at=T0, kind="step", state="completed", message=f"b{b}"),
    ]


def _assert_batches_once(store: PostgresStore, count: int, run_id: str = "r1") -> None:
    """Batches 0..count-1 are each stored exactly once: no loss, no duplicate."""
    steps = sorted(s.seq for s in store.get_steps(run_id))
    assert steps == list(range(count))
    per_batch: dict[str, int] = {}
    for event in store.get_events(run_id):
        per_batch[event.message or ""] = per_batch.get(event.message or "", 0) + 1
    assert per_batch == {f"b{b}": 2 for b in range(count)}


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[PostgresStore]:
    store = open_postgres(tmp_path)
    yield store
    store.close()


@pytest.fixture
def fresh_schema(tmp_path: Path) -> str:
    """A new, empty schema (nothing migrated yet)."""
    require_server()
    return new_schema(f"{tmp_path}/fresh")


def _server() -> dict[str, Any]:
    return conninfo_to_dict(PG_URL)


def _url(schema: str, *, host: str | None = None, port: int | None = None, **query: str) -> str:
    """The test server's URL with another host/port and extra query parameters."""
    params = _server()
    user = params.get("user")
    userinfo = f"{user}@" if user else ""
    where = f"{host or params.get('host') or '127.0.0.1'}:{port or params.get('port') or 5432}"
    extra = "".join(f"&{k}={v}" for k, v in query.items())
    return f"postgresql://{userinfo}{where}/{params.get('dbname', '')}?schema={schema}{extra}"


# -- opening: URLs and the errors a user can fix ----------------------------------------


def test_open_store_gives_a_postgres_store_with_the_password_hidden(fresh_schema: str) -> None:
    # The test server trusts its users whatever the password: add one to the URL.
    user = _server().get("user") or "postgres"
    url = _url(fresh_schema).replace("://", f"://{user}:s3cr3t@", 1).replace(f"@{user}@", "@")
    store = open_store(url)
    try:
        assert isinstance(store, PostgresStore) and store.schema == fresh_schema
        assert "s3cr3t" not in store.url and f"{user}:***@" in store.url
        assert "s3cr3t" not in repr(store)
        store.create_run(_run())
        assert store.get_run("r1").run_id == "r1"
    finally:
        store.close()


def test_an_unreachable_server_says_where_and_what_to_do() -> None:
    with pytest.raises(StoreError) as caught:
        PostgresStore("postgresql://legato:s3cr3t@127.0.0.1:1/legato")
    message = str(caught.value)
    assert "cannot open the PostgreSQL store postgresql://legato:***@127.0.0.1:1/legato" in message
    assert "Connection refused" in message and "pg_isready -h 127.0.0.1 -p 1" in message
    assert "s3cr3t" not in message


def test_a_missing_database_says_how_to_create_it() -> None:
    require_server()
    name = f"legato_missing_{secrets.token_hex(3)}"
    params = _server()
    url = f"postgresql://{params.get('host') or '127.0.0.1'}:{params.get('port') or 5432}/{name}"
    with pytest.raises(StoreError, match=rf'database "{name}" does not exist.*createdb .*{name}'):
        PostgresStore(url)


def test_a_wrong_password_says_to_check_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # The test server trusts every local user, so the driver's answer is simulated; it
    # even repeats the password, which the store must not.
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise psycopg.OperationalError(
            'connection failed: connection to server at "10.0.0.5", port 5432 failed: '
            'FATAL:  password authentication failed for user "legato" (hunter2)'
        )

    monkeypatch.setattr(psycopg, "connect", refuse)
    with pytest.raises(StoreError) as caught:
        PostgresStore("postgresql://legato:hunter2@10.0.0.5/legato")
    message = str(caught.value)
    assert "password authentication failed" in message and "PGPASSWORD" in message
    assert "hunter2" not in message and "legato:***@10.0.0.5" in message


def test_a_missing_schema_says_how_to_create_it() -> None:
    require_server()
    name = f"legato_missing_{secrets.token_hex(3)}"
    with pytest.raises(
        StoreError, match=rf"schema '{name}' does not exist in database.*CREATE SCHEMA {name};"
    ):
        PostgresStore(schema_url(name))


@pytest.mark.parametrize("schema", ["a;drop", "1abc", "x y", ""])
def test_a_schema_that_is_not_a_plain_name_is_refused(schema: str) -> None:
    with pytest.raises(StoreError, match="schema=.*plain SQL name"):
        PostgresStore(f"postgresql://127.0.0.1:1/db?schema={schema}")


def test_a_malformed_url_says_the_form() -> None:
    with pytest.raises(StoreError, match="not a valid PostgreSQL URL.*postgresql://user:pass"):
        PostgresStore("postgresql://u:pw@127.0.0.1/db?colour=blue")
    with pytest.raises(StoreError, match="notaport.*Fix the URL.*postgresql://user:pass") as caught:
        PostgresStore("postgresql://u:pw@127.0.0.1:notaport/db")
    assert "pw" not in str(caught.value).replace("postgresql", "")


def test_importing_legato_does_not_import_psycopg() -> None:
    code = (
        "import sys, legato, legato.store; legato.store.open_store('memory://'); "
        "print([m for m in sys.modules if m.startswith(('psycopg', 'legato.store.postgres'))])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- migrations -------------------------------------------------------------------------


def test_migrations_are_recorded_and_upgrade_reports_versions(fresh_schema: str) -> None:
    store = PostgresStore(schema_url(fresh_schema), migrate=False)
    try:
        assert store.schema_version() == 0
        assert store.migrate() == LATEST
        assert store.schema_version() == LATEST
        assert store.migrate() == LATEST  # nothing left to do
    finally:
        store.close()
    with admin() as conn:
        applied = conn.execute(
            f"SELECT version, name FROM {fresh_schema}.schema_migrations ORDER BY version"
        ).fetchall()
    assert applied == [(m.version, m.name) for m in load_migrations("postgres")]


def test_a_newer_schema_is_refused_with_what_to_do(pg: PostgresStore) -> None:
    with admin() as conn:
        conn.execute(f"INSERT INTO {pg.schema}.schema_migrations VALUES (999, 'future', 0)")
    with pytest.raises(
        StoreError, match=rf"schema version 999.*up to {LATEST}.*[Uu]pgrade legato"
    ) as caught:
        PostgresStore(schema_url(pg.schema or ""))
    assert pg.url.split("?")[0] in str(caught.value)


def test_openers_of_a_new_schema_at_once_migrate_it_once(fresh_schema: str) -> None:
    barrier = threading.Barrier(4)
    opened: list[PostgresStore] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            barrier.wait()
            opened.append(PostgresStore(schema_url(fresh_schema)))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for store in opened:
        store.close()
    assert errors == [] and len(opened) == 4
    with admin() as conn:
        versions = conn.execute(f"SELECT version FROM {fresh_schema}.schema_migrations").fetchall()
    assert sorted(v for (v,) in versions) == list(range(1, LATEST + 1))


def test_a_table_missing_behind_the_store_says_to_upgrade(pg: PostgresStore) -> None:
    with admin() as conn:
        conn.execute(f"DROP TABLE {pg.schema}.logs")
    with pytest.raises(StoreError, match="could not read the logs.*legato db upgrade --db"):
        pg.get_logs("r1")


# -- the run queue: SKIP LOCKED and LISTEN/NOTIFY ---------------------------------------


def test_claim_skips_a_run_another_transaction_holds(pg: PostgresStore) -> None:
    pg.submit_run(_run("a", RunState.PENDING))
    pg.submit_run(
        RunRecord(
            run_id="b",
            flow_name="etl",
            state=RunState.PENDING,
            created_at=T0 + timedelta(seconds=1),
        )
    )
    lease = timedelta(seconds=30)
    with admin() as conn:
        conn.execute("BEGIN")
        conn.execute(f"SELECT 1 FROM {pg.schema}.runs WHERE run_id = 'a' FOR UPDATE")
        started = time.monotonic()
        claimed = pg.claim_run(worker_id="w1", queues=["default"], lease=lease, now=T0)
        assert claimed is not None and claimed.run_id == "b"
        assert time.monotonic() - started < 2  # it did not wait for the lock
        conn.execute("ROLLBACK")
    again = pg.claim_run(worker_id="w1", queues=["default"], lease=lease, now=T0)
    assert again is not None and again.run_id == "a"


def test_a_submit_in_another_process_wakes_a_waiting_worker(tmp_path: Path) -> None:
    waiting = open_postgres(tmp_path)
    submitting = open_postgres(tmp_path)  # its own connections: another process, in effect
    woke: list[float] = []
    try:
        waiting.claim_run(worker_id="w", queues=["default"], lease=timedelta(30), now=T0)

        def wait() -> None:
            waiting.wait_for_work(10)
            woke.append(time.monotonic())

        thread = threading.Thread(target=wait)
        thread.start()
        time.sleep(0.3)
        sent = time.monotonic()
        submitting.submit_run(_run("r1", RunState.PENDING))
        thread.join(5)
        assert woke and woke[0] - sent < 1.0
        # A notification that arrives while nobody waits is kept for the next wait...
        submitting.submit_run(_run("r2", RunState.PENDING))
        time.sleep(0.2)
        started = time.monotonic()
        waiting.wait_for_work(5)
        assert time.monotonic() - started < 1.0
        # ...once: the wait after it sleeps its whole timeout.
        started = time.monotonic()
        waiting.wait_for_work(0.3)
        assert time.monotonic() - started >= 0.25
    finally:
        waiting.close()
        submitting.close()


def test_close_does_not_wait_for_a_waiting_worker(pg: PostgresStore) -> None:
    thread = threading.Thread(target=pg.wait_for_work, args=(30,))
    thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    pg.close()
    thread.join(5)
    assert not thread.is_alive() and time.monotonic() - started < 3


# -- lost connections -------------------------------------------------------------------


def test_connections_killed_by_the_server_are_replaced(fresh_schema: str) -> None:
    name = f"legato_kill_{secrets.token_hex(3)}"
    store = PostgresStore(_url(fresh_schema, application_name=name))
    try:
        store.create_run(_run())
        store.record(_batch(0))
        store.claim_run(worker_id="w", queues=["default"], lease=timedelta(30), now=T0)
        with admin() as conn:
            killed = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (name,),
            ).fetchone()
        assert killed is not None and killed[0] >= 2  # the pool's and the listener's
        store.record(_batch(1))
        assert store.get_run("r1").run_id == "r1"
        store.wait_for_work(0.1)  # the listener notices and reconnects next time
        store.wait_for_work(0.1)
        _assert_batches_once(store, 2)
    finally:
        store.close()


class CuttingProxy:
    """A TCP proxy to the test server that cuts its next connection to send a COMMIT:
    ``before`` the server sees the COMMIT, or ``after`` the server answered it (the
    answer is lost: the client cannot tell whether its transaction committed)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cut: str | None = None
        self.cuts = 0
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            state = {"drop_answer": False}
            threading.Thread(
                target=self._to_server, args=(client, upstream, state), daemon=True
            ).start()
            threading.Thread(
                target=self._to_client, args=(client, upstream, state), daemon=True
            ).start()

    def _to_server(
        self, client: socket.socket, upstream: socket.socket, state: dict[str, bool]
    ) -> None:
        while data := self._recv(client):
            with self.lock:
                mode = self.cut if b"COMMIT" in data else None
                if mode:
                    self.cut = None
                    self.cuts += 1
            if mode == "before":
                self._close(client, upstream)
                return
            if mode == "after":
                state["drop_answer"] = True
            try:
                upstream.sendall(data)
            except OSError:
                break
        self._close(client, upstream)

    def _to_client(
        self, client: socket.socket, upstream: socket.socket, state: dict[str, bool]
    ) -> None:
        while data := self._recv(upstream):
            if state["drop_answer"]:
                break
            try:
                client.sendall(data)
            except OSError:
                break
        self._close(client, upstream)

    @staticmethod
    def _recv(sock: socket.socket) -> bytes:
        try:
            return sock.recv(65536)
        except OSError:
            return b""

    @staticmethod
    def _close(*socks: socket.socket) -> None:
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self) -> None:
        self.listener.close()


@pytest.mark.parametrize("cut", ["before", "after"])
def test_a_lost_commit_answer_neither_loses_nor_repeats_the_batch(
    fresh_schema: str, cut: str
) -> None:
    params = _server()
    host = str(params.get("host") or "")
    if not host or host.startswith("/"):
        pytest.skip("the test server is reached through a Unix socket; the proxy needs TCP")
    PostgresStore(schema_url(fresh_schema)).close()  # migrate directly
    proxy = CuttingProxy(host, int(params.get("port") or 5432))
    store = PostgresStore(_url(fresh_schema, host="127.0.0.1", port=proxy.port))
    settled: list[bool] = []
    ask_server = store._committed

    def committed(*args: Any) -> bool:
        settled.append(ask_server(*args))
        return settled[-1]

    store._committed = committed  # type: ignore[method-assign]
    try:
        store.create_run(_run())
        store.record(_batch(0))
        proxy.cut = cut
        store.record(_batch(1))  # cut at its COMMIT, settled, and returns normally
        assert proxy.cuts == 1
        # After: the server committed, so the store must not write again. Before: it
        # did not, so the store wrote the batch again.
        assert settled == [cut == "after"]
        store.record(_batch(2))
        _assert_batches_once(store, 3)
    finally:
        store.close()
        proxy.close()


# -- a real server restart (slow) -------------------------------------------------------


@pytest.mark.slow
def test_a_server_restart_loses_no_batch_and_repeats_none() -> None:
    with private_cluster() as cluster:
        store = PostgresStore(cluster.url)
        store.create_run(_run())
        lease = timedelta(seconds=30)
        assert store.claim_run(worker_id="w", queues=["default"], lease=lease, now=T0) is None
        done = 0
        slowest = 0.0
        errors: list[BaseException] = []
        stop = threading.Event()

        def writer() -> None:
            nonlocal done, slowest
            try:
                while not stop.is_set():
                    started = time.monotonic()
                    store.record(_batch(done))
                    slowest = max(slowest, time.monotonic() - started)
                    done += 1
            except BaseException as exc:  # reported below
                errors.append(exc)

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            _wait_for(lambda: done >= 50 or bool(errors), 30)
            cluster.stop()
            stopped_at = done
            time.sleep(3)
            cluster.start()
            _wait_for(lambda: done >= stopped_at + 50 or bool(errors), 60)
        finally:
            stop.set()
            thread.join(90)
            if not cluster.running():
                cluster.start()
        assert errors == []
        _assert_batches_once(store, done)
        # The listener lost its connection too: the next wait returns at once (something
        # may have changed), the next claim listens again, and a submit wakes a waiter.
        started = time.monotonic()
        store.wait_for_work(5)
        assert time.monotonic() - started < 2
        assert store.claim_run(worker_id="w", queues=["default"], lease=lease, now=T0) is None
        store.submit_run(_run("r2", RunState.PENDING))
        started = time.monotonic()
        store.wait_for_work(5)
        assert time.monotonic() - started < 2
        store.close()
        print(f"\n{done} batches, none lost or repeated; slowest record(): {slowest:.1f} s")


def _wait_for(condition: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
