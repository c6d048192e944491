"""``SqlStore``: the Store logic every SQL backend shares.

A backend subclasses it and supplies the dialect hooks: how to run a write transaction
(:meth:`SqlStore._transact`) and a read (:meth:`SqlStore._read`), how to execute a
migration script, which driver exceptions mean what, and its placeholder style. The
queries themselves are shared (``legato.store.queries``); migrations live in
``store/migrations/<dialect>/NNNN_name.sql``, numbered alike for every dialect.

Errors: every driver error leaves a public method as ``StoreError(...) from exc``
(built by the backend's :meth:`SqlStore._store_error`, which knows the file or server
and what to do); ``RunNotFoundError`` when a run is missing.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self, TypeVar

from legato.clock import utcnow
from legato.errors import RunNotFoundError, StoreError
from legato.records import (
    CacheRecord,
    Change,
    EventRecord,
    LogRecord,
    RunFilter,
    RunRecord,
    StepRecord,
)
from legato.store import messages, rows
from legato.store.base import Store
from legato.store.deployments_sql import SqlDeployments
from legato.store.queries import Queries
from legato.store.queue_sql import SqlQueue
from legato.store.run_pages import SqlRunPages
from legato.store.run_search import SqlRunSearch
from legato.store.step_counts import SqlStepCounts
from legato.store.tokens import SqlTokens

T = TypeVar("T")
A = TypeVar("A")

MIGRATIONS_ROOT = Path(__file__).parent / "migrations"
_MIGRATION_NAME = re.compile(r"^(\d{4})_(\w+)\.sql$")


class Cursor(Protocol):
    """The part of a DB-API cursor the shared logic uses."""

    @property
    def rowcount(self) -> int: ...

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Self: ...
    def executemany(self, sql: str, params: Any, /) -> object: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(dialect: str) -> list[Migration]:
    """The dialect's migrations, numbered 1..N without gaps (checked: a gap is a bug)."""
    found = []
    for path in sorted((MIGRATIONS_ROOT / dialect).glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if match is None:
            raise StoreError(
                f"migration file {path} is not named NNNN_name.sql; rename it (legato bug)"
            )
        found.append(Migration(int(match[1]), match[2], path.read_text(encoding="utf-8")))
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise StoreError(
                f"migrations in {MIGRATIONS_ROOT / dialect} skip from {expected - 1} to "
                f"{migration.version}; number them without gaps (legato bug)"
            )
    return found


class SqlStore(
    SqlQueue, SqlDeployments, SqlRunSearch, SqlStepCounts, SqlRunPages, SqlTokens, Store
):
    """Shared Store implementation over a DB-API driver; subclass per dialect.

    Thread safety and transaction boundaries are the backend's: its ``_transact`` runs
    ``work`` in one write transaction (serialized however the backend must), its
    ``_read`` runs ``work`` on a connection safe for the calling thread.
    """

    dialect: ClassVar[str]  # the migrations subdirectory: "sqlite", "postgres"
    placeholder: ClassVar[str] = "?"
    driver_error: ClassVar[type[Exception]] = Exception  # the driver's base error
    integrity_error: ClassVar[type[Exception]] = Exception  # constraint violations

    url: str

    def __init__(self, url: str) -> None:
        self.url = url
        self._q = Queries.for_placeholder(self.placeholder)
        self._multi_row_cache: dict[tuple[str, int], str] = {}
        self._work_signal = threading.Condition()

    # -- dialect hooks --------------------------------------------------------------

    def _transact(self, work: Callable[[Cursor, A], T], arg: A) -> T:
        """Run ``work(cursor, arg)`` in one write transaction: commit if it returns,
        roll back and re-raise if it raises. Driver errors propagate untranslated."""
        raise NotImplementedError

    def _read(self, work: Callable[[Cursor], T]) -> T:
        """Run ``work(cursor)`` on a reading connection. Driver errors propagate."""
        raise NotImplementedError

    def _run_script(self, cursor: Cursor, script: str) -> None:
        """Execute a migration script (several statements) inside the open transaction."""
        raise NotImplementedError

    def _store_error(self, exc: Exception, doing: str) -> StoreError:
        """The ``StoreError`` for a driver error met while ``doing`` (what to do included)."""
        return StoreError(f"store {self.url}: could not {doing}: {exc}")

    # -- migrations -----------------------------------------------------------------

    def _migrate(self) -> int:
        """Bring the schema to the newest version this code knows, in one transaction.

        Several processes opening a new database at once serialize on the write
        transaction: the first migrates, the others then find nothing to do. Returns the
        resulting version. Raises ``StoreError`` if the database is newer than the code.
        """
        migrations = load_migrations(self.dialect)
        q = self._q

        def work(cur: Cursor, _: None) -> int:
            cur.execute(q.create_migrations_table)
            current = cur.execute(q.select_schema_version).fetchone()[0] or 0
            latest = migrations[-1].version if migrations else 0
            if current > latest:
                raise StoreError(
                    f"the database {self.url} has schema version {current}, but this "
                    f"version of legato knows schema versions up to {latest}: it was "
                    "written by a newer legato. Upgrade legato (pip install -U legato) to "
                    "open it, or point --db / LEGATO_DB at another database."
                )
            now = rows.micros(utcnow())
            for migration in migrations[current:]:
                self._run_script(cur, migration.sql)
                cur.execute(q.insert_migration, (migration.version, migration.name, now))
            return latest

        return self._write("apply the schema migrations", work, None, ())

    # -- writes ---------------------------------------------------------------------

    def _write(
        self,
        doing: str,
        work: Callable[[Cursor, A], T],
        arg: A,
        changes: Sequence[Change],
    ) -> T:
        """``_transact`` with driver errors translated. A constraint violation caused by
        a record whose run does not exist becomes ``RunNotFoundError``."""
        try:
            return self._transact(work, arg)
        except StoreError:
            raise
        except self.integrity_error as exc:
            missing = self._first_missing_run(changes)
            if missing is not None:
                raise RunNotFoundError(missing) from exc
            raise self._store_error(exc, doing) from exc
        except self.driver_error as exc:
            raise self._store_error(exc, doing) from exc

    def _first_missing_run(self, changes: Sequence[Change]) -> str | None:
        """The first run id referenced by ``changes`` that the store does not hold."""
        run_ids = dict.fromkeys(c.run_id for c in changes if not isinstance(c, CacheRecord))
        exists = self._q.run_exists

        def first_missing(cur: Cursor) -> str | None:
            for run_id in run_ids:
                if cur.execute(exists, (run_id,)).fetchone() is None:
                    return run_id
            return None

        return self._read(first_missing)

    def create_run(self, run: RunRecord, *, events: Sequence[EventRecord] = ()) -> None:
        """Insert a new run and its first events in one transaction.

        Raises ``StoreError`` if a run with that id exists (nothing is written then),
        ``RunNotFoundError`` if an event names another run that does not exist.
        """
        try:
            run_row = rows.run_row(run)
            event_rows = [rows.event_row(event) for event in events]
        except (TypeError, ValueError, AttributeError) as exc:
            raise StoreError(messages.unencodable(run, exc)) from exc
        q = self._q

        def work(cur: Cursor, _: None) -> None:
            cur.execute(q.insert_run, run_row)
            if cur.rowcount == 0:
                raise StoreError(messages.duplicate_run(run.run_id, self.url))
            if event_rows:
                cur.executemany(q.insert_event, event_rows)

        # On a constraint violation, look for the runs that events name besides this one
        # (which the rollback just removed again).
        others = [event for event in events if event.run_id != run.run_id]
        self._write(f"create run {run.run_id}", work, None, others)

    def record(self, changes: Sequence[Change]) -> None:
        """Apply a batch in one transaction: all of it is durable when this returns, or
        none of it is written.

        ``RunRecord`` updates the mutable fields of an existing run (state, result,
        serializer, error, owner, started_at, finished_at); a child run that ends makes
        its parent due if the parent waits for it (``RunRecord.wakes_parent``), in the
        same transaction, and wakes idle workers; ``StepRecord`` and
        ``CacheRecord`` insert or replace; ``EventRecord`` and ``LogRecord`` append.
        Raises ``RunNotFoundError`` if a record names a run that does not exist,
        ``StoreError`` for a record that cannot be stored or a database failure.
        """
        if not changes:
            return
        batch = rows.encode_batch(changes)
        self._write("record a batch of changes", self._apply, batch, changes)
        if batch.wakes:
            self._wake_local_workers()

    def _apply(self, cur: Cursor, batch: rows.Batch) -> None:
        q = self._q
        for row in batch.runs:
            cur.execute(q.update_run, row)
            if cur.rowcount == 0:
                raise RunNotFoundError(row[-1])
        if batch.steps:
            self._insert_rows(cur, q.upsert_step, _last_per_key(batch.steps, 2))
        if batch.events:
            self._insert_rows(cur, q.insert_event, batch.events)
        if batch.logs:
            self._insert_rows(cur, q.insert_log, batch.logs)
        if batch.cache:
            self._insert_rows(cur, q.upsert_cache, _last_per_key(batch.cache, 1))
        if batch.wakes:
            for wake in batch.wakes:
                cur.execute(q.wake_waiting_run, wake)
            self._notify_work(cur)

    def _insert_rows(self, cur: Cursor, statement: str, batch_rows: Sequence[Any]) -> None:
        """Run a one-row INSERT for many rows as few multi-row statements.

        Drivers release the GIL around every statement they execute; ``executemany``
        thus hands the GIL over once per row, and each time a CPU-busy thread keeps it
        for a whole switch interval. Multi-row VALUES make that once per chunk.
        """
        if len(batch_rows) == 1:
            cur.execute(statement, batch_rows[0])
            return
        for start in range(0, len(batch_rows), ROWS_PER_STATEMENT):
            chunk = batch_rows[start : start + ROWS_PER_STATEMENT]
            params = [value for row in chunk for value in row]
            cur.execute(self._multi_row(statement, len(chunk[0]), len(chunk)), params)

    def _multi_row(self, statement: str, width: int, count: int) -> str:
        key = (statement, count)
        text = self._multi_row_cache.get(key)
        if text is None:
            one = "(" + ", ".join([self.placeholder] * width) + ")"
            head, _, tail = statement.partition(f"VALUES {one}")
            text = f"{head}VALUES {', '.join([one] * count)}{tail}"
            if len(self._multi_row_cache) < 256:
                self._multi_row_cache[key] = text
        return text

    # -- reads ----------------------------------------------------------------------

    def _fetch(self, doing: str, sql: str, params: Sequence[Any], one: bool = False) -> Any:
        try:
            if one:
                return self._read(lambda cur: cur.execute(sql, params).fetchone())
            return self._read(lambda cur: cur.execute(sql, params).fetchall())
        except StoreError:
            raise
        except self.driver_error as exc:
            raise self._store_error(exc, doing) from exc

    def get_run(self, run_id: str) -> RunRecord:
        """The run. Raises ``RunNotFoundError``, or ``StoreError`` if the read fails."""
        row = self._fetch(f"read run {run_id}", self._q.select_run, (run_id,), one=True)
        if row is None:
            raise RunNotFoundError(run_id)
        return rows.decode_run(row)

    def list_runs(self, filter: RunFilter) -> list[RunRecord]:
        """Runs matching every condition of ``filter``, newest first (by ``created_at``,
        then run id), at most ``filter.limit``. Raises ``StoreError``."""
        q = self._q
        conditions: list[str] = []
        params: list[Any] = []
        if filter.state is not None:
            conditions.append(q.runs_where_state)
            params.append(str(filter.state))
        if filter.states:
            marks = ", ".join([self.placeholder] * len(filter.states))
            conditions.append(f"state IN ({marks})")
            params.extend(str(state) for state in filter.states)
        if filter.flow_name is not None:
            conditions.append(q.runs_where_flow)
            params.append(filter.flow_name)
        if filter.parent_run_id is not None:
            conditions.append(q.runs_where_parent)
            params.append(filter.parent_run_id)
        if filter.roots_only:
            conditions.append(q.runs_where_root)
        sql = q.select_runs
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        params.append(max(filter.limit, 0))
        found = self._fetch("list runs", sql + q.runs_order, params)
        return [rows.decode_run(row) for row in found]

    def get_steps(self, run_id: str) -> list[StepRecord]:
        """The run's steps ordered by ``seq``; empty for an unknown run. ``StoreError``."""
        found = self._fetch(f"read the steps of run {run_id}", self._q.select_steps, (run_id,))
        return [rows.decode_step(row) for row in found]

    def get_events(self, run_id: str) -> list[EventRecord]:
        """The run's history, oldest first, with store-assigned increasing ids; empty for
        an unknown run. Raises ``StoreError``."""
        found = self._fetch(f"read the events of run {run_id}", self._q.select_events, (run_id,))
        return [rows.decode_event(row) for row in found]

    def get_logs(self, run_id: str, step_key: str | None = None) -> list[LogRecord]:
        """Log records of the run, or of one of its steps, oldest first. ``StoreError``."""
        params: tuple[str, ...]
        if step_key is None:
            sql, params = self._q.select_logs, (run_id,)
        else:
            sql, params = self._q.select_step_logs, (run_id, step_key)
        found = self._fetch(f"read the logs of run {run_id}", sql, params)
        return [rows.decode_log(row) for row in found]

    def get_cached(self, cache_key: str, *, now: datetime) -> CacheRecord | None:
        """The entry at ``cache_key`` unless missing or expired (``expires_at <= now``).
        Raises ``StoreError`` (also for a naive ``now``)."""
        try:
            at = rows.micros(now)
        except TypeError as exc:
            raise StoreError(messages.naive_now(now)) from exc
        row = self._fetch(
            f"read cache entry {cache_key!r}", self._q.select_cached, (cache_key, at), one=True
        )
        return None if row is None else rows.decode_cache(row)

    def close(self) -> None:
        """Release connections. Idempotent."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


# Rows per multi-row INSERT: 13 columns x 400 rows stays under SQLite's 32,766 and
# PostgreSQL's 65,535 bound parameters.
ROWS_PER_STATEMENT = 400


def _last_per_key(batch_rows: Sequence[Any], key_width: int) -> Sequence[Any]:
    """Keep the last row for each key (the first ``key_width`` columns): one statement
    may not upsert the same row twice on PostgreSQL, and the last version wins anyway."""
    if len(batch_rows) < 2:
        return batch_rows
    latest = {tuple(row[:key_width]): row for row in batch_rows}
    return batch_rows if len(latest) == len(batch_rows) else list(latest.values())
