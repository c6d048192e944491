-- 0001 initial schema: runs, their steps, their history (events), logs, the result cache.
--
-- The PostgreSQL twin of migrations/sqlite/0001_initial.sql: the same tables, columns and
-- indexes (tests/store/test_schema_parity.py checks it), in PostgreSQL types:
--   * times are BIGINT microseconds since 1970-01-01T00:00:00Z (UTC), NULL when unset;
--   * ErrorInfo is JSON text {"type", "message", "traceback"}; tags are a JSON array;
--   * payloads (params, results) are text already serialized by legato.serialization.
-- The schema_migrations table is created by the migrator itself, see SqlStore._migrate.

CREATE TABLE runs (
    run_id          TEXT PRIMARY KEY,
    flow_name       TEXT NOT NULL,
    state           TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    target          TEXT,
    flow_version    TEXT,
    params          TEXT NOT NULL,
    result          TEXT,
    serializer      TEXT NOT NULL,
    error           TEXT,
    parent_run_id   TEXT,
    parent_step_key TEXT,
    owner           TEXT,
    started_at      BIGINT,
    finished_at     BIGINT,
    tags            TEXT NOT NULL
);

-- list_runs: newest first, optionally by state, flow or parent (run_id breaks ties).
CREATE INDEX runs_by_created_at ON runs (created_at, run_id);
CREATE INDEX runs_by_state ON runs (state, created_at, run_id);
CREATE INDEX runs_by_flow_name ON runs (flow_name, created_at, run_id);
CREATE INDEX runs_by_parent ON runs (parent_run_id, created_at, run_id);

CREATE TABLE steps (
    run_id       TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    step_key     TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    task_name    TEXT NOT NULL,
    state        TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    started_at   BIGINT,
    finished_at  BIGINT,
    result       TEXT,
    serializer   TEXT NOT NULL,
    error        TEXT,
    child_run_id TEXT,
    cached       INTEGER NOT NULL,
    PRIMARY KEY (run_id, step_key)
);

-- Ids come from a sequence: they grow with each insert, but transactions that commit
-- out of order can make a smaller id visible after a larger one. Readers order one
-- run's events by id, and one run's events are written by the one worker holding it.
CREATE TABLE events (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id   TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    at       BIGINT NOT NULL,
    kind     TEXT NOT NULL,
    state    TEXT NOT NULL,
    step_key TEXT,
    attempt  INTEGER,
    message  TEXT,
    actor    TEXT  -- EventRecord.by (BY is an SQL keyword)
);

CREATE INDEX events_by_run ON events (run_id, id);

CREATE TABLE logs (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id   TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    at       BIGINT NOT NULL,
    level    TEXT NOT NULL,
    message  TEXT NOT NULL,
    step_key TEXT
);

CREATE INDEX logs_by_run ON logs (run_id, step_key, id);

CREATE TABLE cache (
    cache_key  TEXT PRIMARY KEY,
    task_name  TEXT NOT NULL,
    result     TEXT NOT NULL,
    serializer TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT
);
