-- What tollgate sends out: health alerts to a chat webhook and events to the app, each through
-- an outbox written in the transaction that detected it, and retried with backoff until the
-- receiver answers 2xx.

-- One row when an alert opens and one when it resolves (the unique key makes a second
-- detection of the same transition insert nothing). `payload` is the Slack-compatible body.
CREATE TABLE alert_outbox (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id        bigint      NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    transition      text        NOT NULL CHECK (transition IN ('opened', 'resolved')),
    payload         jsonb       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    UNIQUE (alert_id, transition)
);
CREATE INDEX alert_outbox_unsent ON alert_outbox (id) WHERE sent_at IS NULL;

-- Events for the app. `event_id` (the `webhook-id` the app sees) is derived from the event's
-- type, subject and period, so detecting the same thing again inserts nothing. `body` is the
-- exact JSON that is signed and sent on every attempt.
CREATE TABLE app_events (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        text        NOT NULL UNIQUE,
    type            text        NOT NULL,
    customer        text        NOT NULL,
    body            text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz
);
CREATE INDEX app_events_due ON app_events (next_attempt_at, id) WHERE delivered_at IS NULL;
