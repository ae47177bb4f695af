-- Polar's objects as Polar last described them.
--
-- Every table keeps the object's raw JSON exactly as received (`raw`) next to the few columns
-- tollgate queries on. `version_at` is the object's own `modified_at`, or `created_at` when Polar
-- has never modified it: an upsert only replaces a row with a strictly newer version, so a
-- webhook that arrives late can never roll an object back.

CREATE TABLE customers (
    id          text        PRIMARY KEY,            -- Polar customer id
    external_id text,                               -- the app's user id; snapshots are keyed by it
    email       text,
    deleted_at  timestamptz,
    version_at  timestamptz NOT NULL,
    raw         jsonb       NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customers_external_id ON customers (external_id) WHERE external_id IS NOT NULL;

CREATE TABLE products (
    id          text        PRIMARY KEY,
    name        text        NOT NULL,
    is_archived boolean     NOT NULL,
    version_at  timestamptz NOT NULL,
    raw         jsonb       NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE subscriptions (
    id          text        PRIMARY KEY,
    customer_id text        NOT NULL,
    product_id  text        NOT NULL,
    status      text        NOT NULL,
    version_at  timestamptz NOT NULL,
    raw         jsonb       NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscriptions_customer_id ON subscriptions (customer_id);
CREATE INDEX subscriptions_product_id ON subscriptions (product_id);

CREATE TABLE orders (
    id              text        PRIMARY KEY,
    customer_id     text        NOT NULL,
    subscription_id text,
    product_id      text,
    status          text        NOT NULL,
    billing_reason  text,
    currency        text        NOT NULL,
    total_amount    bigint      NOT NULL,
    refunded_amount bigint      NOT NULL,
    version_at      timestamptz NOT NULL,
    raw             jsonb       NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_customer_id ON orders (customer_id);
CREATE INDEX orders_subscription_id ON orders (subscription_id) WHERE subscription_id IS NOT NULL;

CREATE TABLE refunds (
    id              text        PRIMARY KEY,
    order_id        text        NOT NULL,
    customer_id     text        NOT NULL,
    subscription_id text,
    status          text        NOT NULL,
    currency        text        NOT NULL,
    amount          bigint      NOT NULL,
    version_at      timestamptz NOT NULL,
    raw             jsonb       NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refunds_order_id ON refunds (order_id);

CREATE TABLE benefit_grants (
    id              text        PRIMARY KEY,
    customer_id     text        NOT NULL,
    benefit_id      text        NOT NULL,
    subscription_id text,
    order_id        text,
    is_granted      boolean     NOT NULL,
    is_revoked      boolean     NOT NULL,
    version_at      timestamptz NOT NULL,
    raw             jsonb       NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX benefit_grants_customer_id ON benefit_grants (customer_id);

CREATE TABLE checkouts (
    id          text        PRIMARY KEY,
    customer_id text,
    status      text        NOT NULL,
    version_at  timestamptz NOT NULL,
    raw         jsonb       NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
