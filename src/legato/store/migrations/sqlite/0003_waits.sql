-- 0003 durable waits: a waiting run holds no worker; it is runnable again at wake_at.

ALTER TABLE runs ADD COLUMN wake_at INTEGER;

-- claim_run: waiting runs whose timer is due (an indexed wake-up time, no scan of all runs).
CREATE INDEX runs_due ON runs (wake_at) WHERE state = 'waiting';
