-- 0006 step positions are 64-bit (see migrations/postgres/0006_wide_step_seq.sql).
-- SQLite's INTEGER already holds 64 bits: nothing to change, the number keeps both
-- dialects' migrations in step.
SELECT 1;
