//! `leases`: allowance of an exact feature granted to the edge, open until settled.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::usage_counters::Period;

/// A lease as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct Lease {
    pub(crate) id: Uuid,
    pub(crate) customer: String,
    pub(crate) feature: String,
    pub(crate) period_start: DateTime<Utc>,
    pub(crate) period_end: Option<DateTime<Utc>>,
    pub(crate) granted: i64,
    pub(crate) expires_at: DateTime<Utc>,
    pub(crate) settled_at: Option<DateTime<Utc>>,
    pub(crate) used: Option<i64>,
    pub(crate) settled_by: Option<String>,
}

impl Lease {
    pub(crate) fn period(&self) -> Period {
        Period {
            start: self.period_start,
            end: self.period_end,
        }
    }
}

/// The columns of [`Lease`], for `concat!` into literal statements.
macro_rules! columns {
    () => {
        "id, customer, feature, period_start, period_end, granted, expires_at, settled_at, used, \
         settled_by"
    };
}

/// Units of open leases on one counter: they count as spent until settled.
pub(crate) async fn open_units(
    conn: &mut PgConnection,
    customer: &str,
    feature: &str,
    period_start: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COALESCE(SUM(granted), 0)::bigint FROM leases
         WHERE customer = $1 AND feature = $2 AND period_start = $3 AND settled_at IS NULL",
    )
    .bind(customer)
    .bind(feature)
    .bind(period_start)
    .fetch_one(conn)
    .await
}

/// Records a new open lease.
pub(crate) async fn insert(
    conn: &mut PgConnection,
    lease: &Lease,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO leases (id, customer, feature, period_start, period_end, granted, expires_at,
                             created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(lease.id)
    .bind(&lease.customer)
    .bind(&lease.feature)
    .bind(lease.period_start)
    .bind(lease.period_end)
    .bind(lease.granted)
    .bind(lease.expires_at)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The lease `id`, unlocked: to learn which counter to lock first.
pub(crate) async fn find(conn: &mut PgConnection, id: Uuid) -> Result<Option<Lease>, sqlx::Error> {
    sqlx::query_as(concat!("SELECT ", columns!(), " FROM leases WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// The lease `id`, locked for the rest of the transaction.
pub(crate) async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Option<Lease>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM leases WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Marks a locked open lease settled with `used` units.
pub(crate) async fn settle(
    conn: &mut PgConnection,
    id: Uuid,
    used: i64,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Lease, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE leases SET settled_at = $4, used = $2, settled_by = $3
         WHERE id = $1 AND settled_at IS NULL
         RETURNING ",
        columns!()
    ))
    .bind(id)
    .bind(used)
    .bind(by)
    .bind(now)
    .fetch_one(conn)
    .await
}

/// Up to `limit` open leases past their expiry, oldest expiry first.
pub(crate) async fn expired(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM leases WHERE settled_at IS NULL AND expires_at <= $1
         ORDER BY expires_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// The open leases of one counter past their expiry, locked (the counter's lock is held).
pub(crate) async fn expired_on(
    conn: &mut PgConnection,
    customer: &str,
    feature: &str,
    period_start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<Lease>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM leases
         WHERE customer = $1 AND feature = $2 AND period_start = $3
           AND settled_at IS NULL AND expires_at <= $4
         ORDER BY id FOR UPDATE"
    ))
    .bind(customer)
    .bind(feature)
    .bind(period_start)
    .bind(now)
    .fetch_all(conn)
    .await
}
