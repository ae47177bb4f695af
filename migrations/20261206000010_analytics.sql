-- Revenue and usage analytics: the history of every subscription, the instants orders and
-- refunds were made, and the monthly usage totals the reports read.

-- Polar timestamps are ISO 8601 with an explicit offset, so reading one does not depend on the
-- session's time zone or date style: immutable in practice, which generated columns require.
CREATE FUNCTION polar_instant(text) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURNS NULL ON NULL INPUT
    AS $$ SELECT $1::timestamptz $$;

-- Every version of a subscription tollgate has stored, from the instant it took effect
-- (`version_at`, Polar's `modified_at`) until the next one. MRR at any past instant is read from
-- here: the `subscriptions` table keeps only the newest version. The columns are what MRR needs,
-- copied out of Polar's JSON once, so a report over a year reads no JSON.
CREATE TABLE subscription_versions (
    subscription_id          text        NOT NULL,
    version_at               timestamptz NOT NULL,
    customer_id              text        NOT NULL,
    product_id               text        NOT NULL,
    status                   text        NOT NULL,
    currency                 text        NOT NULL,
    -- The price per billing interval before discounts, minor units.
    amount                   bigint      NOT NULL,
    recurring_interval       text        NOT NULL,
    recurring_interval_count integer     NOT NULL,
    started_at               timestamptz,
    -- The discount, if any: `percentage` (basis_points) or `fixed` (discount_amount, in the
    -- subscription's currency), for
    -- `once`, `forever` or `repeating` (duration_in_months from started_at).
    discount_type            text,
    discount_basis_points    integer,
    discount_amount          bigint,
    discount_duration        text,
    discount_months          integer,
    PRIMARY KEY (subscription_id, version_at)
);
CREATE INDEX subscription_versions_customer ON subscription_versions (customer_id, version_at);

-- Recorded by a trigger so that every path that stores a subscription (webhooks, reconcile and
-- its repairs, replays) leaves its history in the same transaction, and none can forget to.
CREATE FUNCTION record_subscription_version() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO subscription_versions
    SELECT NEW.id, NEW.version_at, NEW.customer_id, NEW.product_id, NEW.status,
           coalesce(NEW.raw ->> 'currency', 'usd'),
           coalesce((NEW.raw ->> 'amount')::bigint, 0),
           coalesce(NEW.raw ->> 'recurring_interval', 'month'),
           greatest(coalesce((NEW.raw ->> 'recurring_interval_count')::integer, 1), 1),
           polar_instant(coalesce(NEW.raw ->> 'started_at', NEW.raw ->> 'created_at')),
           d ->> 'type', (d ->> 'basis_points')::integer,
           coalesce((d -> 'amounts' ->> (NEW.raw ->> 'currency'))::bigint, (d ->> 'amount')::bigint),
           d ->> 'duration', (d ->> 'duration_in_months')::integer
    FROM (SELECT CASE WHEN jsonb_typeof(NEW.raw -> 'discount') = 'object'
                      THEN NEW.raw -> 'discount' END AS d) discount
    ON CONFLICT (subscription_id, version_at) DO UPDATE SET
        customer_id = excluded.customer_id, product_id = excluded.product_id,
        status = excluded.status, currency = excluded.currency, amount = excluded.amount,
        recurring_interval = excluded.recurring_interval,
        recurring_interval_count = excluded.recurring_interval_count,
        started_at = excluded.started_at, discount_type = excluded.discount_type,
        discount_basis_points = excluded.discount_basis_points,
        discount_amount = excluded.discount_amount,
        discount_duration = excluded.discount_duration,
        discount_months = excluded.discount_months;
    RETURN NULL;
END $$;

CREATE TRIGGER subscriptions_record_version
    AFTER INSERT OR UPDATE ON subscriptions
    FOR EACH ROW EXECUTE FUNCTION record_subscription_version();

-- The subscriptions stored before this migration start their history with what is stored.
UPDATE subscriptions SET version_at = version_at;

-- When an order or a refund was made, for revenue per interval without reading JSON.
ALTER TABLE orders ADD COLUMN created_at timestamptz
    GENERATED ALWAYS AS (polar_instant(raw ->> 'created_at')) STORED;
-- Revenue is what the customer paid before tax, after discounts (Polar's `net_amount`).
ALTER TABLE orders ADD COLUMN net_amount bigint
    GENERATED ALWAYS AS (coalesce((raw ->> 'net_amount')::bigint, total_amount)) STORED;
CREATE INDEX orders_created_at ON orders (created_at);
ALTER TABLE refunds ADD COLUMN created_at timestamptz
    GENERATED ALWAYS AS (polar_instant(raw ->> 'created_at')) STORED;
CREATE INDEX refunds_created_at ON refunds (created_at);

-- The monthly usage totals per customer and feature (the usage report's lines), written by the
-- monthly `usage_report` job for the month just ended, so later reports read them even after the
-- month's de-duplication keys have expired. Running it again for a month replaces its rows.
CREATE TABLE usage_monthly (
    month         date        NOT NULL,
    customer      text        NOT NULL,
    feature       text        NOT NULL,
    events        bigint      NOT NULL,
    units         bigint      NOT NULL,
    overage_units bigint      NOT NULL,
    computed_at   timestamptz NOT NULL,
    PRIMARY KEY (month, customer, feature)
);
