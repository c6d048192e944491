"""``PostgresStore``: the Store on a PostgreSQL database that many machines share.

Connections: a psycopg 3 connection pool serves every thread. Each write is one explicit
``BEGIN ... COMMIT`` on an autocommit connection; a read is a single statement.

Schema: ``migrations/postgres/NNNN_*.sql``, numbered as SQLite's, applied at open (or by
``legato db upgrade``) under a transaction-scoped advisory lock, so that processes
opening a new database at once take turns. ``?schema=NAME`` in the URL keeps legato's
tables in that (existing) schema.

Outages: an operation that meets a lost connection (server restart, failover, network)
runs again with backoff for up to ``reconnect_timeout``, on a fresh connection. A write
runs again only when it certainly did not commit: every write transaction learns its
transaction id first, and when the answer to its COMMIT is lost, the store asks the
server (``pg_xact_status``) once it is back. So no batch is lost and none is applied
twice, events and logs included.

Waking workers: a submit or a release sends ``NOTIFY legato_work`` in its transaction;
``wait_for_work`` listens on a connection of its own.

Needs PostgreSQL 13 or newer (``pg_current_xact_id``).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool, PoolTimeout

from legato.errors import StoreError
from legato.records import RunRecord
from legato.store import messages
from legato.store.postgres_faults import (
    Patience,
    capital,
    connect_advice,
    connection_lost,
    retryable,
    server_advice,
)
from legato.store.sql import Cursor, SqlStore
from legato.store.urls import redact_url, split_postgres_url

T = TypeVar("T")
A = TypeVar("A")

log = logging.getLogger(__name__)

CHANNEL = "legato_work"  # NOTIFY channel (+ "_SCHEMA"): a run may have become runnable
MIN_SERVER_VERSION = 130000

# One key for every legato schema change in a database (schemas included): migrations
# are rare and short, so taking turns across schemas costs nothing.
_MIGRATION_LOCK_KEY = 0x6C65_6761_746F  # "legato"
# One round trip: open the transaction and learn its id, to settle a lost COMMIT later.
_BEGIN = "BEGIN; SELECT pg_current_xact_id()::text"
_XACT_STATUS = "SELECT pg_xact_status(%s::xid8)"
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class PostgresStore(SqlStore):
    """The Store on a PostgreSQL database; safe to share between threads and processes.

    ``PostgresStore("postgresql://user:password@host:5432/db?schema=legato")`` connects,
    checks the server and applies the schema migrations (``migrate=False`` skips them:
    for ``legato db upgrade``, which reports the version before and after).
    ``pool_size`` caps the connections this store opens (plus one for
    ``wait_for_work``); ``reconnect_timeout`` is how long an operation keeps retrying
    while the server is unreachable before it raises.

    Raises ``StoreError`` naming the URL (password hidden) and what to do when the
    server is unreachable, refuses the user or password, lacks the database or schema,
    or holds a schema newer than this legato.
    """

    dialect = "postgres"
    placeholder = "%s"
    driver_error = psycopg.Error
    integrity_error = psycopg.IntegrityError

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        connect_timeout: timedelta = timedelta(seconds=10),
        reconnect_timeout: timedelta = timedelta(seconds=30),
        migrate: bool = True,
    ) -> None:
        super().__init__(redact_url(url.strip()))
        params, self.schema = _connection_params(url, self.url, connect_timeout)
        self._password = str(params.get("password") or "")
        self._host = str(params.get("host") or "localhost")
        self._port = str(params.get("port") or 5432)
        self._database = str(params.get("dbname") or params.get("user") or "")
        self._conninfo = make_conninfo(**params)
        self._reconnect_timeout = reconnect_timeout.total_seconds()
        self._closed = False
        self._degraded = False  # a connection was lost; the pool may hold stale ones
        self._lock_schema = False
        # Per schema, so that stores in other schemas of the database are not woken.
        self._channel = CHANNEL if self.schema is None else f"{CHANNEL}_{self.schema}"[:63]
        self._listen_lock = threading.Lock()
        self._listener: psycopg.Connection[Any] | None = None
        self._check_server()
        self._pool = ConnectionPool(
            self._conninfo,
            kwargs={"autocommit": True},
            min_size=1,
            max_size=max(1, pool_size),
            name=f"legato {self.url}",
            timeout=self._reconnect_timeout,
            reconnect_timeout=max(self._reconnect_timeout, 60.0),
            open=False,
        )
        self._pool.open(wait=False)
        if migrate:
            try:
                self._migrate()
            except BaseException:
                self.close()
                raise

    # -- opening --------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        """A new autocommit connection outside the pool; driver errors propagate."""
        return psycopg.connect(self._conninfo, autocommit=True)

    def _check_server(self) -> None:
        """Connect once, so that a wrong URL fails now with its precise reason."""
        try:
            conn = self._connect()
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot open the PostgreSQL store {self.url}: {self._describe(exc)}. "
                f"{capital(self._connect_advice(exc))}."
            ) from exc
        try:
            with conn:
                version = conn.info.server_version
                schema = conn.execute("SELECT current_schema()").fetchone()
        except psycopg.Error as exc:
            raise self._store_error(exc, "check the server") from exc
        if version < MIN_SERVER_VERSION:
            raise StoreError(
                f"the PostgreSQL server of {self.url} runs version {version // 10000}; "
                "legato needs PostgreSQL 13 or newer. Upgrade the server, or use SQLite."
            )
        if schema is None or schema[0] is None:
            missing = (
                f"schema {self.schema!r} does not exist"
                if self.schema
                else "no schema of the user's search_path exists"
            )
            raise StoreError(
                f"cannot open the PostgreSQL store {self.url}: {missing} in database "
                f"{self._database!r}. Create it (CREATE SCHEMA {self.schema or 'legato'};) "
                "or name an existing one with ?schema=NAME in the URL."
            )

    def schema_version(self) -> int:
        """The newest migration applied to the database (0 for an empty one)."""

        def version(cur: Cursor) -> int:
            table = cur.execute("SELECT to_regclass('schema_migrations')").fetchone()
            if table is None or table[0] is None:
                return 0
            return int(cur.execute(self._q.select_schema_version).fetchone()[0] or 0)

        try:
            return self._read(version)
        except psycopg.Error as exc:
            raise self._store_error(exc, "read the schema version") from exc

    def migrate(self) -> int:
        """Apply the migrations this legato knows and the database lacks; the resulting
        version. Raises ``StoreError`` if the database is newer than this legato."""
        return self._migrate()

    def _migrate(self) -> int:
        # SqlStore._migrate runs in one transaction; _transaction takes the advisory lock
        # first while this flag is set, so that concurrent openers take turns.
        self._lock_schema = True
        try:
            return super()._migrate()
        finally:
            self._lock_schema = False

    # -- dialect hooks --------------------------------------------------------------

    def _transact(self, work: Callable[[Cursor, A], T], arg: A) -> T:
        patience = Patience(self._reconnect_timeout)
        while True:
            try:
                with self._connection() as conn:
                    return self._transaction(conn, work, arg)
            except _CommitUnknown as unknown:
                if self._committed(unknown, patience):
                    return cast(T, unknown.result)
            except psycopg.Error as exc:
                if not retryable(exc) or not self._lost(exc, patience):
                    raise

    def _transaction(
        self, conn: psycopg.Connection[Any], work: Callable[[Cursor, A], T], arg: A
    ) -> T:
        cur = conn.cursor()
        cur.execute(_BEGIN)
        cur.nextset()
        began = cur.fetchone()
        assert began is not None  # _BEGIN ends with a SELECT of one row
        xid = began[0]
        try:
            if self._lock_schema:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK_KEY,))
            result = work(cur, arg)
        except BaseException:
            if not conn.broken:
                with suppress(psycopg.Error):  # the original error says more
                    conn.execute("ROLLBACK", prepare=False)
            raise
        try:
            cur.execute("COMMIT", prepare=False)  # preparing it would save nothing
        except psycopg.Error as exc:
            if connection_lost(exc):
                raise _CommitUnknown(xid, result) from exc
            raise
        return result

    def _committed(self, unknown: _CommitUnknown, patience: Patience) -> bool:
        """Whether the transaction whose COMMIT went unanswered did commit; waits for the
        server to be back to ask it. ``StoreError`` if it cannot tell in time."""
        cause = unknown.__cause__
        if not self._lost(cause, patience):
            raise self._unknown_outcome(cause)
        while True:
            try:
                with self._connection() as conn:
                    row = conn.execute(_XACT_STATUS, (unknown.xid,)).fetchone()
            except psycopg.Error as exc:
                if not retryable(exc) or not self._lost(exc, patience):
                    raise self._unknown_outcome(exc) from exc
                continue
            status = None if row is None else row[0]
            if status == "committed":
                return True
            if status == "aborted":
                return False
            # "in progress": the old session has not finished yet.
            if status != "in progress" or not patience.wait():
                raise self._unknown_outcome(cause)

    def _unknown_outcome(self, exc: BaseException | None) -> StoreError:
        return StoreError(
            f"PostgreSQL store {self.url}: the connection was lost while a write "
            f"committed, and the server did not say within {self._reconnect_timeout:g} s "
            f"whether it did ({self._describe(exc)}). Check that the server is running "
            f"(pg_isready -h {self._host} -p {self._port}); the run resumes by "
            "replay either way."
        )

    def _read(self, work: Callable[[Cursor], T]) -> T:
        patience = Patience(self._reconnect_timeout)
        while True:
            try:
                with self._connection() as conn:
                    return work(conn.cursor())
            except psycopg.Error as exc:
                if not retryable(exc) or not self._lost(exc, patience):
                    raise

    def _run_script(self, cursor: Cursor, script: str) -> None:
        # Without parameters psycopg sends the script as one simple query: its statements
        # run in the open transaction, one after the other.
        cursor.execute(script)

    # -- connections ------------------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection; after a lost connection, one of our own if the pool has
        none at hand (it reconnects on its own schedule, with backoff up to minutes)."""
        if self._closed:
            raise StoreError(messages.closed(f"the PostgreSQL store {self.url}"))
        if not self._degraded:
            with self._pool.connection() as conn:
                yield conn
            return
        try:
            pooled = self._pool.getconn(timeout=0.05)
        except PoolTimeout:
            with self._connect() as conn:
                yield conn
            return
        try:
            yield pooled
        finally:
            self._pool.putconn(pooled)
        self._degraded = False

    def _lost(self, exc: BaseException | None, patience: Patience) -> bool:
        """Note an attempt that failed without changing anything and wait before the
        next one; False when ``reconnect_timeout`` has passed since the first failure."""
        if not patience.started:
            log.warning(
                "PostgreSQL store %s: %s; retrying for up to %g s",
                self.url,
                self._describe(exc),
                self._reconnect_timeout,
            )
        if not self._degraded:
            self._degraded = True
            with suppress(Exception):  # drop the pool's stale connections now
                self._pool.check()
        return patience.wait()

    # -- the run queue: PostgreSQL's own SQL ------------------------------------------

    def _lease_epochs_sql(self, count: int) -> str:
        # NO KEY UPDATE conflicts with a claim's UPDATE, not with inserting steps; rows are
        # locked in the query's run id order.
        return super()._lease_epochs_sql(count) + " FOR NO KEY UPDATE"

    def _candidates(self, cur: Cursor, sql: str, params: Sequence[Any]) -> list[Any]:
        # Concurrent claimers each lock their own candidates instead of queueing up
        # behind the first one's.
        return list(cur.execute(sql + " FOR NO KEY UPDATE SKIP LOCKED", params).fetchall())

    def _notify_work(self, cur: Cursor) -> None:
        cur.execute(f"NOTIFY {self._channel}")  # delivered at commit, to every listener

    def claim_run(
        self, *, worker_id: str, queues: Sequence[str], lease: timedelta, now: datetime
    ) -> RunRecord | None:
        """See ``QueueStore.claim_run``. Also starts listening for work, so that a run
        submitted right after an empty claim wakes the next ``wait_for_work``."""
        if self._listener is None:
            with self._listen_lock:
                self._listening()
        return super().claim_run(worker_id=worker_id, queues=queues, lease=lease, now=now)

    def wait_for_work(self, timeout: float) -> None:
        """Block until a notification arrives (a submit or a release by any process) or
        ``timeout`` seconds pass; returns at once if one arrived since the last call.
        Without a listening connection (server away) it waits for a submit or release
        in this process only."""
        deadline = time.monotonic() + max(0.0, timeout)
        while not self._closed:
            # The lock is held one slice at a time, so that close() never waits long.
            with self._listen_lock:
                listener = self._listening()
                if listener is not None:
                    slice_ = min(deadline - time.monotonic(), 0.5)
                    try:
                        if any(True for _ in listener.notifies(timeout=slice_, stop_after=1)):
                            for _ in listener.notifies(timeout=0):
                                pass  # drain: one wake-up is enough
                            return
                    except psycopg.Error:
                        self._drop_listener()
                        return  # something changed; the caller's next claim tells what
                    if time.monotonic() >= deadline:
                        return
                    continue
            super().wait_for_work(max(0.0, deadline - time.monotonic()))
            return

    def _listening(self) -> psycopg.Connection[Any] | None:
        """The listening connection (made on first use); None if the server is away.
        Caller holds ``_listen_lock``."""
        if self._listener is None and not self._closed:
            conn = None
            try:
                conn = self._connect()
                conn.execute(f"LISTEN {self._channel}")
            except psycopg.Error as exc:
                if conn is not None:
                    conn.close()
                log.debug("PostgreSQL store %s: cannot listen: %s", self.url, self._describe(exc))
                return None
            self._listener = conn
        return self._listener

    def _drop_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()

    # -- errors -----------------------------------------------------------------------

    def _describe(self, exc: BaseException | None) -> str:
        """The driver's message on one line, without the password."""
        if isinstance(exc, PoolTimeout):
            text = f"no connection within {self._reconnect_timeout:g} s"
            reason = self._probe()
            return f"{text} ({reason})" if reason else text
        text = " ".join(str(exc).split()) if exc is not None else "connection lost"
        text = text.removeprefix("connection failed: ")
        if self._password:
            text = text.replace(self._password, "***")
        return text.rstrip(".")

    def _probe(self) -> str:
        """Why a new connection fails now, or "" if it succeeds."""
        try:
            self._connect().close()
        except psycopg.Error as exc:
            return self._describe(exc)
        return ""

    def _connect_advice(self, exc: BaseException) -> str:
        return connect_advice(str(exc), host=self._host, port=self._port, database=self._database)

    def _store_error(self, exc: Exception, doing: str) -> StoreError:
        if connection_lost(exc):
            advice = (
                f"the server did not answer for {self._reconnect_timeout:g} s: "
                + self._connect_advice(exc)
            )
        else:
            advice = server_advice(getattr(exc, "sqlstate", None) or "", url=self.url)
        return StoreError(
            f"PostgreSQL store {self.url}: could not {doing}: {self._describe(exc)}. "
            f"{capital(advice)}."
        )

    def close(self) -> None:
        """Close every connection. Idempotent; any later call on this store raises
        ``StoreError``."""
        if self._closed:
            return
        self._closed = True
        with self._listen_lock:  # wait_for_work returns within its 0.5 s slice
            self._drop_listener()
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.close(timeout=5.0)


class _CommitUnknown(Exception):
    """The connection broke while COMMIT was in flight: committed or not, unknown yet."""

    def __init__(self, xid: str, result: object) -> None:
        super().__init__(xid)
        self.xid = xid
        self.result = result


def _connection_params(
    url: str, shown: str, connect_timeout: timedelta
) -> tuple[dict[str, Any], str | None]:
    """libpq connection parameters for ``url`` and the schema it names (``?schema=``)."""
    # Taken apart here, not by urlsplit or libpq: a password may hold ?, # or @.
    split = split_postgres_url(url)
    parts = urlsplit(f"postgresql://{split.location}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((value for key, value in query if key == "schema"), None)
    if schema is not None:
        if not _SCHEMA_NAME.match(schema):
            raise StoreError(
                f"store URL {shown!r}: schema={schema!r} is not a plain SQL name; use "
                "letters, digits and underscores, such as ?schema=legato."
            )
        kept = urlencode([(key, value) for key, value in query if key != "schema"])
        parts = parts._replace(query=kept)
    try:
        params = conninfo_to_dict(urlunsplit(parts))
    except psycopg.Error as exc:
        raise StoreError(
            f"store URL {shown!r} is not a valid PostgreSQL URL: {' '.join(str(exc).split())}. "
            "Write postgresql://user:password@host:5432/database[?schema=NAME]."
        ) from exc
    if split.user is not None:
        params["user"] = split.user
    if split.password is not None:
        params["password"] = split.password
    params.setdefault("connect_timeout", max(1, round(connect_timeout.total_seconds())))
    params.setdefault("application_name", "legato")
    if schema is not None:
        params["options"] = f"{params.get('options') or ''} -csearch_path={schema}".strip()
    return params, schema
