"""The named SQL queries every SQL backend shares.

Portable SQL only (SQLite >= 3.24 and PostgreSQL): ``INSERT ... ON CONFLICT``, no
``RETURNING``, no vendor functions. Written with ``?`` placeholders; a backend whose
driver wants another style gets a translated copy from :meth:`Queries.for_placeholder`.
Column lists are in the order of the row tuples built in ``legato.store.rows``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


def _marks(count: int) -> str:
    return ", ".join("?" * count)


RUN_COLUMNS = (
    "run_id, flow_name, state, created_at, target, flow_version, params, result, "
    "serializer, error, parent_run_id, parent_step_key, owner, started_at, finished_at, tags"
)
STEP_COLUMNS = (
    "run_id, step_key, seq, task_name, state, attempts, started_at, finished_at, result, "
    "serializer, error, child_run_id, cached"
)
EVENT_COLUMNS = "run_id, at, kind, state, step_key, attempt, message, actor"
LOG_COLUMNS = "run_id, at, level, message, step_key"
CACHE_COLUMNS = "cache_key, task_name, result, serializer, created_at, expires_at"

# A run id that already exists inserts nothing (rowcount 0): the store reports a duplicate.
INSERT_RUN = (
    f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({_marks(16)}) ON CONFLICT (run_id) DO NOTHING"
)
# Only the fields that change while a run executes; the rest is fixed at creation.
UPDATE_RUN = (
    "UPDATE runs SET state = ?, result = ?, serializer = ?, error = ?, owner = ?, "
    "started_at = ?, finished_at = ? WHERE run_id = ?"
)
UPSERT_STEP = (
    f"INSERT INTO steps ({STEP_COLUMNS}) VALUES ({_marks(13)}) "
    "ON CONFLICT (run_id, step_key) DO UPDATE SET seq = excluded.seq, "
    "task_name = excluded.task_name, state = excluded.state, attempts = excluded.attempts, "
    "started_at = excluded.started_at, finished_at = excluded.finished_at, "
    "result = excluded.result, serializer = excluded.serializer, error = excluded.error, "
    "child_run_id = excluded.child_run_id, cached = excluded.cached"
)
INSERT_EVENT = f"INSERT INTO events ({EVENT_COLUMNS}) VALUES ({_marks(8)})"
INSERT_LOG = f"INSERT INTO logs ({LOG_COLUMNS}) VALUES ({_marks(5)})"
UPSERT_CACHE = (
    f"INSERT INTO cache ({CACHE_COLUMNS}) VALUES ({_marks(6)}) "
    "ON CONFLICT (cache_key) DO UPDATE SET task_name = excluded.task_name, "
    "result = excluded.result, serializer = excluded.serializer, "
    "created_at = excluded.created_at, expires_at = excluded.expires_at"
)

SELECT_RUN = f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?"
RUN_EXISTS = "SELECT 1 FROM runs WHERE run_id = ?"
# list_runs appends "WHERE ..." built from the RUNS_WHERE_* fragments, then RUNS_ORDER.
SELECT_RUNS = f"SELECT {RUN_COLUMNS} FROM runs"
RUNS_WHERE_STATE = "state = ?"
RUNS_WHERE_FLOW = "flow_name = ?"
RUNS_WHERE_PARENT = "parent_run_id = ?"
RUNS_WHERE_ROOT = "parent_run_id IS NULL"
RUNS_ORDER = " ORDER BY created_at DESC, run_id DESC LIMIT ?"
SELECT_STEPS = f"SELECT {STEP_COLUMNS} FROM steps WHERE run_id = ? ORDER BY seq, step_key"
SELECT_EVENTS = f"SELECT id, {EVENT_COLUMNS} FROM events WHERE run_id = ? ORDER BY id"
SELECT_LOGS = f"SELECT {LOG_COLUMNS} FROM logs WHERE run_id = ? ORDER BY id"
SELECT_STEP_LOGS = f"SELECT {LOG_COLUMNS} FROM logs WHERE run_id = ? AND step_key = ? ORDER BY id"
SELECT_CACHED = (
    f"SELECT {CACHE_COLUMNS} FROM cache "
    "WHERE cache_key = ? AND (expires_at IS NULL OR expires_at > ?)"
)

CREATE_MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
)
SELECT_SCHEMA_VERSION = "SELECT MAX(version) FROM schema_migrations"
INSERT_MIGRATION = "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"


@dataclass(frozen=True, slots=True)
class Queries:
    """The shared queries, with placeholders in one driver's style."""

    insert_run: str = INSERT_RUN
    update_run: str = UPDATE_RUN
    upsert_step: str = UPSERT_STEP
    insert_event: str = INSERT_EVENT
    insert_log: str = INSERT_LOG
    upsert_cache: str = UPSERT_CACHE
    select_run: str = SELECT_RUN
    run_exists: str = RUN_EXISTS
    select_runs: str = SELECT_RUNS
    runs_where_state: str = RUNS_WHERE_STATE
    runs_where_flow: str = RUNS_WHERE_FLOW
    runs_where_parent: str = RUNS_WHERE_PARENT
    runs_where_root: str = RUNS_WHERE_ROOT
    runs_order: str = RUNS_ORDER
    select_steps: str = SELECT_STEPS
    select_events: str = SELECT_EVENTS
    select_logs: str = SELECT_LOGS
    select_step_logs: str = SELECT_STEP_LOGS
    select_cached: str = SELECT_CACHED
    create_migrations_table: str = CREATE_MIGRATIONS_TABLE
    select_schema_version: str = SELECT_SCHEMA_VERSION
    insert_migration: str = INSERT_MIGRATION

    @classmethod
    def for_placeholder(cls, placeholder: str) -> Queries:
        """The queries with ``?`` replaced by ``placeholder`` (``%s`` for psycopg).

        Safe because no query contains a literal ``?``.
        """
        if placeholder == "?":
            return cls()
        return cls(
            **{f.name: getattr(cls(), f.name).replace("?", placeholder) for f in fields(cls)}
        )
