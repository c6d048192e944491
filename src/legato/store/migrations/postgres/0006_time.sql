-- 0006 time that survives a crash: a run's deadline, a step's retry budget and backoff.
-- The PostgreSQL twin of migrations/sqlite/0006_time.sql.

ALTER TABLE runs ADD COLUMN deadline_at BIGINT;

ALTER TABLE steps ADD COLUMN retries_used INTEGER NOT NULL DEFAULT 0;
ALTER TABLE steps ADD COLUMN retry_at BIGINT;
