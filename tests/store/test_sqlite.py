"""What only a file-backed store can show: reopening, migrations, bad files, crashes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from legato.errors import StoreError
from legato.records import (
    Change,
    ErrorInfo,
    EventRecord,
    LogRecord,
    RunFilter,
    RunRecord,
    StepRecord,
)
from legato.states import RunState, StepState
from legato.store import SqliteStore, Store
from legato.store.sql import load_migrations

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _run(run_id: str = "r1") -> RunRecord:
    return RunRecord(run_id=run_id, flow_name="etl", state=RunState.RUNNING, created_at=T0)


# -- durability across reopen (every DURABLE_BACKENDS entry) -----------------------


def test_reopening_keeps_everything(open_again: Callable[[], Store]) -> None:
    first = open_again()
    first.create_run(_run(), events=[EventRecord(run_id="r1", at=T0, kind="run", state="pending")])
    error = ErrorInfo(type="x.E", message="m")
    batch: list[Change] = [
        StepRecord(run_id="r1", key="a#0", seq=0, task_name="a", state=StepState.COMPLETED),
        EventRecord(run_id="r1", at=T0, kind="step", state="completed", step_key="a#0"),
        LogRecord(run_id="r1", at=T0, level="INFO", message="hi", step_key="a#0"),
        RunRecord(run_id="r1", flow_name="etl", state=RunState.FAILED, created_at=T0, error=error),
    ]
    first.record(batch)
    before = (first.get_run("r1"), first.get_steps("r1"), first.get_events("r1"))
    first.close()
    second = open_again()
    assert (second.get_run("r1"), second.get_steps("r1"), second.get_events("r1")) == before
    assert second.get_logs("r1", "a#0")[0].message == "hi"
    second.record([EventRecord(run_id="r1", at=T0, kind="run", state="x")])
    ids = [e.id or 0 for e in second.get_events("r1")]
    assert ids == sorted(ids) and len(set(ids)) == 3 and 0 not in ids


# -- SQLite specifics ------------------------------------------------------------------


def test_pragmas_and_schema_version(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a.db", durability="full")
    assert store.durability == "full"
    assert store.url == f"sqlite:///{tmp_path / 'a.db'}"
    store.close()
    raw = sqlite3.connect(tmp_path / "a.db")
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    applied = raw.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
    assert applied == [(m.version, m.name) for m in load_migrations("sqlite")]
    assert applied[:2] == [(1, "initial"), (2, "queue")]
    raw.close()


def test_every_dialect_has_the_same_numbered_migrations() -> None:
    from legato.store.sql import MIGRATIONS_ROOT, load_migrations

    dialects = sorted(p.name for p in MIGRATIONS_ROOT.iterdir() if p.is_dir())
    assert "sqlite" in dialects
    numbered = {d: [(m.version, m.name) for m in load_migrations(d)] for d in dialects}
    assert all(found == numbered["sqlite"] for found in numbered.values()), numbered


def test_a_relative_path_survives_a_chdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = SqliteStore("rel.db")
    store.create_run(_run())
    monkeypatch.chdir("/")
    assert store.get_run("r1").run_id == "r1"  # a new reader connection opens the same file
    store.close()


def test_unknown_durability_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'normal'.*'full'"):
        SqliteStore(tmp_path / "a.db", durability="fast")


def test_creates_missing_parent_directories(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "deep" / "er" / "legato.db").close()
    assert (tmp_path / "deep" / "er" / "legato.db").is_file()


def test_a_new_store_and_its_directories_are_readable_by_their_owner_only(
    tmp_path: Path,
) -> None:
    # The store holds parameters, results, logs and answers: no other local user may read
    # it, whatever the umask (022 here, the usual default).
    previous = os.umask(0o022)
    try:
        store = SqliteStore(tmp_path / "home" / ".legato" / "legato.db")
        store.create_run(_run())
        assert (tmp_path / "home" / ".legato" / "legato.db-wal").exists()
        assert (tmp_path / "home" / ".legato" / "legato.db-shm").exists()
        modes = {
            path.name: path.stat().st_mode & 0o777
            for path in [tmp_path / "home", *(tmp_path / "home").rglob("*")]
        }
        store.close()
    finally:
        os.umask(previous)
    assert modes == {
        "home": 0o700,
        ".legato": 0o700,
        "legato.db": 0o600,
        "legato.db-wal": 0o600,
        "legato.db-shm": 0o600,
    }


def test_an_existing_directory_keeps_its_mode(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir(mode=0o755)
    (tmp_path / "shared").chmod(0o755)
    SqliteStore(tmp_path / "shared" / "legato.db").close()
    assert (tmp_path / "shared").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "shared" / "legato.db").stat().st_mode & 0o777 == 0o600


def test_without_create_a_missing_store_is_an_error_and_nothing_is_created(
    tmp_path: Path,
) -> None:
    path = tmp_path / "typo" / "dir" / "x.db"
    with pytest.raises(StoreError, match=f"no legato store at {path}.*does not exist"):
        SqliteStore(path, create=False)
    assert list(tmp_path.iterdir()) == []
    SqliteStore(path).close()
    reopened = SqliteStore(path, create=False)  # once it exists, it opens
    assert reopened.list_runs(RunFilter()) == []
    reopened.close()


def test_a_database_of_another_program_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    raw.execute("INSERT INTO customers (name) VALUES ('Ada')")
    raw.commit()
    raw.close()
    before = path.read_bytes()
    for create in (True, False):
        with pytest.raises(
            StoreError,
            match=f"{path} is an SQLite database of another program"
            r".*customers.*not a legato store",
        ):
            SqliteStore(path, create=create)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db"]


def test_an_empty_database_file_becomes_a_store(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()  # a database with no tables (an empty file)
    SqliteStore(path).close()
    assert SqliteStore(path, create=False).list_runs(RunFilter()) == []


def test_newer_schema_version_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    SqliteStore(path).close()
    raw = sqlite3.connect(path)
    raw.execute("INSERT INTO schema_migrations VALUES (999, 'from_the_future', 0)")
    raw.commit()
    raw.close()
    latest = load_migrations("sqlite")[-1].version
    with pytest.raises(StoreError, match=rf"schema version 999.*up to {latest}.*[Uu]pgrade legato"):
        SqliteStore(path)


def test_a_directory_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=f"{tmp_path}.*is a directory"):
        SqliteStore(tmp_path)


def test_a_parent_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")
    with pytest.raises(StoreError, match="cannot create the directory .*plain.*LEGATO_DB"):
        SqliteStore(tmp_path / "plain" / "legato.db")


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are not the pages you are looking for" * 100)
    with pytest.raises(StoreError, match=f"{path}.*not an SQLite database"):
        SqliteStore(path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_an_unwritable_directory_is_refused(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(StoreError, match=str(locked)):
            SqliteStore(locked / "legato.db")
    finally:
        locked.chmod(0o700)


def test_memory_paths_are_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="memory://"):
        SqliteStore(":memory:")


def test_readers_in_many_threads_see_committed_batches(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    store = SqliteStore(tmp_path / "a.db")
    store.create_run(_run())

    def write_then_read(i: int) -> int:
        step = StepRecord(run_id="r1", key=f"t#{i}", seq=i, task_name="t", state=StepState.RUNNING)
        store.record([step])
        return len(store.get_steps("r1"))

    with ThreadPoolExecutor(8) as pool:
        seen = list(pool.map(write_then_read, range(200)))
    assert all(n >= 1 for n in seen) and len(store.get_steps("r1")) == 200
    assert store.list_runs(RunFilter())[0].run_id == "r1"
    store.close()


# -- several processes -------------------------------------------------------------

_OPENER = """
import sys, time
from datetime import UTC, datetime
from legato.records import RunRecord
from legato.states import RunState
from legato.store import SqliteStore
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
store = SqliteStore(sys.argv[1])
store.create_run(RunRecord(run_id=sys.argv[3], flow_name="f", state=RunState.PENDING,
                           created_at=datetime.now(UTC)))
store.close()
"""


def test_processes_opening_a_new_file_at_once_all_succeed(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    start = time.time() + 1.0
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPENER, str(path), str(start), f"p{i}"],
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    failures = [p.stderr.read() for p in procs if p.wait(timeout=60) != 0 and p.stderr]
    assert failures == []
    store = SqliteStore(path)
    assert sorted(r.run_id for r in store.list_runs(RunFilter())) == ["p0", "p1", "p2", "p3"]
    store.close()


_WRITER = """
import sys
from datetime import UTC, datetime
from legato.records import EventRecord, LogRecord, RunRecord, StepRecord
from legato.states import RunState, StepState
from legato.store import SqliteStore
store = SqliteStore(sys.argv[1])
now = datetime.now(UTC)
first = int(sys.argv[2])
if first == 0:
    store.create_run(RunRecord(run_id="crash", flow_name="f", state=RunState.RUNNING,
                               created_at=now))
for b in range(first, first + 100_000):
    batch = [
        StepRecord(run_id="crash", key=f"b{b}#{j}", seq=3 * b + j, task_name="t",
                   state=StepState.COMPLETED, result="x" * (3000 * j))
        for j in range(3)
    ]
    batch += [EventRecord(run_id="crash", at=now, kind="step", state=s, message=f"b{b}")
              for s in ("running", "completed")]
    batch.append(LogRecord(run_id="crash", at=now, level="INFO", message=f"b{b}"))
    store.record(batch)
    print(b, flush=True)
"""


def _batches_in(path: Path) -> tuple[dict[int, int], dict[int, int], dict[int, int]]:
    """Rows per batch number: steps, events, logs."""
    store = SqliteStore(path)
    steps: dict[int, int] = {}
    events: dict[int, int] = {}
    logs: dict[int, int] = {}
    for s in store.get_steps("crash"):
        b = int(s.key[1:].split("#")[0])
        steps[b] = steps.get(b, 0) + 1
    for e in store.get_events("crash"):
        b = int((e.message or "")[1:])
        events[b] = events.get(b, 0) + 1
    for x in store.get_logs("crash"):
        b = int(x.message[1:])
        logs[b] = logs.get(b, 0) + 1
    store.close()
    return steps, events, logs


def test_sigkill_mid_write_leaves_whole_batches_only(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    next_batch = 0
    for kill_after in (40, 150, 333):
        child = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), str(next_batch)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        acknowledged = -1
        deadline = time.monotonic() + 60
        while acknowledged < next_batch + kill_after and time.monotonic() < deadline:
            line = child.stdout.readline()
            assert line, "the writer exited early"
            acknowledged = int(line)
        child.send_signal(signal.SIGKILL)  # while it writes the next batch
        child.wait(timeout=30)
        child.stdout.close()

        steps, events, logs = _batches_in(path)
        present = sorted(steps)
        assert present == list(range(len(present))), "batches form a prefix"
        assert len(present) > acknowledged, "every acknowledged batch survived"
        for b in present:
            assert (steps[b], events.get(b), logs.get(b)) == (3, 2, 1), f"batch {b} is partial"
        assert set(events) == set(logs) == set(steps)
        next_batch = len(present)


def test_busy_timeout_is_configurable(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    holder = SqliteStore(path)
    holder.create_run(_run())
    waiter = SqliteStore(path, busy_timeout=timedelta(milliseconds=50))
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    try:
        with pytest.raises(StoreError, match="write lock.*busy timeout"):
            waiter.record([EventRecord(run_id="r1", at=T0, kind="run", state="x")])
    finally:
        raw.execute("ROLLBACK")
        raw.close()
    waiter.record([EventRecord(run_id="r1", at=T0, kind="run", state="x")])
    assert len(holder.get_events("r1")) == 1
    holder.close()
    waiter.close()
