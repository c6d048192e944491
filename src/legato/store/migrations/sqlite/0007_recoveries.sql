-- 0007 the recovery limit: how many times workers took a run over after its lease
-- expired (its worker died or lost it). A worker fails a run that reached the limit.

ALTER TABLE runs ADD COLUMN recoveries INTEGER NOT NULL DEFAULT 0;
