"""The scheduler drives the file and broker sources: a real ``Scheduler`` ticking with
the real clock on a SQLite store, real files and a real Redis stream."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import scheduled_flows
from scheduled_flows import report

from legato import OnFile, OnStream, deploy
from legato.clock import utcnow
from legato.engine.context import default_executor
from legato.engine.launch import execute_claimed
from legato.scheduler.service import Scheduler
from legato.scheduler.sources.board import StatusBoard
from legato.settings import load_settings
from legato.states import RunState
from legato.store import SqliteStore

REQUIRED = os.environ.get("LEGATO_REQUIRE_SERVICES") == "1"
LEGATO = str(Path(sys.executable).with_name("legato"))


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "legato.db")
    yield store
    store.close()


@pytest.fixture
def running(sqlite: SqliteStore) -> Iterator[Scheduler]:
    """A scheduler ticking every 50 ms on its own thread, stopped after the test."""
    scheduler = Scheduler(sqlite, interval=0.05)
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run, args=(stop,), daemon=True)
    thread.start()
    yield scheduler
    stop.set()
    thread.join(15)


def eventually(condition: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def execute_one(store: SqliteStore) -> dict:
    claimed = store.claim_run(
        worker_id="w", queues=["default"], lease=timedelta(seconds=30), now=utcnow()
    )
    assert claimed is not None
    return execute_claimed(claimed, store=store, flow=report, executor=default_executor()).result()


def state_of(scheduler: Scheduler, name: str) -> str | None:
    reports = scheduler.sources.statuses().get(name)
    return reports[0].status.state if reports else None


def test_a_file_dropped_in_a_watched_folder_starts_one_run_that_sees_the_file(
    sqlite, running, tmp_path
):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    deploy(
        report, name="ingest", triggers=[OnFile(str(inbox), "*.csv", settle="0.2s")], store=sqlite
    )
    eventually(lambda: state_of(running, "ingest") == "connected", "the folder to be watched")

    body = b"id,amount\n1,10\n2,20\n"
    (inbox / ".orders.csv.part").write_bytes(body)
    (inbox / ".orders.csv.part").rename(inbox / "orders.csv")
    (inbox / "notes.txt").write_text("not matched")

    eventually(lambda: sqlite.list_fires("ingest"), "the file to fire")
    time.sleep(1.0)  # more ticks and polls: the same file must not fire again
    fires = sqlite.list_fires("ingest")
    assert len(fires) == 1
    result = execute_one(sqlite)
    payload = result["trigger"]["payload"]
    assert result["trigger"]["kind"] == "file"
    assert payload["path"] == str((inbox / "orders.csv").resolve())
    assert payload["size"] == len(body)
    assert payload["sha256"] == hashlib.sha256(body).hexdigest()
    assert scheduled_flows  # the module workers import


def test_a_completed_runs_file_moves_to_the_processed_folder(sqlite, running, tmp_path):
    inbox = tmp_path / "bucket"
    inbox.mkdir()
    trigger = OnFile(str(inbox), "*.json", settle="0.1s", processed="done")
    deploy(report, name="bucket", triggers=[trigger], store=sqlite)
    eventually(lambda: state_of(running, "bucket") == "connected", "the folder to be watched")
    (inbox / "a.json").write_text("{}")
    eventually(lambda: sqlite.list_fires("bucket"), "the file to fire")
    assert (inbox / "a.json").exists()  # its run has not ended yet
    execute_one(sqlite)
    eventually(lambda: (inbox / "done" / "a.json").exists(), "the file to move")
    assert not (inbox / "a.json").exists()
    assert len(sqlite.list_fires("bucket")) == 1


def test_pausing_a_deployment_stops_its_source_and_resuming_starts_it_again(
    sqlite, running, tmp_path
):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    deploy(report, name="paused", triggers=[OnFile(str(inbox), "*", settle="0.1s")], store=sqlite)
    eventually(lambda: state_of(running, "paused") == "connected", "the folder to be watched")

    sqlite.set_deployment_paused("paused", paused=True, now=utcnow())
    eventually(lambda: state_of(running, "paused") is None, "the source to stop")
    (inbox / "while-paused.txt").write_text("x")
    time.sleep(1.0)
    assert sqlite.list_fires("paused") == []

    sqlite.set_deployment_paused("paused", paused=False, now=utcnow())
    eventually(lambda: sqlite.list_fires("paused"), "the file to fire after resuming")
    assert len(sqlite.list_fires("paused")) == 1

    sqlite.delete_deployment("paused")
    eventually(lambda: state_of(running, "paused") is None, "the source to stop on delete")


def test_a_scheduler_that_stops_or_loses_its_lease_stops_its_sources(sqlite, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    deploy(report, name="leased", triggers=[OnFile(str(inbox), "*")], store=sqlite)
    first = Scheduler(sqlite, holder="first", lease=timedelta(seconds=1))
    second = Scheduler(sqlite, holder="second", lease=timedelta(seconds=1))
    first.tick()
    assert state_of(first, "leased") == "connected"
    [source] = first.sources.statuses()["leased"]
    first.tick()
    assert first.sources.statuses()["leased"] == [source]  # kept running, not restarted
    assert second.tick() == [] and state_of(second, "leased") is None

    first.tick(utcnow() + timedelta(seconds=5))  # its lease long expired: taken below
    second.tick(utcnow() + timedelta(seconds=10))
    assert state_of(second, "leased") == "connected"
    first.tick(utcnow() + timedelta(seconds=10.5))
    assert not first.active and first.sources.statuses() == {}

    second.close()
    assert second.sources.statuses() == {}


def require_redis() -> None:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=3).close()
    except OSError as exc:
        reason = f"Redis is not reachable at 127.0.0.1:6379 ({exc}); start it to run this test"
        if REQUIRED:
            pytest.fail(f"LEGATO_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)


def test_a_redis_stream_message_starts_one_run_with_the_message(sqlite, running):
    require_redis()
    import redis

    stream = f"legato-test-{uuid.uuid4().hex}"
    client = redis.Redis(host="127.0.0.1", port=6379)
    try:
        deploy(
            report,
            name="orders",
            triggers=[OnStream(f"redis://127.0.0.1:6379/{stream}")],
            store=sqlite,
        )
        eventually(lambda: state_of(running, "orders") == "connected", "the stream consumer")
        entry = client.xadd(stream, {"order": "42"}).decode()

        eventually(lambda: sqlite.list_fires("orders"), "the message to fire")
        time.sleep(0.5)
        fires = sqlite.list_fires("orders")
        assert [f.key for f in fires] == [f"redis:{stream}:{entry}"]
        result = execute_one(sqlite)
        assert result["trigger"]["kind"] == "stream"
        assert result["trigger"]["payload"]["fields"] == {"order": "42"}
        assert sqlite.get_run(fires[0].run_id).state is RunState.COMPLETED
        eventually(
            lambda: client.xpending(stream, "legato")["pending"] == 0, "the message to be acked"
        )
    finally:
        client.delete(stream)
        client.close()


def test_a_stream_that_cannot_connect_reports_retrying_with_the_password_hidden(sqlite, running):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once closed
    deploy(
        report,
        name="down",
        triggers=[OnStream(f"redis://user:s3cret@127.0.0.1:{port}/orders")],
        store=sqlite,
    )
    eventually(lambda: state_of(running, "down") == "retrying", "the source to report retrying")
    [report_] = running.sources.statuses()["down"]
    assert "s3cret" not in report_.trigger and "s3cret" not in (report_.status.last_error or "")
    assert report_.status.last_error


def legato_show(sqlite: SqliteStore, name: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "LEGATO_DB"}
    env.update(LEGATO_DB=sqlite.url, NO_COLOR="1", COLUMNS="250")
    done = subprocess.run(
        [LEGATO, "deployments", "show", name], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_deployments_show_prints_each_sources_status_with_the_password_hidden(sqlite, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    deploy(
        report,
        name="down",
        triggers=[OnStream(f"redis://user:s3cret@127.0.0.1:{port}/orders")],
        store=sqlite,
    )
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    deploy(report, name="files", triggers=[OnFile(str(inbox), "*.csv")], store=sqlite)
    board = StatusBoard(load_settings().home / "sources", sqlite.url)
    scheduler = Scheduler(sqlite, interval=0.05, board=board)
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run, args=(stop,), daemon=True)
    thread.start()
    try:
        eventually(lambda: state_of(scheduler, "down") == "retrying", "the source to retry")
        eventually(lambda: "retrying since" in legato_show(sqlite, "down"), "show to say retrying")
        shown = legato_show(sqlite, "down")
        assert f"source    stream redis://user:***@127.0.0.1:{port}/orders: retrying since" in shown
        assert "Error" in shown and "s3cret" not in shown
        files = legato_show(sqlite, "files")
        assert f"source    file *.csv in {inbox.resolve()}: connected since" in files
    finally:
        stop.set()
        thread.join(15)
    stopped = legato_show(sqlite, "down")
    assert "not watched: no active scheduler on this machine reports it" in stopped
    assert "s3cret" not in stopped


def test_a_watched_folder_that_went_away_is_reported_and_watched_again_once_back(sqlite, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    deploy(report, name="comeback", triggers=[OnFile(str(inbox), "*")], store=sqlite)
    inbox.rmdir()
    scheduler = Scheduler(sqlite)
    try:
        scheduler.tick()
        [broken] = scheduler.sources.statuses()["comeback"]
        assert broken.status.state == "stopped"
        assert "does not exist" in (broken.status.last_error or "")
        inbox.mkdir()
        scheduler.tick(utcnow() + timedelta(seconds=11))
        assert state_of(scheduler, "comeback") == "connected"
        (inbox / "late.txt").write_text("x")
        eventually(lambda: sqlite.list_fires("comeback"), "the file to fire")
    finally:
        scheduler.close()


@pytest.mark.slow
def test_legato_up_watches_a_folder_runs_the_file_and_shows_the_source(tmp_path):
    (tmp_path / "flows.py").write_text(
        "from legato import flow, get_run_context\n\n"
        "@flow\n"
        "def ingest() -> dict:\n"
        "    return get_run_context().trigger.payload\n"
    )
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    env.update(
        LEGATO_DB=f"sqlite:///{tmp_path / 'legato.db'}",
        LEGATO_HOME=str(tmp_path / "home"),
        NO_COLOR="1",
        COLUMNS="250",
    )

    def cli(*args: str) -> str:
        done = subprocess.run(
            [LEGATO, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    cli("deploy", "flows.py:ingest", "--on-file", "inbox", "--pattern", "*.csv", "--settle", "0.2s")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    up = subprocess.Popen(
        [LEGATO, "up", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        eventually(lambda: "connected since" in cli("deployments", "show", "ingest"), "watching")
        (inbox / "a.csv").write_bytes(b"x,y\n")
        store = SqliteStore(tmp_path / "legato.db")
        try:
            eventually(
                lambda: [
                    r
                    for f in store.list_fires("ingest")
                    if (r := store.get_run(f.run_id)) and r.state is RunState.COMPLETED
                ],
                "the file's run to complete",
            )
            [fire] = store.list_fires("ingest")
            result = store.get_run(fire.run_id).result
        finally:
            store.close()
        assert hashlib.sha256(b"x,y\n").hexdigest() in result
    finally:
        up.send_signal(signal.SIGTERM)
        output, _ = up.communicate(timeout=60)
    assert up.returncode == 0, output
    assert "not watched: no active scheduler" in cli("deployments", "show", "ingest")
