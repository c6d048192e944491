-- 0006 time that survives a crash: a run's deadline, a step's retry budget and backoff.

-- A flow's timeout counts from the run's start: its deadline is fixed once and kept
-- across waits, pauses and crashes.
ALTER TABLE runs ADD COLUMN deadline_at INTEGER;

-- Retries used (of the task's retries=N) and when the next attempt may start, so a run
-- resumed during a backoff waits out the rest of it and keeps its retry budget.
ALTER TABLE steps ADD COLUMN retries_used INTEGER NOT NULL DEFAULT 0;
ALTER TABLE steps ADD COLUMN retry_at INTEGER;
