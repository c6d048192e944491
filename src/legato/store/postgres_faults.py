"""What goes wrong between legato and a PostgreSQL server, and what to do about it.

Which driver errors mean the connection is gone (and the attempt may run again), how
long an operation keeps trying, and the advice a ``StoreError`` gives, by libpq message
or SQLSTATE. Used by ``legato.store.postgres``.
"""

from __future__ import annotations

import time

import psycopg
from psycopg_pool import PoolClosed, PoolTimeout

# Server codes after which the failed attempt changed nothing and may run again:
# shut down, crashed, still starting; serialization failure, deadlock (rolled back).
RETRY_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "40001", "40P01"})


class Patience:
    """How long one operation keeps retrying: from its first failure, ``limit`` seconds,
    pausing 0, 50 ms, 100 ms, ... up to 1 s between attempts."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.deadline = 0.0
        self.pause = 0.0
        self.started = False

    def wait(self) -> bool:
        now = time.monotonic()
        if not self.started:
            self.started = True
            self.deadline = now + self.limit
        if now >= self.deadline:
            return False
        time.sleep(min(self.pause, self.deadline - now))
        self.pause = min(max(self.pause * 2, 0.05), 1.0)
        return True


def connection_lost(exc: BaseException | None) -> bool:
    """The connection broke (or none could be had): the server's state is unknown."""
    if isinstance(exc, PoolTimeout):
        return True
    if isinstance(exc, PoolClosed) or not isinstance(exc, psycopg.OperationalError):
        return False
    state = exc.sqlstate
    return state is None or state.startswith("08") or state in ("57P01", "57P02", "57P03")


def retryable(exc: BaseException) -> bool:
    """The failed attempt certainly changed nothing and may simply run again."""
    if connection_lost(exc):
        return True
    return isinstance(exc, psycopg.OperationalError) and exc.sqlstate in RETRY_SQLSTATES


def connect_advice(message: str, *, host: str, port: str, database: str) -> str:
    """What to do when connecting failed with libpq's ``message``."""
    text = message.lower()
    for needles, advice in _CONNECT_ADVICE:
        if any(needle in text for needle in needles):
            return advice.format(host=host, port=port, database=database)
    return _REACH_ADVICE.format(host=host, port=port)


def server_advice(sqlstate: str, *, url: str) -> str:
    """What to do about a server error with code ``sqlstate``."""
    advice = _SQLSTATE_ADVICE.get(sqlstate) or _SQLSTATE_ADVICE.get(sqlstate[:2])
    return (advice or _DEFAULT_ADVICE).format(url=url)


def capital(text: str) -> str:
    return text[:1].upper() + text[1:]


_REACH_ADVICE = (
    "check that the PostgreSQL server is running and reachable at {host}:{port} "
    "(pg_isready -h {host} -p {port} tells), or point --db / LEGATO_DB at another database"
)
# What to do when connecting fails, by a phrase of libpq's message.
_CONNECT_ADVICE: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("password authentication failed", "no password supplied", "authentication failed"),
        "check the user name and password in the URL (or in PGPASSWORD / ~/.pgpass)",
    ),
    (
        ("does not exist",),
        "create it (for a database: createdb -h {host} -p {port} {database}) or fix its "
        "name in the URL",
    ),
    (
        ("failed to resolve host", "could not translate host name"),
        "check the host name in the URL, or point --db / LEGATO_DB at another database",
    ),
    (
        ("invalid integer value", "invalid connection option", "invalid value", "invalid port"),
        "fix the URL; its form is postgresql://user:password@host:5432/database[?schema=NAME]",
    ),
    (("pg_hba.conf",), "the server refuses this client: allow it in the server's pg_hba.conf"),
    (
        ("too many clients", "remaining connection slots"),
        "the server has no connection slot left: close idle clients, raise max_connections, "
        "or lower the pool size",
    ),
    (
        ("starting up", "shutting down", "recovery mode"),
        "the server is starting or stopping: retry in a moment",
    ),
    (("ssl",), "check the sslmode and certificates in the URL against the server's settings"),
)
# What to do about a server error, by SQLSTATE code or class.
_SQLSTATE_ADVICE = {
    "42501": "the database user lacks a privilege on legato's tables: grant it, or connect "
    "as the role that owns them",
    "42P01": "the schema is older than this legato: run legato db upgrade --db {url}",
    "42703": "the schema is older than this legato: run legato db upgrade --db {url}",
    "3F000": "the schema in the URL does not exist: create it, or fix ?schema=",
    "25006": "the server is a read-only standby: point --db / LEGATO_DB at the primary",
    "53": "the server is out of resources (disk, memory or connection slots): free some, "
    "then retry",
    "57": "the server cancelled the statement (a timeout or an operator): retry, and check "
    "statement_timeout",
    "40": "the transaction conflicted with another one too often: retry",
}
_DEFAULT_ADVICE = "if it persists, check the server's log"
