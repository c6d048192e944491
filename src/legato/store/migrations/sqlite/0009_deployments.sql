-- 0009 deployments (a flow bound to its triggers), the fires of their triggers, and
-- the lease that elects one active scheduler.

CREATE TABLE deployments (
    name            TEXT PRIMARY KEY,
    flow_name       TEXT NOT NULL,
    target          TEXT NOT NULL,
    params          TEXT NOT NULL,          -- JSON: default keyword arguments
    queue           TEXT NOT NULL,
    priority        INTEGER NOT NULL,
    triggers        TEXT NOT NULL,          -- JSON list of trigger definitions
    overlap         TEXT NOT NULL,          -- allow | skip | queue | cancel
    catchup         TEXT NOT NULL,          -- skip | one | all
    catchup_limit   INTEGER NOT NULL,
    paused          INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    scheduled_until INTEGER               -- schedules evaluated up to here
);

-- One row per fire; the key is unique per deployment, and a fire is inserted in the
-- transaction that creates its run, so no trigger fires twice.
CREATE TABLE fires (
    deployment TEXT NOT NULL,
    fire_key   TEXT NOT NULL,
    kind       TEXT NOT NULL,
    fired_at   INTEGER NOT NULL,
    payload    TEXT NOT NULL,   -- JSON
    run_id     TEXT NOT NULL,
    PRIMARY KEY (deployment, fire_key)
);

CREATE INDEX fires_by_run ON fires (run_id);
CREATE INDEX fires_by_time ON fires (deployment, fired_at);

CREATE TABLE scheduler_lease (
    lease_name   TEXT PRIMARY KEY,
    holder       TEXT NOT NULL,
    expires_at   INTEGER NOT NULL,
    event_cursor INTEGER NOT NULL DEFAULT 0
);
