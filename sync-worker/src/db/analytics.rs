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

/// A subscription version's MRR at instant `i.at`: the amount after the discount that applies
/// then, normalised to a month (a year is 12 months, a week 12/52 of one, a day 12/365), rounded
/// to whole minor units. A `once` discount is a first-invoice discount and lowers no MRR.
const MRR: &str = "
    round(
        (v.amount - CASE
            WHEN v.discount_type IS NULL OR v.discount_duration = 'once'
                 OR (v.discount_duration = 'repeating'
                     AND i.at[k] >= v.started_at + make_interval(months => coalesce(v.discount_months, 0)))
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

/// MRR at every interval's start and end per customer, and the movements between them.
///
/// A subscription version holds from its `version_at` until the next version; it counts in MRR
/// while `active` or `past_due`. Each version is joined only to the instants it covers (found
/// with `width_bucket` in the sorted instants), so the work grows with the versions, not with
/// versions × intervals; instants are numbered so that every later step is a hash join or a
/// hash aggregate on integers.
pub(crate) async fn mrr(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    step: &str,
) -> Result<Vec<MrrRow>, sqlx::Error> {
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
         at_instant AS (
             SELECT k, v.currency, v.customer_id, v.product_id, {MRR} AS mrr
             FROM counted v, instants i, generate_series(v.first_k, v.last_k) AS k
         ),
         customer_at AS (
             SELECT k, currency, customer_id, sum(mrr) AS mrr
             FROM at_instant GROUP BY k, currency, customer_id
         ),
         moves AS (
             SELECT m.i, m.currency, m.customer_id,
                    sum(m.mrr_start) AS mrr_start, sum(m.mrr_end) AS mrr_end
             FROM (SELECT k AS i, currency, customer_id, mrr AS mrr_start,
                          NULL::numeric AS mrr_end
                   FROM customer_at
                   UNION ALL
                   SELECT k - 1, currency, customer_id, NULL, mrr FROM customer_at) m,
                  instants n
             WHERE m.i BETWEEN 1 AND n.intervals
             GROUP BY m.i, m.currency, m.customer_id
         ),
         first_paid AS (
             SELECT customer_id, currency, min(version_at) AS since
             FROM subscription_versions
             WHERE status IN ('active', 'past_due') AND amount > 0
             GROUP BY customer_id, currency
         ),
         products AS (
             SELECT a.i, a.currency,
                    jsonb_agg(jsonb_build_object(
                        'product_id', a.product_id, 'subscribers', a.subscribers,
                        'customers', a.customers, 'mrr', a.mrr) ORDER BY a.product_id) AS products
             FROM (SELECT k - 1 AS i, currency, product_id, count(*) AS subscribers,
                          count(DISTINCT customer_id) AS customers, sum(mrr) AS mrr
                   FROM at_instant WHERE k > 1 GROUP BY k, currency, product_id) a
             GROUP BY a.i, a.currency
         )
         SELECT b.start, m.currency,
                coalesce(sum(m.mrr_start), 0)::int8 AS mrr_start,
                coalesce(sum(m.mrr_end), 0)::int8 AS mrr_end,
                coalesce(sum(m.mrr_end) FILTER (WHERE coalesce(m.mrr_start, 0) = 0
                    AND m.mrr_end > 0 AND (f.since IS NULL OR f.since >= b.start)), 0)::int8
                    AS new_mrr,
                coalesce(sum(m.mrr_end - m.mrr_start) FILTER (WHERE m.mrr_start > 0
                    AND m.mrr_end > m.mrr_start), 0)::int8 AS expansion_mrr,
                coalesce(sum(m.mrr_start - m.mrr_end) FILTER (WHERE m.mrr_start > 0
                    AND m.mrr_end > 0 AND m.mrr_end < m.mrr_start), 0)::int8 AS contraction_mrr,
                coalesce(sum(m.mrr_start) FILTER (WHERE m.mrr_start > 0
                    AND coalesce(m.mrr_end, 0) = 0), 0)::int8 AS churned_mrr,
                coalesce(sum(m.mrr_end) FILTER (WHERE coalesce(m.mrr_start, 0) = 0
                    AND m.mrr_end > 0 AND f.since < b.start), 0)::int8 AS reactivated_mrr,
                count(m.mrr_start) AS subscribers_start,
                count(m.mrr_end) AS subscribers_end,
                count(m.mrr_start) FILTER (WHERE m.mrr_end IS NULL) AS churned_customers,
                coalesce(p.products, '[]'::jsonb) AS products
         FROM moves m
         JOIN bounds b ON b.i = m.i
         LEFT JOIN first_paid f USING (customer_id, currency)
         LEFT JOIN products p ON p.i = m.i AND p.currency = m.currency
         GROUP BY b.start, m.currency, p.products
         ORDER BY m.currency, b.start"
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
