-- 0003 durable waits: a waiting run holds no worker; it is runnable again at wake_at.
-- The PostgreSQL twin of migrations/sqlite/0003_waits.sql.

ALTER TABLE runs ADD COLUMN wake_at BIGINT;

-- claim_run: waiting runs whose timer is due (an indexed wake-up time, no scan of all runs).
CREATE INDEX runs_due ON runs (wake_at) WHERE state = 'waiting';
