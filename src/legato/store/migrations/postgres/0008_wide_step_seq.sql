-- 0006 step positions are 64-bit: handler and compensation steps sort after the flow's
-- own from 2**40 on (engine.runner.DERIVED_SEQ), past PostgreSQL's 32-bit INTEGER.
-- SQLite's INTEGER is already 64-bit: its twin changes nothing.

ALTER TABLE steps ALTER COLUMN seq TYPE BIGINT;
