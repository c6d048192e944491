"""``SqliteStore``: the embedded default store, one SQLite file in WAL mode.

Concurrency: one writer connection behind a lock serves every thread (the engine
group-commits, so each ``record()`` carries many records); each write is one
``BEGIN IMMEDIATE ... COMMIT``, which also serializes writers from other processes.
Reads use a small pool of read-only connections, so they never wait for the writer:
WAL lets readers proceed while the single writer commits a batch.

Durability: ``"normal"`` (``synchronous=NORMAL``) survives a crash of the process,
the common case and the fast one; ``"full"`` (``synchronous=FULL``) also survives power
loss or an OS crash, at the cost of an fsync per commit.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import timedelta
from os import PathLike
from pathlib import Path
from typing import TypeVar

from legato.errors import StoreError
from legato.store import messages
from legato.store.sql import Cursor, SqlStore

T = TypeVar("T")
A = TypeVar("A")

DURABILITY_LEVELS = {"normal": "NORMAL", "full": "FULL"}

_WHERE_TO = "or point --db / LEGATO_DB at another file, such as sqlite:///./legato.db"

# What to do, by SQLite primary result code name (exc.sqlite_errorname without suffix).
_ADVICE = {
    "SQLITE_BUSY": (
        "another process held the database's write lock longer than the busy timeout; "
        "look for a stuck legato process, or use PostgreSQL for many concurrent writers"
    ),
    "SQLITE_LOCKED": "another connection holds a lock on it; retry, or restart the process",
    "SQLITE_READONLY": (
        "the file or its directory is not writable by this user: fix the permissions, " + _WHERE_TO
    ),
    "SQLITE_CANTOPEN": (
        "check that its directory exists and is writable by this user, " + _WHERE_TO
    ),
    "SQLITE_PERM": "this user may not open it: fix the permissions, " + _WHERE_TO,
    "SQLITE_NOTADB": (
        "the file is not an SQLite database: move it aside (legato then creates a new "
        "one there), " + _WHERE_TO
    ),
    "SQLITE_CORRUPT": (
        "the database file is damaged: restore it from a backup, or move it aside to "
        "start an empty store"
    ),
    "SQLITE_FULL": "the disk is full: free some space and retry",
    "SQLITE_IOERR": "the operating system failed to read or write it: check the disk",
}
_DEFAULT_ADVICE = "check the file and its directory; if it persists, report a legato bug"


class SqliteStore(SqlStore):
    """The Store on one SQLite file; safe to share between threads and processes.

    ``SqliteStore(path, durability="normal"|"full", busy_timeout=timedelta(seconds=30))``
    creates the file (mode 0600, and so its ``-wal`` and ``-shm`` files) and any missing
    directory (mode 0700) and migrates the schema; with ``create=False`` a missing file
    is an error instead, and nothing is created. Raises ``StoreError`` (naming the path
    and what to do) if the file is missing (``create=False``), cannot be opened, is a
    non-empty database that is not legato's, or has a schema newer than this legato;
    ``ValueError`` for an unknown ``durability``.
    """

    dialect = "sqlite"
    placeholder = "?"
    driver_error = sqlite3.Error
    integrity_error = sqlite3.IntegrityError

    def __init__(
        self,
        path: str | PathLike[str],
        *,
        durability: str = "normal",
        busy_timeout: timedelta = timedelta(seconds=30),
        create: bool = True,
    ) -> None:
        if durability not in DURABILITY_LEVELS:
            raise ValueError(
                f"durability={durability!r} is not one of 'normal' (survive a process "
                "crash) or 'full' (survive power loss)."
            )
        text = str(path)
        if text in ("", ":memory:") or text.startswith("file:"):
            raise StoreError(
                f"SqliteStore needs a file path, got {text!r}; for a store that lives in "
                "memory use open_store('memory://')."
            )
        # Absolute, so that reader connections opened later survive a chdir.
        self.path = Path(text).expanduser().absolute()
        super().__init__(f"sqlite:///{text}")
        self.durability = durability
        self._synchronous = DURABILITY_LEVELS[durability]
        self._busy_ms = int(busy_timeout.total_seconds() * 1000)
        self._write_lock = threading.Lock()
        self._pool_lock = threading.Lock()
        self._readers: list[sqlite3.Connection] = []
        self._closed = False
        self._check_path(create=create)
        self._check_is_legato()
        self._writer = self._connect(writer=True)
        self._cursor = self._writer.cursor()
        try:
            self._migrate()
        except BaseException:
            self._writer.close()
            raise

    def _check_path(self, *, create: bool) -> None:
        """Refuse a directory as the database file; with ``create``, make the missing
        directories (0700) and the file (0600), else refuse a missing file."""
        if self.path.is_dir():
            raise StoreError(
                f"cannot open the SQLite store {self.path}: it is a directory. Give a file "
                f"path such as {self.path / 'legato.db'}, {_WHERE_TO}."
            )
        if not create:
            if not self.path.exists():
                raise StoreError(
                    f"there is no legato store at {self.path}: the file does not exist, and "
                    "reading creates nothing. Check the path (--db / LEGATO_DB); a store is "
                    "created by the first run (legato run, legato submit, legato worker) or "
                    f"by legato db upgrade --db sqlite:///{self.path}."
                )
            return
        self._make_directories(self.path.parent)
        try:
            # The store holds parameters, results, logs and answers: owner only. SQLite
            # gives the -wal and -shm files the database file's mode.
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass
        except OSError as exc:
            raise StoreError(
                f"cannot create the SQLite store {self.path}: {exc.strerror or exc}. Check "
                f"that its directory is writable by this user, {_WHERE_TO}."
            ) from exc

    def _make_directories(self, directory: Path) -> None:
        """Create ``directory`` and its missing parents, each readable by its owner only."""
        wanted, missing = directory, []
        while not directory.exists() and directory != directory.parent:
            missing.append(directory)
            directory = directory.parent
        if not directory.is_dir():
            raise StoreError(
                f"cannot create the directory {wanted} for the SQLite store {self.path}: "
                f"{directory} is a file. Move it aside, {_WHERE_TO}."
            )
        for folder in reversed(missing):
            try:
                folder.mkdir(mode=0o700, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the directory {folder} for the SQLite store {self.path}: "
                    f"{exc.strerror or exc}. Create it yourself, {_WHERE_TO}."
                ) from exc

    def _check_is_legato(self) -> None:
        """Refuse a database that holds tables but not legato's: opening would add
        legato's tables to another program's file (and switch it to WAL)."""
        if not self.path.is_file() or self.path.stat().st_size == 0:
            return
        try:
            conn = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True)
        except sqlite3.Error:
            return  # opening the store says why
        try:
            names = [
                row[0]
                for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite%' ORDER BY name"
                )
            ]
        except sqlite3.Error:
            return  # not a database, or damaged: opening the store says which
        finally:
            conn.close()
        if names and "schema_migrations" not in names:
            shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            raise StoreError(
                f"{self.path} is an SQLite database of another program (it holds {shown}), "
                "not a legato store; legato leaves it alone. Point --db / LEGATO_DB at a "
                "new file for legato, such as sqlite:///./legato.db."
            )

    def _connect(self, *, writer: bool) -> sqlite3.Connection:
        """A connection in autocommit mode (transactions are explicit) with the pragmas
        every connection needs. ``StoreError`` if the file cannot be opened."""
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise self._store_error(exc, "open the database") from exc
        try:
            # First, so that the pragmas below wait for a concurrent opener.
            conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
            if writer:
                mode = self._enable_wal(conn)
                if mode != "wal":
                    raise StoreError(
                        f"cannot put the SQLite store {self.path} in WAL mode (it stays "
                        f"{mode!r}); keep the file on a local disk, not a network share."
                    )
                conn.execute(f"PRAGMA synchronous = {self._synchronous}")
                conn.execute("PRAGMA foreign_keys = ON")
            else:
                conn.execute("PRAGMA query_only = ON")
        except BaseException as exc:
            conn.close()
            if isinstance(exc, sqlite3.Error):
                raise self._store_error(exc, "open the database") from exc
            raise
        return conn

    def _enable_wal(self, conn: sqlite3.Connection) -> str:
        """Switch the file to WAL (a no-op once it is); the journal mode it ends in.

        Switching needs an exclusive lock and SQLite answers BUSY at once, without the
        busy handler, while another process opens the same new file: retry until the
        busy timeout instead.
        """
        deadline = time.monotonic() + self._busy_ms / 1000
        pause = 0.001
        while True:
            try:
                return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
            except sqlite3.OperationalError as exc:
                busy = getattr(exc, "sqlite_errorname", "").startswith("SQLITE_BUSY")
                if not busy or time.monotonic() + pause > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    # -- dialect hooks --------------------------------------------------------------

    def _transact(self, work: Callable[[Cursor, A], T], arg: A) -> T:
        with self._write_lock:
            if self._closed:
                raise self._closed_error()
            cur = self._cursor
            # IMMEDIATE takes the write lock now, so no other process can make this
            # transaction fail half-way with SQLITE_BUSY.
            cur.execute("BEGIN IMMEDIATE")
            try:
                result = work(cur, arg)
                cur.execute("COMMIT")
            except BaseException:
                # SQLite may already have rolled back (disk full, I/O error).
                if self._writer.in_transaction:
                    with suppress(sqlite3.Error):  # the original error says more
                        cur.execute("ROLLBACK")
                raise
            return result

    def _read(self, work: Callable[[Cursor], T]) -> T:
        conn = self._take_reader()
        try:
            return work(conn.cursor())
        finally:
            self._give_back(conn)

    def _take_reader(self) -> sqlite3.Connection:
        with self._pool_lock:
            if self._closed:
                raise self._closed_error()
            if self._readers:
                return self._readers.pop()
        return self._connect(writer=False)

    def _give_back(self, conn: sqlite3.Connection) -> None:
        with self._pool_lock:
            if not self._closed:
                self._readers.append(conn)
                return
        conn.close()

    def _run_script(self, cursor: Cursor, script: str) -> None:
        # executescript() would COMMIT first; run statement by statement instead so the
        # migration and its schema_migrations row share one transaction.
        statement = ""
        for line in script.splitlines(keepends=True):
            statement += line
            if sqlite3.complete_statement(statement):
                cursor.execute(statement)
                statement = ""
        leftover = [
            ln for ln in statement.splitlines() if ln.strip() and not ln.lstrip().startswith("--")
        ]
        if leftover:
            raise StoreError(f"migration script ends with an unfinished statement: {leftover}")

    def _store_error(self, exc: Exception, doing: str) -> StoreError:
        name = getattr(exc, "sqlite_errorname", "") or ""
        primary = "_".join(name.split("_")[:2])
        advice = _ADVICE.get(primary, _DEFAULT_ADVICE)
        return StoreError(
            f"SQLite store {self.path}: could not {doing}: {exc}. {advice[0].upper()}{advice[1:]}."
        )

    def _closed_error(self) -> StoreError:
        return StoreError(messages.closed(f"the SQLite store {self.path}"))

    def close(self) -> None:
        """Close every connection (the last one checkpoints the WAL). Idempotent; any
        later call on this store raises ``StoreError``."""
        with self._write_lock:
            with self._pool_lock:
                if self._closed:
                    return
                self._closed = True
                readers, self._readers = self._readers, []
            for conn in readers:
                conn.close()
            self._writer.close()
