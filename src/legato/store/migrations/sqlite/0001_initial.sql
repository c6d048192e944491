-- 0001 initial schema: runs, their steps, their history (events), logs, the result cache.
--
-- Conventions shared with every dialect (the PostgreSQL twin keeps the same names):
--   * times are integer microseconds since 1970-01-01T00:00:00Z (UTC), NULL when unset;
--   * ErrorInfo is JSON text {"type", "message", "traceback"}; tags are a JSON array;
--   * payloads (params, results) are text already serialized by legato.serialization.
-- The schema_migrations table is created by the migrator itself (it has to exist before
-- the first migration can be recorded), see SqlStore._migrate.

CREATE TABLE runs (
    run_id          TEXT PRIMARY KEY,
    flow_name       TEXT NOT NULL,
    state           TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    target          TEXT,
    flow_version    TEXT,
    params          TEXT NOT NULL,
    result          TEXT,
    serializer      TEXT NOT NULL,
    error           TEXT,
    parent_run_id   TEXT,
    parent_step_key TEXT,
    owner           TEXT,
    started_at      INTEGER,
    finished_at     INTEGER,
    tags            TEXT NOT NULL
);

-- list_runs: newest first, optionally by state, flow or parent (run_id breaks ties).
CREATE INDEX runs_by_created_at ON runs (created_at, run_id);
CREATE INDEX runs_by_state ON runs (state, created_at, run_id);
CREATE INDEX runs_by_flow_name ON runs (flow_name, created_at, run_id);
CREATE INDEX runs_by_parent ON runs (parent_run_id, created_at, run_id);

-- WITHOUT ROWID: the primary key is the table, so an upsert touches one b-tree, not two.
CREATE TABLE steps (
    run_id       TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    step_key     TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    task_name    TEXT NOT NULL,
    state        TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    started_at   INTEGER,
    finished_at  INTEGER,
    result       TEXT,
    serializer   TEXT NOT NULL,
    error        TEXT,
    child_run_id TEXT,
    cached       INTEGER NOT NULL,
    PRIMARY KEY (run_id, step_key)
) WITHOUT ROWID;

-- Ids grow with each insert (max + 1). Events are never deleted one by one, so no id is
-- reused; AUTOINCREMENT's extra bookkeeping write per insert is not needed.
CREATE TABLE events (
    id       INTEGER PRIMARY KEY,
    run_id   TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    at       INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    state    TEXT NOT NULL,
    step_key TEXT,
    attempt  INTEGER,
    message  TEXT,
    actor    TEXT  -- EventRecord.by (BY is an SQL keyword)
);

CREATE INDEX events_by_run ON events (run_id, id);

CREATE TABLE logs (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id   TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    at       INTEGER NOT NULL,
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
    created_at INTEGER NOT NULL,
    expires_at INTEGER
);
