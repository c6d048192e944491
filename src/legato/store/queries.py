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
    "serializer, error, parent_run_id, parent_step_key, owner, started_at, finished_at, tags, "
    "queue, priority, idempotency_key, lease_epoch, lease_expires_at, wake_at, waiting_for, "
    "deadline_at, recoveries"
)
STEP_COLUMNS = (
    "run_id, step_key, seq, task_name, state, attempts, started_at, finished_at, result, "
    "serializer, error, child_run_id, cached, retries_used, retry_at"
)
EVENT_COLUMNS = "run_id, at, kind, state, step_key, attempt, message, actor"
LOG_COLUMNS = "run_id, at, level, message, step_key"
CACHE_COLUMNS = "cache_key, task_name, result, serializer, created_at, expires_at"

# A run id that already exists inserts nothing (rowcount 0): the store reports a duplicate.
INSERT_RUN = f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({_marks(25)}) ON CONFLICT DO NOTHING"
# Only the fields that change while a run executes; the rest is fixed at creation. The
# lease is cleared when the run ends or goes back to pending (the CASE flag); otherwise
# it is left to claim/renew, so a stale copy of the run cannot shorten it.
UPDATE_RUN = (
    "UPDATE runs SET state = ?, result = ?, serializer = ?, error = ?, owner = ?, "
    "started_at = ?, finished_at = ?, wake_at = ?, waiting_for = ?, deadline_at = ?, "
    "lease_expires_at = CASE WHEN ? THEN NULL ELSE lease_expires_at END WHERE run_id = ?"
)
UPSERT_STEP = (
    f"INSERT INTO steps ({STEP_COLUMNS}) VALUES ({_marks(15)}) "
    "ON CONFLICT (run_id, step_key) DO UPDATE SET seq = excluded.seq, "
    "task_name = excluded.task_name, state = excluded.state, attempts = excluded.attempts, "
    "started_at = excluded.started_at, finished_at = excluded.finished_at, "
    "result = excluded.result, serializer = excluded.serializer, error = excluded.error, "
    "child_run_id = excluded.child_run_id, cached = excluded.cached, "
    "retries_used = excluded.retries_used, retry_at = excluded.retry_at"
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

# -- the run queue (QueueStore) --------------------------------------------------------
SELECT_RUN_BY_IDEMPOTENCY_KEY = f"SELECT {RUN_COLUMNS} FROM runs WHERE idempotency_key = ?"
# claim_run's candidates: pending runs (index runs_pending), then runs whose worker's lease
# expired (index runs_leased). "{queues}" is filled with one mark per queue.
CLAIM_PENDING = (
    "SELECT run_id, flow_name, tags, priority, created_at FROM runs "
    "WHERE state = 'pending' AND queue IN ({queues}) "
    "ORDER BY priority DESC, created_at, run_id LIMIT ?"
)
CLAIM_DUE = (
    "SELECT run_id, flow_name, tags, priority, created_at FROM runs "
    "WHERE state = 'waiting' AND wake_at IS NOT NULL AND wake_at <= ? "
    "AND lease_expires_at IS NULL AND queue IN ({queues}) "
    "ORDER BY priority DESC, created_at, run_id LIMIT ?"
)
# A run cancelled while it waited or was paused, still to be unwound by a worker.
CLAIM_UNWIND = (
    "SELECT run_id, flow_name, tags, priority, created_at FROM runs "
    "WHERE state = 'cancelled' AND wake_at IS NOT NULL AND wake_at <= ? "
    "AND lease_expires_at IS NULL AND queue IN ({queues}) "
    "ORDER BY priority DESC, created_at, run_id LIMIT ?"
)
CLAIM_EXPIRED = (
    "SELECT run_id, flow_name, tags, priority, created_at FROM runs "
    "WHERE lease_expires_at IS NOT NULL AND lease_expires_at < ? "
    "AND state IN ('running', 'waiting') AND queue IN ({queues}) "
    "ORDER BY priority DESC, created_at, run_id LIMIT ?"
)
# Conditional, so that of two claimers racing for one run only one changes it. Taking a
# run whose lease expired counts a recovery: its worker died or lost it.
CLAIM_UPDATE = (
    "UPDATE runs SET state = CASE WHEN state = 'cancelled' THEN 'cancelled' ELSE 'running' END, "
    "recoveries = recoveries + CASE WHEN state IN ('running', 'waiting') "
    "AND lease_expires_at IS NOT NULL THEN 1 ELSE 0 END, "
    "owner = ?, lease_epoch = lease_epoch + 1, "
    "lease_expires_at = ?, started_at = COALESCE(started_at, ?), finished_at = NULL "
    "WHERE run_id = ? AND (state = 'pending' OR (state IN ('running', 'waiting') "
    "AND lease_expires_at IS NOT NULL AND lease_expires_at < ?) "
    "OR (state IN ('waiting', 'cancelled') AND lease_expires_at IS NULL "
    "AND wake_at IS NOT NULL AND wake_at <= ?))"
)
COUNT_LIVE_OF_FLOW = (
    "SELECT COUNT(*) FROM runs WHERE flow_name = ? AND state IN ('running', 'waiting') "
    "AND lease_expires_at IS NOT NULL AND lease_expires_at >= ?"
)
COUNT_LIVE_WITH_TAG = (
    "SELECT COUNT(*) FROM runs WHERE tags LIKE ? AND state IN ('running', 'waiting') "
    "AND lease_expires_at IS NOT NULL AND lease_expires_at >= ?"
)
# take_run: a foreground resume takes the run unless a live worker lease holds it, and only
# at the epoch the caller saw (compare-and-set: of two resumes racing, one wins). No lease
# is set (the process holds it, as a direct call does); the epoch still moves on, fencing
# any earlier holder.
TAKE_RUN = (
    "UPDATE runs SET state = 'running', owner = ?, lease_epoch = lease_epoch + 1, "
    "lease_expires_at = NULL, finished_at = NULL, error = NULL, recoveries = 0, "
    "started_at = CASE WHEN state = 'failed' THEN ? ELSE COALESCE(started_at, ?) END "
    "WHERE run_id = ? AND lease_epoch = ? AND (state IN ('pending', 'paused') "
    "OR (state IN ('running', 'waiting') AND (lease_expires_at IS NULL OR lease_expires_at < ?)) "
    "OR (state = 'failed' AND ?))"
)
# requeue_run: a failed run goes back to the queue for a worker to retry it by replay.
REQUEUE_RUN = (
    "UPDATE runs SET state = 'pending', owner = NULL, lease_expires_at = NULL, error = NULL, "
    "finished_at = NULL, recoveries = 0, deadline_at = NULL WHERE run_id = ? AND state = 'failed'"
)
RENEW_LEASE = (
    "UPDATE runs SET lease_expires_at = ? WHERE run_id = ? AND owner = ? "
    "AND lease_epoch = ? AND state IN ('running', 'waiting')"
)
RELEASE_RUN = (
    "UPDATE runs SET state = 'pending', owner = NULL, lease_expires_at = NULL "
    "WHERE run_id = ? AND owner = ? AND lease_epoch = ? AND state IN ('running', 'waiting')"
)
SELECT_LEASE_EPOCH = "SELECT lease_epoch FROM runs WHERE run_id = ?"
# record_fenced: the epochs of several runs at once, in one order ("{runs}": one mark each).
SELECT_LEASE_EPOCHS = (
    "SELECT run_id, lease_epoch FROM runs WHERE run_id IN ({runs}) ORDER BY run_id"
)
WORKER_COLUMNS = "worker_id, host, pid, queues, concurrency, started_at, heartbeat_at, running"
UPSERT_WORKER = (
    f"INSERT INTO workers ({WORKER_COLUMNS}) VALUES ({_marks(8)}) "
    "ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, "
    "running = excluded.running, queues = excluded.queues, "
    "concurrency = excluded.concurrency"
)
DELETE_WORKER = "DELETE FROM workers WHERE worker_id = ?"
SELECT_WORKERS = f"SELECT {WORKER_COLUMNS} FROM workers ORDER BY heartbeat_at DESC"
UPSERT_LIMIT = (
    "INSERT INTO concurrency_limits (limit_key, max_runs) VALUES (?, ?) "
    "ON CONFLICT (limit_key) DO UPDATE SET max_runs = excluded.max_runs"
)
DELETE_LIMIT = "DELETE FROM concurrency_limits WHERE limit_key = ?"
SELECT_LIMITS = "SELECT limit_key, max_runs FROM concurrency_limits"

# -- events sent to flows -----------------------------------------------------------------
INSERT_SENT_EVENT = (
    "INSERT INTO sent_events (name, event_key, payload, sent_at, run_id, sent_by) "
    "VALUES (?, ?, ?, ?, ?, ?) RETURNING id"
)
# Runs waiting for the event become due now, so a worker resumes them.
WAKE_WAITING_FOR = (
    "UPDATE runs SET wake_at = ? WHERE state = 'waiting' AND waiting_for = ? "
    "AND (wake_at IS NULL OR wake_at > ?)"
)
WAKE_WAITING_RUN = (
    "UPDATE runs SET wake_at = ? WHERE state = 'waiting' AND waiting_for = ? AND run_id = ? "
    "AND (wake_at IS NULL OR wake_at > ?)"
)
SELECT_SENT_EVENTS = (
    "SELECT id, name, event_key, payload, sent_at, run_id, sent_by FROM sent_events "
    "WHERE name = ? AND sent_at >= ? AND (run_id IS NULL OR run_id = ?) ORDER BY id"
)

# -- answers to human input ------------------------------------------------------------
INSERT_INPUT = (
    "INSERT INTO inputs (run_id, name, decision, payload, answered_by, answered_at) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, name) DO NOTHING"
)
SELECT_INPUT = (
    "SELECT run_id, name, decision, payload, answered_by, answered_at FROM inputs "
    "WHERE run_id = ? AND name = ?"
)
WAKE_RUN_NOW = (
    "UPDATE runs SET wake_at = ? WHERE run_id = ? AND state = 'waiting' "
    "AND (wake_at IS NULL OR wake_at > ?)"
)
# inputs list: the questions of unfinished runs (their wait_for_input steps still waiting;
# a run that blocks on its wait, wait=True, is still running).
SELECT_OPEN_INPUTS = (
    "SELECT s.run_id, s.step_key, s.result, s.started_at FROM steps s "
    "JOIN runs r ON r.run_id = s.run_id "
    "WHERE r.state IN ('waiting', 'running') AND s.task_name = 'wait_for_input' "
    "AND s.state = 'waiting' "
    "ORDER BY s.started_at LIMIT ?"
)

# -- operator control -------------------------------------------------------------------
PAUSE_RUN = (
    "UPDATE runs SET state = 'paused' WHERE run_id = ? "
    "AND state IN ('pending', 'waiting', 'running')"
)
# Unpaused runs go back to the queue; replay finds any wait not yet due and waits again.
UNPAUSE_RUN = (
    "UPDATE runs SET state = 'pending', owner = NULL, lease_expires_at = NULL, wake_at = NULL, "
    "waiting_for = NULL WHERE run_id = ? AND state = 'paused'"
)

# cancel_run: one compare-and-set on the state. SET expressions read the old row, so a
# waiting or paused run with a target is left due (to be unwound) rather than finished.
_UNWIND = "state IN ('waiting', 'paused') AND target IS NOT NULL"
CANCEL_RUN = (
    "UPDATE runs SET state = 'cancelled', "
    f"wake_at = CASE WHEN {_UNWIND} THEN ? ELSE wake_at END, "
    f"waiting_for = CASE WHEN {_UNWIND} THEN NULL ELSE waiting_for END, "
    f"finished_at = CASE WHEN {_UNWIND} THEN finished_at ELSE ? END "
    "WHERE run_id = ? AND state IN ('pending', 'running', 'waiting', 'paused')"
)

CREATE_MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
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
    select_run_by_idempotency_key: str = SELECT_RUN_BY_IDEMPOTENCY_KEY
    claim_pending: str = CLAIM_PENDING
    claim_expired: str = CLAIM_EXPIRED
    claim_due: str = CLAIM_DUE
    claim_unwind: str = CLAIM_UNWIND
    insert_sent_event: str = INSERT_SENT_EVENT
    wake_waiting_for: str = WAKE_WAITING_FOR
    wake_waiting_run: str = WAKE_WAITING_RUN
    select_sent_events: str = SELECT_SENT_EVENTS
    insert_input: str = INSERT_INPUT
    select_input: str = SELECT_INPUT
    wake_run_now: str = WAKE_RUN_NOW
    select_open_inputs: str = SELECT_OPEN_INPUTS
    pause_run: str = PAUSE_RUN
    unpause_run: str = UNPAUSE_RUN
    cancel_run: str = CANCEL_RUN
    claim_update: str = CLAIM_UPDATE
    count_live_of_flow: str = COUNT_LIVE_OF_FLOW
    count_live_with_tag: str = COUNT_LIVE_WITH_TAG
    take_run: str = TAKE_RUN
    requeue_run: str = REQUEUE_RUN
    renew_lease: str = RENEW_LEASE
    release_run: str = RELEASE_RUN
    select_lease_epoch: str = SELECT_LEASE_EPOCH
    select_lease_epochs: str = SELECT_LEASE_EPOCHS
    upsert_worker: str = UPSERT_WORKER
    delete_worker: str = DELETE_WORKER
    select_workers: str = SELECT_WORKERS
    upsert_limit: str = UPSERT_LIMIT
    delete_limit: str = DELETE_LIMIT
    select_limits: str = SELECT_LIMITS

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
