-- Usage: metered events counted once, per-period counters, gauge levels, and the overage that
-- goes to Polar's meters.

-- Every customer the app has metered, keyed by the app's user id (Polar's external id). Free
-- users Polar has never heard of get a row too; they are on the catalog's default plan.
-- `usage_changed_at` marks a snapshot that no longer shows the latest counts; `urgent` asks for
-- the rebuild at once (a count crossed `warn_at` or the limit) instead of coalescing it.
CREATE TABLE metered_customers (
    customer         text        PRIMARY KEY,
    first_seen_at    timestamptz NOT NULL DEFAULT now(),
    usage_changed_at timestamptz,
    urgent           boolean     NOT NULL DEFAULT false,
    rebuilt_at       timestamptz
);
CREATE INDEX metered_customers_stale ON metered_customers (usage_changed_at)
    WHERE usage_changed_at IS NOT NULL;

-- The de-duplication keys: one row per accepted event, keyed by (customer, event id), so a
-- retried batch counts once. Kept at least 35 days (and the whole previous month, for the
-- monthly report); `answer` holds the decision of a `consume` check, replayed on a retry.
CREATE TABLE usage_events (
    customer     text        NOT NULL,
    event_id     text        NOT NULL,
    feature      text        NOT NULL,
    amount       bigint      NOT NULL CHECK (amount >= 0),
    occurred_at  timestamptz NOT NULL,
    period_start timestamptz NOT NULL,
    received_at  timestamptz NOT NULL,
    answer       jsonb,
    PRIMARY KEY (customer, event_id)
);
CREATE INDEX usage_events_received_at ON usage_events (received_at);

-- Units used per customer, feature and period. `period_start` is the engine's start of the
-- period the units count in (1970-01-01 for features that never reset); updated in the same
-- transaction as the de-duplication keys.
CREATE TABLE usage_counters (
    customer     text        NOT NULL,
    feature      text        NOT NULL,
    period_start timestamptz NOT NULL,
    period_end   timestamptz,
    used         bigint      NOT NULL CHECK (used >= 0),
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (customer, feature, period_start)
);

-- Gauge levels the app reports (projects, seats, bytes stored).
CREATE TABLE usage_gauges (
    customer   text        NOT NULL,
    feature    text        NOT NULL,
    level      bigint      NOT NULL CHECK (level >= 0),
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (customer, feature)
);

-- Units beyond the limit of a `bill` feature, waiting to become Polar usage events. Written in
-- the same transaction as the counter; `external_id` is Polar's idempotency key, so a send that
-- is repeated after a crash is skipped by Polar as a duplicate.
CREATE TABLE overage_outbox (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    external_id     text        NOT NULL UNIQUE,
    customer        text        NOT NULL,
    feature         text        NOT NULL,
    event_id        text        NOT NULL,
    units           bigint      NOT NULL CHECK (units > 0),
    occurred_at     timestamptz NOT NULL,
    metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text,
    next_attempt_at timestamptz NOT NULL,
    sent_at         timestamptz
);
CREATE INDEX overage_outbox_due ON overage_outbox (next_attempt_at, id) WHERE sent_at IS NULL;
CREATE INDEX overage_outbox_occurred_at ON overage_outbox (occurred_at);
