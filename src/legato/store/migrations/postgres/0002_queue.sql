-- 0002 the run queue: queues and priorities, idempotency keys, leases, workers, limits.
-- The PostgreSQL twin of migrations/sqlite/0002_queue.sql.

ALTER TABLE runs ADD COLUMN queue TEXT NOT NULL DEFAULT 'default';
ALTER TABLE runs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN idempotency_key TEXT;
ALTER TABLE runs ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN lease_expires_at BIGINT;

-- One run per idempotency key.
CREATE UNIQUE INDEX runs_by_idempotency_key ON runs (idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- claim_run: pending runs of a queue, highest priority first, then oldest.
CREATE INDEX runs_pending ON runs (queue, priority DESC, created_at, run_id)
    WHERE state = 'pending';

-- claim_run: runs held by a worker whose lease may have expired; limits count live ones.
CREATE INDEX runs_leased ON runs (lease_expires_at)
    WHERE lease_expires_at IS NOT NULL;

CREATE TABLE workers (
    worker_id    TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    queues       TEXT NOT NULL,  -- JSON array
    concurrency  INTEGER NOT NULL,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    running      TEXT NOT NULL   -- JSON array of run ids
);

CREATE TABLE concurrency_limits (
    limit_key TEXT PRIMARY KEY,  -- "flow:NAME" or "tag:T"
    max_runs  INTEGER NOT NULL
);
