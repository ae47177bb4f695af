-- Revenue analytics read from logs and rollups kept at write time, so a report over a year
-- reads the changes inside it (and a row per day and currency for money) instead of
-- re-deriving every customer's history and every order on each request.

-- A subscription version's MRR at the instant `at`: the amount after the discount that applies
-- then, normalised to a month (a year is 12 months, a week 12/52 of one, a day 12/365), rounded
-- to whole minor units. A `once` discount is a first-invoice discount and lowers no MRR.
CREATE FUNCTION version_mrr(v subscription_versions, at timestamptz) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT round(
        (v.amount - CASE
            WHEN v.discount_type IS NULL OR v.discount_duration = 'once'
                 OR (v.discount_duration = 'repeating'
                     AND at >= v.started_at
                               + make_interval(months => coalesce(v.discount_months, 0)))
                THEN 0
            WHEN v.discount_type = 'percentage'
                THEN v.amount * coalesce(v.discount_basis_points, 0)::numeric / 10000
            ELSE least(v.amount, coalesce(v.discount_amount, 0))
         END)
        * CASE v.recurring_interval WHEN 'week' THEN 52 WHEN 'day' THEN 365 ELSE 1 END
        / (CASE v.recurring_interval WHEN 'month' THEN 1 ELSE 12 END * v.recurring_interval_count)
    )::int8 $$;

-- Every instant a customer's MRR (or count of counted subscriptions) changed, per currency:
-- the values just before and from that instant on, the customer's previous and next change,
-- and when the customer first paid in that currency. A report finds a customer's MRR at an
-- interval's start and end from its first and last change inside the interval; customers
-- without a change inside it have no movement.
CREATE TABLE mrr_changes (
    customer_id          text        NOT NULL,
    currency             text        NOT NULL,
    at                   timestamptz NOT NULL,
    mrr_before           bigint      NOT NULL,
    mrr_after            bigint      NOT NULL,
    subscriptions_before bigint      NOT NULL,
    subscriptions_after  bigint      NOT NULL,
    previous_at          timestamptz,
    next_at              timestamptz,
    first_paid_at        timestamptz,
    PRIMARY KEY (customer_id, currency, at)
);
CREATE INDEX mrr_changes_at ON mrr_changes (at);

-- The same changes per product, as differences: MRR, subscriptions counted, and customers
-- holding the product (+1 when a customer's first counted subscription to it starts, -1 when
-- the last one ends). Running sums give every product's levels.
CREATE TABLE mrr_product_changes (
    customer_id   text        NOT NULL,
    currency      text        NOT NULL,
    product_id    text        NOT NULL,
    at            timestamptz NOT NULL,
    mrr           bigint      NOT NULL,
    subscriptions bigint      NOT NULL,
    customers     integer     NOT NULL,
    PRIMARY KEY (customer_id, currency, product_id, at)
);
CREATE INDEX mrr_product_changes_at ON mrr_product_changes (at);

-- The product changes summed per currency, product and UTC day, a day holding the changes in
-- `(midnight, next midnight]`: a product's level at an instant is the sum of the whole days
-- before it plus the changes since its midnight, so a year reads a row per product and day.
CREATE TABLE mrr_product_daily (
    currency      text   NOT NULL,
    product_id    text   NOT NULL,
    day           date   NOT NULL,
    mrr           bigint NOT NULL,
    subscriptions bigint NOT NULL,
    customers     bigint NOT NULL,
    PRIMARY KEY (currency, product_id, day)
);

-- The day of `mrr_product_daily` a change at `at` belongs to.
CREATE FUNCTION mrr_day(at timestamptz) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ((at - interval '1 microsecond') AT TIME ZONE 'UTC')::date $$;

-- A row per customer whose changes are recorded, locked while they are rewritten: two
-- transactions writing the same customer's subscriptions take turns, and the second reads the
-- first's versions (each statement sees what committed before it began).
CREATE TABLE mrr_customers (
    customer_id text PRIMARY KEY
);

-- Rewrites the changes of the `affected` customers from their subscriptions' versions. A
-- version counts from its `version_at` until the next version of its subscription while `active` or
-- `past_due`; a repeating discount that ends inside it changes its MRR there. A customer has a
-- handful of versions, so rewriting all of them on every write is cheap and stays right when
-- versions arrive out of order.
-- Every statement reads the affected customers' rows by key; a plan made while the tables were
-- small (a bulk load in one transaction) must not scan them whole once they have grown.
CREATE FUNCTION record_mrr_changes(affected text[]) RETURNS void
    LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
    removed mrr_product_changes[];
BEGIN
    INSERT INTO mrr_customers AS m (customer_id)
    SELECT DISTINCT c FROM unnest(affected) c ORDER BY c
    ON CONFLICT (customer_id) DO UPDATE SET customer_id = m.customer_id;
    DELETE FROM mrr_changes WHERE customer_id = ANY (affected);
    WITH deleted AS (
        DELETE FROM mrr_product_changes WHERE customer_id = ANY (affected) RETURNING *
    )
    SELECT array_agg(deleted) INTO removed FROM deleted;

    WITH spans AS (
        SELECT l.v, lead((l.v).version_at) OVER (
                   PARTITION BY (l.v).subscription_id ORDER BY (l.v).version_at) AS until
        FROM (SELECT DISTINCT subscription_id FROM subscription_versions
              WHERE customer_id = ANY (affected)) s
        CROSS JOIN LATERAL (SELECT x AS v FROM subscription_versions x
                            WHERE x.subscription_id = s.subscription_id) l
    ),
    counted AS (
        SELECT (s.v).*, s.v AS version, s.until FROM spans s
        WHERE (s.v).status IN ('active', 'past_due') AND (s.v).customer_id = ANY (affected)
    ),
    events AS (
        SELECT c.customer_id, c.currency, c.product_id, c.version_at AS at,
               version_mrr(c.version, c.version_at) AS mrr, 1 AS n
        FROM counted c
        UNION ALL
        SELECT c.customer_id, c.currency, c.product_id, c.until,
               -version_mrr(c.version, c.until - interval '1 microsecond'), -1
        FROM counted c WHERE c.until IS NOT NULL
        UNION ALL
        SELECT c.customer_id, c.currency, c.product_id, e.at,
               version_mrr(c.version, e.at) - version_mrr(c.version, c.version_at), 0
        FROM counted c,
             LATERAL (SELECT c.started_at
                             + make_interval(months => coalesce(c.discount_months, 0)) AS at) e
        WHERE c.discount_duration = 'repeating' AND c.discount_type IS NOT NULL
          AND e.at > c.version_at AND (c.until IS NULL OR e.at < c.until)
    ),
    products AS (
        INSERT INTO mrr_product_changes
        SELECT customer_id, currency, product_id, at, mrr, n, joined
        FROM (SELECT p.*, (sum(n) OVER w > 0)::int - (sum(n) OVER w - n > 0)::int AS joined
              FROM (SELECT customer_id, currency, product_id, at, sum(mrr) AS mrr, sum(n) AS n
                    FROM events GROUP BY customer_id, currency, product_id, at) p
              WINDOW w AS (PARTITION BY customer_id, currency, product_id ORDER BY at)) p
        WHERE mrr <> 0 OR n <> 0 OR joined <> 0
        RETURNING *
    ),
    -- Only the days whose sums change are written, in one order, so that writers of
    -- different customers rarely wait for each other and never deadlock here.
    daily AS (
        INSERT INTO mrr_product_daily AS d
        SELECT currency, product_id, mrr_day(at), sum(mrr), sum(subscriptions), sum(customers)
        FROM (SELECT currency, product_id, at, mrr, subscriptions, customers FROM products
              UNION ALL
              SELECT currency, product_id, at, -mrr, -subscriptions, -customers
              FROM unnest(removed)) c
        GROUP BY currency, product_id, mrr_day(at)
        HAVING sum(mrr) <> 0 OR sum(subscriptions) <> 0 OR sum(customers) <> 0
        ORDER BY currency, product_id, mrr_day(at)
        ON CONFLICT (currency, product_id, day) DO UPDATE SET
            mrr = d.mrr + excluded.mrr,
            subscriptions = d.subscriptions + excluded.subscriptions,
            customers = d.customers + excluded.customers
    )
    INSERT INTO mrr_changes
    SELECT r.customer_id, r.currency, r.at, r.mrr_after - r.mrr, r.mrr_after,
           r.n_after - r.n, r.n_after,
           lag(r.at) OVER w, lead(r.at) OVER w, f.since
    FROM (SELECT s.*, sum(s.mrr) OVER w AS mrr_after, sum(s.n) OVER w AS n_after
          FROM (SELECT customer_id, currency, at, sum(mrr) AS mrr, sum(n) AS n
                FROM events GROUP BY customer_id, currency, at) s
          WINDOW w AS (PARTITION BY customer_id, currency ORDER BY at)) r
    LEFT JOIN (SELECT customer_id, currency, min(version_at) AS since
               FROM subscription_versions
               WHERE customer_id = ANY (affected)
                 AND status IN ('active', 'past_due') AND amount > 0
               GROUP BY customer_id, currency) f USING (customer_id, currency)
    WHERE r.mrr <> 0 OR r.n <> 0
    WINDOW w AS (PARTITION BY r.customer_id, r.currency ORDER BY r.at);
END $$;

-- Every write of a version rewrites the changes of the customers its subscription has had, in
-- the same transaction.
CREATE FUNCTION record_mrr_changes_of_version() RETURNS trigger
    LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
    touched text[] := '{}';
BEGIN
    IF TG_OP <> 'DELETE' THEN
        touched := ARRAY(SELECT customer_id FROM subscription_versions
                         WHERE subscription_id = NEW.subscription_id) || NEW.customer_id;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        touched := touched || OLD.customer_id || ARRAY(
            SELECT customer_id FROM subscription_versions
            WHERE subscription_id = OLD.subscription_id);
    END IF;
    PERFORM record_mrr_changes(touched);
    RETURN NULL;
END $$;

CREATE TRIGGER subscription_versions_record_mrr_changes
    AFTER INSERT OR UPDATE OR DELETE ON subscription_versions
    FOR EACH ROW EXECUTE FUNCTION record_mrr_changes_of_version();

-- The versions stored before this migration, a customer at a time (each by index).
SELECT count(*)
FROM (SELECT record_mrr_changes(ARRAY[customer_id])
      FROM (SELECT DISTINCT customer_id FROM subscription_versions) c) recorded;

-- Paid orders (and their revenue before tax) and succeeded refunds per UTC day and currency.
-- Report intervals start and end at UTC midnights, so whole days sum to them exactly. The
-- counts say whether anything happened that day, even when the amounts sum to zero.
CREATE TABLE revenue_daily (
    day           date   NOT NULL,
    currency      text   NOT NULL,
    succeeded     bigint NOT NULL DEFAULT 0,
    gross_revenue bigint NOT NULL DEFAULT 0,
    refunds       bigint NOT NULL DEFAULT 0,
    refund_count  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (day, currency)
);

-- Adds `sign` times a fact to its day.
CREATE FUNCTION add_revenue_daily(
    at timestamptz, currency text, succeeded bigint, gross_revenue bigint, refunds bigint,
    refund_count bigint
) RETURNS void
    LANGUAGE sql AS $$
    INSERT INTO revenue_daily AS r (day, currency, succeeded, gross_revenue, refunds, refund_count)
    VALUES ((at AT TIME ZONE 'UTC')::date, currency, succeeded, gross_revenue, refunds,
            refund_count)
    ON CONFLICT (day, currency) DO UPDATE SET
        succeeded = r.succeeded + excluded.succeeded,
        gross_revenue = r.gross_revenue + excluded.gross_revenue,
        refunds = r.refunds + excluded.refunds,
        refund_count = r.refund_count + excluded.refund_count $$;

-- An order counts as a payment when it has an amount and was paid (refunded ones were paid).
CREATE FUNCTION order_counts(o orders) RETURNS boolean
    LANGUAGE sql IMMUTABLE AS $$
    SELECT o.created_at IS NOT NULL AND o.total_amount > 0
           AND o.status IN ('paid', 'refunded', 'partially_refunded') $$;

CREATE FUNCTION record_order_revenue() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    was_counted boolean := TG_OP <> 'INSERT' AND order_counts(OLD);
    now_counted boolean := TG_OP <> 'DELETE' AND order_counts(NEW);
BEGIN
    -- Most writes of an order change nothing counted here; they leave the day's row alone.
    IF was_counted AND now_counted AND OLD.created_at = NEW.created_at AND OLD.currency = NEW.currency
       AND OLD.net_amount IS NOT DISTINCT FROM NEW.net_amount THEN
        RETURN NULL;
    END IF;
    IF was_counted THEN
        PERFORM add_revenue_daily(OLD.created_at, OLD.currency, -1, -coalesce(OLD.net_amount, 0), 0, 0);
    END IF;
    IF now_counted THEN
        PERFORM add_revenue_daily(NEW.created_at, NEW.currency, 1, coalesce(NEW.net_amount, 0), 0, 0);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER orders_record_revenue
    AFTER INSERT OR UPDATE OR DELETE ON orders
    FOR EACH ROW EXECUTE FUNCTION record_order_revenue();

CREATE FUNCTION record_refund_revenue() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    was_counted boolean := TG_OP <> 'INSERT' AND OLD.status = 'succeeded'
                           AND OLD.created_at IS NOT NULL;
    now_counted boolean := TG_OP <> 'DELETE' AND NEW.status = 'succeeded'
                           AND NEW.created_at IS NOT NULL;
BEGIN
    IF was_counted AND now_counted AND OLD.created_at = NEW.created_at AND OLD.currency = NEW.currency
       AND OLD.amount = NEW.amount THEN
        RETURN NULL;
    END IF;
    IF was_counted THEN
        PERFORM add_revenue_daily(OLD.created_at, OLD.currency, 0, 0, -OLD.amount, -1);
    END IF;
    IF now_counted THEN
        PERFORM add_revenue_daily(NEW.created_at, NEW.currency, 0, 0, NEW.amount, 1);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER refunds_record_revenue
    AFTER INSERT OR UPDATE OR DELETE ON refunds
    FOR EACH ROW EXECUTE FUNCTION record_refund_revenue();

INSERT INTO revenue_daily (day, currency, succeeded, gross_revenue, refunds, refund_count)
SELECT day, currency, sum(succeeded), sum(gross_revenue), sum(refunds), sum(refund_count)
FROM (SELECT (o.created_at AT TIME ZONE 'UTC')::date AS day, o.currency, 1 AS succeeded,
             coalesce(o.net_amount, 0) AS gross_revenue, 0 AS refunds, 0 AS refund_count
      FROM orders o WHERE order_counts(o)
      UNION ALL
      SELECT (r.created_at AT TIME ZONE 'UTC')::date, r.currency, 0, 0, r.amount, 1
      FROM refunds r WHERE r.status = 'succeeded' AND r.created_at IS NOT NULL) f
GROUP BY day, currency;

-- Failed renewal charges are the versions that entered `past_due`; few, so found by index.
CREATE INDEX subscription_versions_past_due ON subscription_versions (version_at)
    WHERE status = 'past_due';
