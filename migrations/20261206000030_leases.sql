-- Allowance leases of exact features: units of a customer's metered period granted to the edge
-- (one Durable Object per customer) to spend without asking again. While a lease is open its
-- units count as spent: a new lease and `POST /v1/check` with `consume` only share what the
-- period has left beyond the counter and the open leases. Settling a lease adds the units it
-- used to the counter of its period, once, and returns the rest; a lease left open past
-- `expires_at` is settled as fully used, so usage is never undercounted.
CREATE TABLE leases (
    id           uuid        PRIMARY KEY,
    customer     text        NOT NULL,
    feature      text        NOT NULL,
    period_start timestamptz NOT NULL,
    period_end   timestamptz,
    granted      bigint      NOT NULL CHECK (granted > 0),
    expires_at   timestamptz NOT NULL,
    created_at   timestamptz NOT NULL,
    settled_at   timestamptz,
    used         bigint      CHECK (used >= 0 AND used <= granted),
    settled_by   text        CHECK (settled_by IN ('holder', 'expiry')),
    CHECK ((settled_at IS NULL) = (used IS NULL) AND (settled_at IS NULL) = (settled_by IS NULL))
);
CREATE INDEX leases_open ON leases (customer, feature, period_start) WHERE settled_at IS NULL;
CREATE INDEX leases_expiring ON leases (expires_at) WHERE settled_at IS NULL;
