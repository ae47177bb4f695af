-- Webhook deliveries, the snapshots they produce, the outbox that publishes them, and the audit
-- trail of hand-made changes.

-- One row per Polar delivery, keyed by its `webhook-id`: the unique key is what makes a
-- redelivered or concurrently delivered webhook a no-op. A row is stored before it is applied;
-- one whose apply failed keeps its error and waits for `next_attempt_at`.
CREATE TABLE webhook_events (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id      text        NOT NULL UNIQUE,
    event_type      text        NOT NULL,
    event_timestamp timestamptz,
    payload         jsonb       NOT NULL,
    status          text        NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'applied', 'ignored', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text,
    next_attempt_at timestamptz,
    received_at     timestamptz NOT NULL DEFAULT now(),
    applied_at      timestamptz
);
CREATE INDEX webhook_events_due ON webhook_events (next_attempt_at) WHERE status IN ('pending', 'failed');

-- Every revision of every customer's snapshot; the current one is the highest revision.
-- `customer` is the Polar external id (the app's user id).
CREATE TABLE entitlement_snapshots (
    customer   text        NOT NULL,
    revision   bigint      NOT NULL CHECK (revision > 0),
    snapshot   jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer, revision)
);

-- Snapshot revisions waiting to be published to the edge. Written in the same transaction as
-- the snapshot, so a snapshot is never stored without being queued for publication.
CREATE TABLE publish_outbox (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer     text        NOT NULL,
    revision     bigint      NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    attempts     integer     NOT NULL DEFAULT 0,
    last_error   text,
    published_at timestamptz,
    FOREIGN KEY (customer, revision) REFERENCES entitlement_snapshots (customer, revision)
);
CREATE INDEX publish_outbox_pending ON publish_outbox (id) WHERE published_at IS NULL;

-- Who changed what by hand (replays, repairs, grants), and why.
CREATE TABLE audit_log (
    id      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    actor   text        NOT NULL,
    action  text        NOT NULL,
    subject text        NOT NULL,
    details jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_subject ON audit_log (subject, at);
