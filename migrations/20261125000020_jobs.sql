-- Scheduled jobs, health alerts and reconciliation cursors.

-- One row per run of a job. Scheduled runs are keyed by the tick they belong to (the instant
-- the schedule says the job is due): replicas race to insert the row with
-- `ON CONFLICT DO NOTHING`, and only the one whose insert succeeded runs the job, so a tick runs
-- once however many replicas see it. Runs started by hand use their start time as the tick.
CREATE TABLE job_runs (
    job         text        NOT NULL,
    tick        timestamptz NOT NULL,
    trigger     text        NOT NULL CHECK (trigger IN ('schedule', 'manual')),
    runner      text        NOT NULL,             -- host and process that ran it
    started_at  timestamptz NOT NULL,
    finished_at timestamptz,
    outcome     text        CHECK (outcome IN ('succeeded', 'failed', 'skipped')),
    counts      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    error       text,
    PRIMARY KEY (job, tick)
);
CREATE INDEX job_runs_recent ON job_runs (job, started_at DESC);

-- Problems the health check found. At most one open alert per kind: a problem that persists
-- bumps `last_seen_at` and `occurrences`; a check that passes again resolves it.
CREATE TABLE alerts (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text        NOT NULL,
    message      text        NOT NULL,
    details      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    raised_at    timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    occurrences  integer     NOT NULL DEFAULT 1,
    resolved_at  timestamptz
);
CREATE UNIQUE INDEX alerts_open_kind ON alerts (kind) WHERE resolved_at IS NULL;

-- When each Polar resource was last reconciled successfully; incremental syncs start there.
CREATE TABLE sync_cursors (
    resource   text        PRIMARY KEY,
    synced_at  timestamptz NOT NULL,
    full_at    timestamptz
);
