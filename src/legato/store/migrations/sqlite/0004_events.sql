-- 0004 events sent to flows: stored, so one sent before a run reaches its wait is not lost.

ALTER TABLE runs ADD COLUMN waiting_for TEXT;  -- the event name a waiting run expects

CREATE INDEX runs_waiting_for ON runs (waiting_for) WHERE state = 'waiting';

CREATE TABLE sent_events (
    id        INTEGER PRIMARY KEY,
    name      TEXT NOT NULL,
    event_key TEXT,
    payload   TEXT NOT NULL,  -- JSON
    sent_at   INTEGER NOT NULL,
    run_id    TEXT,           -- the one run it is for, or NULL for every run waiting on name
    sent_by   TEXT
);

CREATE INDEX sent_events_by_name ON sent_events (name, id);
