//! Revenue analytics over the stored Polar objects: MRR and its movements from
//! `subscription_versions`, payments and revenue from `orders`, `refunds`.
//!
//! Every statement is given the same interval bounds: `[from, to)` cut into steps of `step`
//! (a PostgreSQL interval: `1 mon`, `7 days`, `1 day`), the last one ending at `to`. The sessions
//! run in UTC (sqlx sets `TimeZone`), so months are calendar months in UTC.

use chrono::{DateTime, Utc};
use sqlx::{Connection, PgConnection};

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
/// Read from the change logs the subscription trigger keeps (migration
/// `20261206000040_analytics_rollups.sql`): `mrr_changes` holds every instant a customer's MRR
/// or count of counted subscriptions changed, with the values before and after and the
/// customer's neighbouring changes; `mrr_product_changes` the same per product as differences,
/// summed per UTC day in `mrr_product_daily`, so a product's level at an instant is its whole
/// days before the instant's midnight plus the changes since.
/// Instants (the intervals' starts and the last end) are numbered `k`; a change counts at the
/// first instant at or after it. Levels are running sums of the changes per currency (and per
/// product). A customer's movement in an interval compares the value before its first change
/// inside it (the one whose previous change is before the interval's start) with the value
/// after its last (that change itself when its next change is after the interval's end, as it
/// mostly is; else looked up by index); customers without a change inside an interval have no
/// movement, so the work grows with the changes, not with customers ×
/// intervals.
pub(crate) async fn mrr(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    step: &str,
) -> Result<Vec<MrrRow>, sqlx::Error> {
    let sql = format!(
        "WITH {BOUNDS},
         edges AS (
             SELECT c.currency, b.i + 1 AS k, b.start, c.first_paid_at AS since,
                    c.mrr_before AS mrr_start, c.subscriptions_before AS n_start,
                    CASE WHEN c.next_at IS NULL OR c.next_at > b.finish THEN c.mrr_after
                         ELSE (SELECT l.mrr_after FROM mrr_changes l
                               WHERE l.customer_id = c.customer_id AND l.currency = c.currency
                                 AND l.at <= b.finish
                               ORDER BY l.at DESC LIMIT 1)
                    END AS mrr_end,
                    CASE WHEN c.next_at IS NULL OR c.next_at > b.finish
                              THEN c.subscriptions_after
                         ELSE (SELECT l.subscriptions_after FROM mrr_changes l
                               WHERE l.customer_id = c.customer_id AND l.currency = c.currency
                                 AND l.at <= b.finish
                               ORDER BY l.at DESC LIMIT 1)
                    END AS n_end
             FROM mrr_changes c
             JOIN bounds b
               ON b.i = width_bucket(c.at - interval '1 microsecond',
                                     (SELECT at FROM instants))
             WHERE c.at > $1 AND c.at <= $2
               AND (c.previous_at IS NULL OR c.previous_at <= b.start)
         ),
         moved AS (
             SELECT c.currency, c.k - 1 AS i,
                    sum(c.mrr_end) FILTER (WHERE c.mrr_start = 0 AND c.mrr_end > 0
                        AND (c.since IS NULL OR c.since >= c.start)) AS new_mrr,
                    sum(c.mrr_end - c.mrr_start) FILTER (WHERE c.mrr_start > 0
                        AND c.mrr_end > c.mrr_start) AS expansion_mrr,
                    sum(c.mrr_start - c.mrr_end) FILTER (WHERE c.mrr_start > 0
                        AND c.mrr_end > 0 AND c.mrr_end < c.mrr_start) AS contraction_mrr,
                    sum(c.mrr_start) FILTER (WHERE c.mrr_start > 0 AND c.mrr_end = 0)
                        AS churned_mrr,
                    sum(c.mrr_end) FILTER (WHERE c.mrr_start = 0 AND c.mrr_end > 0
                        AND c.since < c.start) AS reactivated_mrr,
                    count(*) FILTER (WHERE c.n_start > 0 AND c.n_end = 0) AS churned_customers,
                    sum(c.mrr_end - c.mrr_start) AS net_mrr,
                    sum((c.n_end > 0)::int - (c.n_start > 0)::int) AS net_subscribers
             FROM edges c
             WHERE c.mrr_start <> c.mrr_end OR c.n_start <> c.n_end
             GROUP BY c.currency, c.k
         ),
         level_changes AS (
             SELECT currency, 1 AS k, sum(mrr_after - mrr_before) AS mrr,
                    sum((subscriptions_after > 0)::int - (subscriptions_before > 0)::int)
                        AS subscribers
             FROM mrr_changes WHERE at <= $1
             GROUP BY currency
             UNION ALL
             SELECT currency, i + 1, net_mrr, net_subscribers FROM moved
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
         product_levels AS (
             SELECT p.currency, p.product_id, x.k, sum(p.mrr) AS mrr,
                    sum(p.subscriptions) AS subscribers, sum(p.customers) AS customers
             FROM (SELECT k, i.at[k] AS at, date_trunc('day', i.at[k], 'UTC') AS midnight
                   FROM instants i, generate_series(2, i.intervals + 1) k) x
             CROSS JOIN LATERAL (
                 SELECT d.currency, d.product_id, d.mrr, d.subscriptions, d.customers
                 FROM mrr_product_daily d
                 WHERE d.day < (x.midnight AT TIME ZONE 'UTC')::date
                 UNION ALL
                 SELECT c.currency, c.product_id, c.mrr, c.subscriptions, c.customers
                 FROM mrr_product_changes c
                 WHERE c.at > x.midnight AND c.at <= x.at
             ) p
             GROUP BY p.currency, p.product_id, x.k
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
    let mut tx = conn.begin().await?;
    planned_for_reports(&mut tx).await?;
    // Only constants are spliced in; every value is bound.
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(from)
        .bind(to)
        .bind(step)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(rows)
}

/// Plans this transaction's report statements without JIT compilation and with hash
/// aggregation. Their row estimates are poor (intervals come from `generate_series`), so the
/// planner's costs run high: it would JIT-compile them, which takes seconds, longer than the
/// statements themselves, and would sort a year of changes to group them into a dozen
/// intervals.
async fn planned_for_reports(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT set_config('jit', 'off', true), set_config('enable_sort', 'off', true)")
        .execute(conn)
        .await?;
    Ok(())
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
/// `past_due`) and succeeded refunds, by the interval they were made in. Orders and refunds are
/// read from `revenue_daily` (a row per UTC day and currency, kept by triggers); intervals
/// begin and end at UTC midnights, so their days sum to them exactly.
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
             SELECT d.day::timestamp AT TIME ZONE 'UTC' AS at, d.currency, d.succeeded,
                    0::int8 AS failed, d.gross_revenue AS revenue, d.refunds AS refunded,
                    d.succeeded + d.refund_count AS facts
             FROM revenue_daily d
             WHERE d.day >= ($1::timestamptz AT TIME ZONE 'UTC')::date
               AND d.day < ($2::timestamptz AT TIME ZONE 'UTC')::date
             UNION ALL
             SELECT v.version_at, v.currency, 0, 1, 0, 0, 1
             FROM subscription_versions v
             WHERE v.version_at >= $1 AND v.version_at < $2 AND v.status = 'past_due'
               AND (SELECT p.status FROM subscription_versions p
                    WHERE p.subscription_id = v.subscription_id AND p.version_at < v.version_at
                    ORDER BY p.version_at DESC LIMIT 1) IS DISTINCT FROM 'past_due'
         )
         SELECT s.at[width_bucket(f.at, s.at)] AS start, f.currency,
                sum(f.succeeded)::int8 AS succeeded, sum(f.failed)::int8 AS failed,
                sum(f.revenue)::int8 AS gross_revenue, sum(f.refunded)::int8 AS refunds
         FROM facts f, starts s
         GROUP BY 1, 2
         HAVING sum(f.facts) > 0
         ORDER BY 2, 1"
    );
    let mut tx = conn.begin().await?;
    planned_for_reports(&mut tx).await?;
    // Only constants are spliced in; every value is bound.
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(from)
        .bind(to)
        .bind(step)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(rows)
}
