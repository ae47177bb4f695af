-- Admin and support: grants made in tollgate, usage adjustments, edge API keys and their
-- publication, and the indexes the support screens read through.

-- Extra allowance given by hand (`POST /v1/admin/grants`). It enters the customer's account
-- exactly like a Polar benefit grant while it is live: not ended, and before `expires_at`
-- (the engine applies the expiry). `customer` is the app's user id, so free users Polar has
-- never heard of can hold grants too.
CREATE TABLE grants (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer   text        NOT NULL,
    feature    text        NOT NULL,
    kind       text        NOT NULL CHECK (kind IN ('units', 'unlimited', 'enabled')),
    units      bigint      CHECK ((kind = 'units') = (units IS NOT NULL AND units > 0)),
    expires_at timestamptz,
    reason     text        NOT NULL,
    created_at timestamptz NOT NULL,
    created_by text        NOT NULL,
    ended_at   timestamptz,
    ended_by   text
);
CREATE INDEX grants_live_customer ON grants (customer) WHERE ended_at IS NULL;
CREATE INDEX grants_customer ON grants (customer, id);

-- A signed change of one metered counter, by hand. `applied` is what the counter moved
-- (never below 0, so a delta of -50 on a count of 20 applies -20): a counter is its events plus
-- the `applied` of its adjustments.
CREATE TABLE usage_adjustments (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer     text        NOT NULL,
    feature      text        NOT NULL,
    period_start timestamptz NOT NULL,
    delta        bigint      NOT NULL CHECK (delta <> 0),
    applied      bigint      NOT NULL,
    used_after   bigint      NOT NULL CHECK (used_after >= 0),
    reason       text        NOT NULL,
    created_at   timestamptz NOT NULL,
    created_by   text        NOT NULL
);
CREATE INDEX usage_adjustments_customer ON usage_adjustments (customer, id);

-- API keys of the edge worker: only the SHA-256 is kept; the key is shown once.
CREATE TABLE api_keys (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer   text        NOT NULL,
    name       text        NOT NULL,
    key_sha256 text        NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    created_by text        NOT NULL,
    revoked_at timestamptz,
    revoked_by text
);
CREATE INDEX api_keys_customer ON api_keys (customer, id);

-- Key writes waiting for Workers KV, drained by the publisher with the snapshot outbox:
-- `customer` set puts `key:v1:<key_sha256>`, NULL deletes it.
CREATE TABLE api_key_outbox (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key_sha256      text        NOT NULL,
    customer        text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text,
    next_attempt_at timestamptz,
    published_at    timestamptz
);
CREATE INDEX api_key_outbox_pending ON api_key_outbox (id) WHERE published_at IS NULL;

-- Customer search by prefix: external id, Polar id, e-mail (case-insensitive).
CREATE INDEX customers_external_id_prefix ON customers (external_id text_pattern_ops)
    WHERE external_id IS NOT NULL;
CREATE INDEX customers_id_prefix ON customers (id text_pattern_ops);
CREATE INDEX customers_email_prefix ON customers (lower(email) text_pattern_ops)
    WHERE email IS NOT NULL;

-- Failed payments: the few subscriptions that are past due or unpaid.
CREATE INDEX subscriptions_failed ON subscriptions (status) WHERE status IN ('past_due', 'unpaid');

-- The audit log, newest first, by actor, action or time.
CREATE INDEX audit_log_at ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_actor ON audit_log (actor, at DESC);
