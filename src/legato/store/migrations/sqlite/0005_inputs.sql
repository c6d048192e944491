-- 0005 answers to human input (wait_for_input): one per run and name, the first wins.

CREATE TABLE inputs (
    run_id      TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    decision    TEXT NOT NULL,  -- 'approved' or 'rejected'
    payload     TEXT NOT NULL,  -- JSON: the accepted input, or the reason of a rejection
    answered_by TEXT,
    answered_at INTEGER NOT NULL,
    PRIMARY KEY (run_id, name)
);
