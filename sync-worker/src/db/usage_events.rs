//! `usage_events`: one row per counted metered event, keyed by (customer, event id) — the
//! de-duplication keys, and the source of the monthly report.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};

/// An event to count.
#[derive(Debug)]
pub(crate) struct NewEvent<'a> {
    pub(crate) customer: &'a str,
    pub(crate) event_id: &'a str,
    pub(crate) feature: &'a str,
    pub(crate) amount: i64,
    pub(crate) occurred_at: DateTime<Utc>,
    pub(crate) period_start: DateTime<Utc>,
}

/// Inserts the keys of `events` (callers sort them by customer and id, for a global lock
/// order); returns the (customer, event id) of those that were new.
pub(crate) async fn insert_new(
    conn: &mut PgConnection,
    events: &[NewEvent<'_>],
    now: DateTime<Utc>,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let customers: Vec<&str> = events.iter().map(|e| e.customer).collect();
    let ids: Vec<&str> = events.iter().map(|e| e.event_id).collect();
    let features: Vec<&str> = events.iter().map(|e| e.feature).collect();
    let amounts: Vec<i64> = events.iter().map(|e| e.amount).collect();
    let occurred: Vec<DateTime<Utc>> = events.iter().map(|e| e.occurred_at).collect();
    let periods: Vec<DateTime<Utc>> = events.iter().map(|e| e.period_start).collect();
    sqlx::query_as(
        "INSERT INTO usage_events (customer, event_id, feature, amount, occurred_at, period_start,
                                   received_at)
         SELECT customer, event_id, feature, amount, occurred_at, period_start, $7
         FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::timestamptz[],
                     $6::timestamptz[]) WITH ORDINALITY
             AS e(customer, event_id, feature, amount, occurred_at, period_start, n)
         ORDER BY n
         ON CONFLICT (customer, event_id) DO NOTHING
         RETURNING customer, event_id",
    )
    .bind(&customers)
    .bind(&ids)
    .bind(&features)
    .bind(&amounts)
    .bind(&occurred)
    .bind(&periods)
    .bind(now)
    .fetch_all(conn)
    .await
}

/// Inserts the key of one event counted by a check, with the answer it got (a retry of the
/// same event id is answered the same); `false` when the key exists.
pub(crate) async fn insert_answered(
    conn: &mut PgConnection,
    event: &NewEvent<'_>,
    answer: &Value,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO usage_events (customer, event_id, feature, amount, occurred_at, period_start,
                                   received_at, answer)
         VALUES ($1, $2, $3, $4, $5, $6, $5, $7)
         ON CONFLICT (customer, event_id) DO NOTHING",
    )
    .bind(event.customer)
    .bind(event.event_id)
    .bind(event.feature)
    .bind(event.amount)
    .bind(event.occurred_at)
    .bind(event.period_start)
    .bind(answer)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted > 0)
}

/// The stored answer of the event `event_id` of `customer`: `None` when no such event was
/// counted, `Some(None)` when it was counted without an answer (by a usage batch).
pub(crate) async fn answer_of(
    conn: &mut PgConnection,
    customer: &str,
    event_id: &str,
) -> Result<Option<Option<Value>>, sqlx::Error> {
    sqlx::query_scalar("SELECT answer FROM usage_events WHERE customer = $1 AND event_id = $2")
        .bind(customer)
        .bind(event_id)
        .fetch_optional(conn)
        .await
}

/// Deletes up to `limit` keys received and occurred before `cutoff`; returns how many.
pub(crate) async fn delete_slice_before(
    pool: &PgPool,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM usage_events
         WHERE ctid = ANY(ARRAY(SELECT ctid FROM usage_events
                                WHERE received_at < $1 AND occurred_at < $1
                                LIMIT $2))",
    )
    .bind(cutoff)
    .bind(limit)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// One customer's use of one feature over a time range.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct Total {
    pub(crate) customer: String,
    pub(crate) feature: String,
    pub(crate) events: i64,
    pub(crate) units: i64,
    /// Units billed as overage (from `overage_outbox`).
    pub(crate) overage_units: i64,
}

/// Per customer and feature, the events and units that occurred in `[start, end)` and the
/// units billed as overage, by customer then feature.
pub(crate) async fn totals(
    pool: &PgPool,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<Total>, sqlx::Error> {
    sqlx::query_as(
        "WITH used AS (
             SELECT customer, feature, count(*) AS events, sum(amount) AS units
             FROM usage_events WHERE occurred_at >= $1 AND occurred_at < $2
             GROUP BY customer, feature
         ), billed AS (
             SELECT customer, feature, sum(units) AS units
             FROM overage_outbox WHERE occurred_at >= $1 AND occurred_at < $2
             GROUP BY customer, feature
         )
         SELECT COALESCE(u.customer, b.customer) AS customer,
                COALESCE(u.feature, b.feature) AS feature,
                COALESCE(u.events, 0)::int8 AS events,
                COALESCE(u.units, 0)::int8 AS units,
                COALESCE(b.units, 0)::int8 AS overage_units
         FROM used u FULL JOIN billed b USING (customer, feature)
         ORDER BY 1, 2",
    )
    .bind(start)
    .bind(end)
    .fetch_all(pool)
    .await
}

/// One interval of a feature's usage: units, events and the customers who used it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct IntervalUse {
    pub(crate) start: DateTime<Utc>,
    pub(crate) units: i64,
    pub(crate) events: i64,
    pub(crate) customers: i64,
}

/// The counted events of `feature` in `[from, to)` by their own time, per interval of `step`
/// (a PostgreSQL interval); intervals without events are left out.
pub(crate) async fn per_interval(
    conn: &mut PgConnection,
    feature: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    step: &str,
) -> Result<Vec<IntervalUse>, sqlx::Error> {
    sqlx::query_as(
        "WITH starts AS (
             SELECT array_agg(b ORDER BY b) AS at
             FROM generate_series($2::timestamptz, $3::timestamptz - interval '1 microsecond',
                                  $4::interval) AS b
         )
         SELECT s.at[width_bucket(e.occurred_at, s.at)] AS start,
                sum(e.amount)::int8 AS units, count(*) AS events,
                count(DISTINCT e.customer) AS customers
         FROM usage_events e, starts s
         WHERE e.feature = $1 AND e.occurred_at >= $2 AND e.occurred_at < $3
         GROUP BY 1 ORDER BY 1",
    )
    .bind(feature)
    .bind(from)
    .bind(to)
    .bind(step)
    .fetch_all(conn)
    .await
}

/// How the customers who used `feature` in `[from, to)` spread: their number, the units in
/// all, the nearest-rank 50th and 95th percentiles and the most of one customer's units, and
/// the `top` customers who used the most, most first.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Spread {
    pub(crate) customers: i64,
    pub(crate) units: i64,
    pub(crate) p50: Option<i64>,
    pub(crate) p95: Option<i64>,
    pub(crate) max: Option<i64>,
    /// `[customer, units]` pairs.
    pub(crate) top: sqlx::types::Json<Vec<(String, i64)>>,
}

/// One pass over the events: the per-customer sums are made once and read for both the
/// percentiles and the top customers.
pub(crate) async fn spread(
    conn: &mut PgConnection,
    feature: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    top: i64,
) -> Result<Spread, sqlx::Error> {
    sqlx::query_as(
        "WITH per_customer AS MATERIALIZED (
             SELECT customer, sum(amount)::int8 AS units FROM usage_events
             WHERE feature = $1 AND occurred_at >= $2 AND occurred_at < $3
             GROUP BY customer
         )
         SELECT count(*) AS customers, coalesce(sum(units), 0)::int8 AS units,
                percentile_disc(0.5) WITHIN GROUP (ORDER BY units)::int8 AS p50,
                percentile_disc(0.95) WITHIN GROUP (ORDER BY units)::int8 AS p95,
                max(units)::int8 AS max,
                (SELECT coalesce(jsonb_agg(jsonb_build_array(customer, units)
                                           ORDER BY units DESC, customer), '[]')
                 FROM (SELECT customer, units FROM per_customer
                       ORDER BY units DESC, customer LIMIT $4) t) AS top
         FROM per_customer",
    )
    .bind(feature)
    .bind(from)
    .bind(to)
    .bind(top)
    .fetch_one(conn)
    .await
}
