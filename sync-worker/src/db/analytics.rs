//! Revenue analytics over the stored Polar objects: MRR and its movements from
//! `subscription_versions`, payments and revenue from `orders`, `refunds`.
//!
//! Every statement is given the same interval bounds: `[from, to)` cut into steps of `step`
//! (a PostgreSQL interval: `1 mon`, `7 days`, `1 day`), the last one ending at `to`. The sessions
//! run in UTC (sqlx sets `TimeZone`), so months are calendar months in UTC.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// The intervals `[start, finish)`, numbered `i` from 1, and the sorted instants that begin or
/// end one: instant `k` is the start of interval `k` and the end of interval `k - 1`.
const BOUNDS: &str = "
    bounds AS (
        SELECT b.start, least(b.start + $3::interval, $2::timestamptz) AS finish, b.i
        FROM generate_series($1::timestamptz, $2::timestamptz - interval '1 microsecond',
                             $3::interval) WITH ORDINALITY AS b(start, i)
    ),
    instants AS (
        SELECT array_agg(at ORDER BY at) AS at, count(*) - 1 AS intervals
        FROM (SELECT start AS at FROM bounds UNION SELECT finish FROM bounds) i
    )";

/// A subscription version's MRR at the instant `{AT}` stands for: the amount after the
/// discount that applies then, normalised to a month (a year is 12 months, a week 12/52 of
/// one, a day 12/365), rounded to whole minor units. A `once` discount is a first-invoice discount and lowers no MRR.
const MRR: &str = "
    round(
        (v.amount - CASE
            WHEN v.discount_type IS NULL OR v.discount_duration = 'once'
                 OR (v.discount_duration = 'repeating'
                     AND {AT} >= v.started_at
                                 + make_interval(months => coalesce(v.discount_months, 0)))
                THEN 0
            WHEN v.discount_type = 'percentage'
                THEN v.amount * coalesce(v.discount_basis_points, 0)::numeric / 10000
            ELSE least(v.amount, coalesce(v.discount_amount, 0))
         END)
        * CASE v.recurring_interval WHEN 'week' THEN 52 WHEN 'day' THEN 365 ELSE 1 END
        / (CASE v.recurring_interval WHEN 'month' THEN 1 ELSE 12 END * v.recurring_interval_count)
    )::int8";

/// One interval of one currency: MRR at both ends and its movements.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct MrrRow {
    pub(crate) start: DateTime<Utc>,
    pub(crate) currency: String,
    pub(crate) mrr_start: i64,
    pub(crate) mrr_end: i64,
    pub(crate) new_mrr: i64,
    pub(crate) expansion_mrr: i64,
    pub(crate) contraction_mrr: i64,
    pub(crate) churned_mrr: i64,
    pub(crate) reactivated_mrr: i64,
    pub(crate) subscribers_start: i64,
    pub(crate) subscribers_end: i64,
    pub(crate) churned_customers: i64,
    /// `[{product_id, subscribers, customers, mrr}]` at the interval's end.
    pub(crate) products: sqlx::types::Json<Vec<ProductRow>>,
}

/// A product's subscriptions counted in MRR at an interval's end.
#[derive(Debug, Clone, serde::Deserialize)]
pub(crate) struct ProductRow {
    pub(crate) product_id: String,
    pub(crate) subscribers: i64,
    pub(crate) customers: i64,
    pub(crate) mrr: i64,
}

/// MRR at every interval's start and end, per currency, and its movements per customer.
///
/// A subscription version holds from its `version_at` until the next version; it counts in MRR
/// while `active` or `past_due`. Instants (the intervals' starts and the last end) are numbered
/// `k`; `width_bucket` finds the first and last instant each version covers. Rather than a row
/// per version and instant, each version adds its MRR at its first instant and takes it away
/// after its last (and a repeating discount that ends inside it adds the difference there):
/// running sums of these deltas per customer give the customer's MRR at every instant where it
/// changed, and an interval's movements are exactly its customers whose MRR changed at its end
/// instant. Running sums per currency (and per product) give the levels at every instant. The
/// work grows with the versions, not with versions × intervals.
pub(crate) async fn mrr(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    step: &str,
) -> Result<Vec<MrrRow>, sqlx::Error> {
    let at = |instant: &str| MRR.replace("{AT}", instant);
    let (first, last) = (at("i.at[v.first_k]"), at("i.at[v.last_k]"));
    let (at_end, before_end) = (at("i.at[d.k]"), at("i.at[d.k - 1]"));
    let sql = format!(
        "WITH {BOUNDS},
         spans AS (
             SELECT v.*, lead(v.version_at) OVER (
                        PARTITION BY v.subscription_id ORDER BY v.version_at) AS until
             FROM subscription_versions v
             WHERE v.version_at <= $2
         ),
         counted AS (
             SELECT v.*,
                    width_bucket(v.version_at - interval '1 microsecond', i.at) + 1 AS first_k,
                    width_bucket(coalesce(v.until, 'infinity') - interval '1 microsecond', i.at)
                        AS last_k
             FROM spans v, instants i
             WHERE v.status IN ('active', 'past_due')
               AND (v.until IS NULL OR v.until > $1)
         ),
         deltas AS (
             SELECT v.customer_id, v.currency, v.product_id, v.first_k AS k,
                    {first} AS mrr, 1 AS n
             FROM counted v, instants i WHERE v.first_k <= v.last_k
             UNION ALL
             SELECT v.customer_id, v.currency, v.product_id, v.last_k + 1,
                    -{last}, -1
             FROM counted v, instants i WHERE v.first_k <= v.last_k AND v.last_k <= i.intervals
             UNION ALL
             SELECT v.customer_id, v.currency, v.product_id, d.k,
                    {at_end} - {before_end}, 0
             FROM counted v, instants i,
                  LATERAL (SELECT width_bucket(v.started_at + make_interval(
                                      months => coalesce(v.discount_months, 0))
                                  - interval '1 microsecond', i.at) + 1 AS k) d
             WHERE v.discount_duration = 'repeating' AND v.discount_type IS NOT NULL
               AND d.k > v.first_k AND d.k <= v.last_k
         ),
         customer_steps AS (
             SELECT customer_id, currency, k, mrr AS delta, n AS delta_n,
                    sum(mrr) OVER w AS mrr_end, sum(n) OVER w AS n_end
             FROM (SELECT customer_id, currency, k, sum(mrr) AS mrr, sum(n) AS n
                   FROM deltas GROUP BY customer_id, currency, k) c
             WINDOW w AS (PARTITION BY customer_id, currency ORDER BY k)
         ),
         changes AS (
             SELECT s.*, s.mrr_end - s.delta AS mrr_start, s.n_end - s.delta_n AS n_start,
                    (s.n_end > 0)::int - (s.n_end - s.delta_n > 0)::int AS joined
             FROM customer_steps s
             WHERE s.delta <> 0 OR s.delta_n <> 0
         ),
         first_paid AS (
             SELECT customer_id, currency, min(version_at) AS since
             FROM subscription_versions
             WHERE status IN ('active', 'past_due') AND amount > 0
             GROUP BY customer_id, currency
         ),
         moved AS (
             SELECT c.currency, c.k - 1 AS i,
                    sum(c.mrr_end) FILTER (WHERE c.mrr_start = 0 AND c.mrr_end > 0
                        AND (f.since IS NULL OR f.since >= b.start)) AS new_mrr,
                    sum(c.mrr_end - c.mrr_start) FILTER (WHERE c.mrr_start > 0
                        AND c.mrr_end > c.mrr_start) AS expansion_mrr,
                    sum(c.mrr_start - c.mrr_end) FILTER (WHERE c.mrr_start > 0
                        AND c.mrr_end > 0 AND c.mrr_end < c.mrr_start) AS contraction_mrr,
                    sum(c.mrr_start) FILTER (WHERE c.mrr_start > 0 AND c.mrr_end = 0)
                        AS churned_mrr,
                    sum(c.mrr_end) FILTER (WHERE c.mrr_start = 0 AND c.mrr_end > 0
                        AND f.since < b.start) AS reactivated_mrr,
                    count(*) FILTER (WHERE c.n_start > 0 AND c.n_end = 0) AS churned_customers
             FROM changes c
             JOIN bounds b ON b.i = c.k - 1
             LEFT JOIN first_paid f USING (customer_id, currency)
             WHERE c.k > 1
             GROUP BY c.currency, c.k
         ),
         level_changes AS (
             SELECT currency, k, sum(delta) AS mrr, sum(joined) AS subscribers
             FROM changes GROUP BY currency, k
         ),
         levels AS (
             SELECT g.currency, g.k,
                    sum(coalesce(l.mrr, 0)) OVER w AS mrr,
                    sum(coalesce(l.subscribers, 0)) OVER w AS subscribers
             FROM (SELECT DISTINCT currency FROM level_changes) cur
             CROSS JOIN instants i
             CROSS JOIN LATERAL (SELECT cur.currency, k
                                 FROM generate_series(1, i.intervals + 1) k) g
             LEFT JOIN level_changes l ON l.currency = g.currency AND l.k = g.k
             WINDOW w AS (PARTITION BY g.currency ORDER BY g.k)
         ),
         product_holders AS (
             SELECT currency, product_id, k,
                    (sum(n) OVER w > 0)::int - (sum(n) OVER w - n > 0)::int AS joined
             FROM (SELECT customer_id, currency, product_id, k, sum(n) AS n
                   FROM deltas GROUP BY customer_id, currency, product_id, k) c
             WINDOW w AS (PARTITION BY customer_id, currency, product_id ORDER BY k)
         ),
         product_changes AS (
             SELECT currency, product_id, k, sum(mrr) AS mrr, sum(n) AS n, sum(joined) AS joined
             FROM (SELECT currency, product_id, k, mrr, n, 0 AS joined FROM deltas
                   UNION ALL
                   SELECT currency, product_id, k, 0, 0, joined FROM product_holders) p
             GROUP BY currency, product_id, k
         ),
         product_levels AS (
             SELECT g.currency, g.product_id, g.k,
                    sum(coalesce(p.mrr, 0)) OVER w AS mrr,
                    sum(coalesce(p.n, 0)) OVER w AS subscribers,
                    sum(coalesce(p.joined, 0)) OVER w AS customers
             FROM (SELECT DISTINCT currency, product_id FROM product_changes) pr
             CROSS JOIN instants i
             CROSS JOIN LATERAL (SELECT pr.currency, pr.product_id, k
                                 FROM generate_series(1, i.intervals + 1) k) g
             LEFT JOIN product_changes p
                    ON p.currency = g.currency AND p.product_id = g.product_id AND p.k = g.k
             WINDOW w AS (PARTITION BY g.currency, g.product_id ORDER BY g.k)
         ),
         products AS (
             SELECT k - 1 AS i, currency,
                    jsonb_agg(jsonb_build_object(
                        'product_id', product_id, 'subscribers', subscribers,
                        'customers', customers, 'mrr', mrr) ORDER BY product_id) AS products
             FROM product_levels WHERE k > 1 AND subscribers > 0
             GROUP BY k, currency
         )
         SELECT b.start, s.currency,
                s.mrr::int8 AS mrr_start, e.mrr::int8 AS mrr_end,
                coalesce(m.new_mrr, 0)::int8 AS new_mrr,
                coalesce(m.expansion_mrr, 0)::int8 AS expansion_mrr,
                coalesce(m.contraction_mrr, 0)::int8 AS contraction_mrr,
                coalesce(m.churned_mrr, 0)::int8 AS churned_mrr,
                coalesce(m.reactivated_mrr, 0)::int8 AS reactivated_mrr,
                s.subscribers::int8 AS subscribers_start, e.subscribers::int8 AS subscribers_end,
                coalesce(m.churned_customers, 0) AS churned_customers,
                coalesce(p.products, '[]'::jsonb) AS products
         FROM bounds b
         JOIN levels s ON s.k = b.i
         JOIN levels e ON e.k = b.i + 1 AND e.currency = s.currency
         LEFT JOIN moved m ON m.i = b.i AND m.currency = s.currency
         LEFT JOIN products p ON p.i = b.i AND p.currency = s.currency
         WHERE s.mrr <> 0 OR e.mrr <> 0 OR s.subscribers <> 0 OR e.subscribers <> 0
            OR m.i IS NOT NULL
         ORDER BY s.currency, b.start"
    );
    // Only constants are spliced in; every value is bound.
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(from)
        .bind(to)
        .bind(step)
        .fetch_all(conn)
        .await
}

/// One interval of one currency: payments, revenue and refunds.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub(crate) struct MoneyRow {
    pub(crate) start: DateTime<Utc>,
    pub(crate) currency: String,
    pub(crate) succeeded: i64,
    pub(crate) failed: i64,
    pub(crate) gross_revenue: i64,
    pub(crate) refunds: i64,
}

/// Paid orders (and their revenue before tax), failed renewal charges (a subscription entering
/// `past_due`) and succeeded refunds, by the interval they were made in.
pub(crate) async fn money(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    step: &str,
) -> Result<Vec<MoneyRow>, sqlx::Error> {
    let sql = format!(
        "WITH {BOUNDS},
         starts AS (SELECT array_agg(start ORDER BY start) AS at FROM bounds),
         facts AS (
             SELECT o.created_at AS at, o.currency, 1 AS succeeded, 0 AS failed,
                    o.net_amount AS revenue, 0::int8 AS refunded
             FROM orders o
             WHERE o.created_at >= $1 AND o.created_at < $2 AND o.total_amount > 0
               AND o.status IN ('paid', 'refunded', 'partially_refunded')
             UNION ALL
             SELECT v.version_at, v.currency, 0, 1, 0, 0
             FROM (SELECT version_at, currency, status, lag(status) OVER (
                          PARTITION BY subscription_id ORDER BY version_at) AS before
                   FROM subscription_versions) v
             WHERE v.version_at >= $1 AND v.version_at < $2
               AND v.status = 'past_due' AND v.before IS DISTINCT FROM 'past_due'
             UNION ALL
             SELECT r.created_at, r.currency, 0, 0, 0, r.amount
             FROM refunds r
             WHERE r.created_at >= $1 AND r.created_at < $2 AND r.status = 'succeeded'
         )
         SELECT s.at[width_bucket(f.at, s.at)] AS start, f.currency,
                sum(f.succeeded)::int8 AS succeeded, sum(f.failed)::int8 AS failed,
                sum(f.revenue)::int8 AS gross_revenue, sum(f.refunded)::int8 AS refunds
         FROM facts f, starts s
         GROUP BY 1, 2
         ORDER BY 2, 1"
    );
    // Only constants are spliced in; every value is bound.
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(from)
        .bind(to)
        .bind(step)
        .fetch_all(conn)
        .await
}
