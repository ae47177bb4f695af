-- Selling through Polar: API tokens with roles, idempotency keys of mutating calls, Clerk's
-- webhook deliveries, and the audit columns every mutating call fills.

-- Tokens for the /v1 API besides the bootstrap token (TOLLGATE_API_TOKEN). Only the SHA-256 of
-- a token is kept; the secret is shown once, when it is made. A revoked token keeps its row.
CREATE TABLE api_tokens (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text        NOT NULL,
    role         text        NOT NULL CHECK (role IN ('app', 'viewer', 'support', 'admin')),
    token_sha256 text        NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL,
    created_by   text        NOT NULL,
    revoked_at   timestamptz
);
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL;

-- One row per (token, Idempotency-Key) of a mutating call. Inserted as in progress before the
-- call goes to Polar, in its own transaction: a concurrent request with the same key finds it
-- and is turned away. The answer is stored once the call succeeded; a failed call deletes its
-- row so that a retry runs again. Rows expire after 24 hours (the weekly cleanup deletes them).
CREATE TABLE idempotency_keys (
    actor           text        NOT NULL,
    key             text        NOT NULL,
    request_sha256  text        NOT NULL,
    status          text        NOT NULL CHECK (status IN ('in_progress', 'completed')),
    response_status smallint,
    response_body   jsonb,
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    PRIMARY KEY (actor, key)
);
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);

-- Clerk's webhook deliveries, once per svix-id: a redelivery answers 2xx and does nothing.
CREATE TABLE clerk_events (
    svix_id     text        PRIMARY KEY,
    event_type  text        NOT NULL,
    user_id     text,
    received_at timestamptz NOT NULL
);

-- Who did what through the API: the role of the token, the customer concerned, the state before
-- and after, the reason given, and the request it came from.
ALTER TABLE audit_log
    ADD COLUMN role       text,
    ADD COLUMN customer   text,
    ADD COLUMN before     jsonb,
    ADD COLUMN after      jsonb,
    ADD COLUMN reason     text,
    ADD COLUMN request_id text;
CREATE INDEX audit_log_customer ON audit_log (customer, at) WHERE customer IS NOT NULL;
