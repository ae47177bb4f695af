//! `publish_outbox`: snapshot revisions waiting to be published to KV, in id order.

use sqlx::PgConnection;
use std::time::Duration;

/// A claimed outbox row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Due {
    pub(crate) id: i64,
    pub(crate) customer: String,
    pub(crate) revision: i64,
}

/// Takes the publisher's lock for the rest of the transaction, unless another replica holds
/// it: one publisher at a time keeps writes in revision order.
pub(crate) async fn try_lock_publisher(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT pg_try_advisory_xact_lock(hashtextextended('tollgate.publisher', 0))",
    )
    .fetch_one(conn)
    .await
}

/// Claims up to `limit` due rows in id order, for the rest of the transaction.
pub(crate) async fn claim(conn: &mut PgConnection, limit: i64) -> Result<Vec<Due>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, customer, revision FROM publish_outbox
         WHERE published_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= now())
         ORDER BY id
         LIMIT $1
         FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// The outboxes the publisher drains together: snapshots (this table) and API keys
/// (`api_key_outbox`). Both are marked, and back off, alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outbox {
    Snapshots,
    ApiKeys,
}

impl Outbox {
    fn table(self) -> &'static str {
        match self {
            Self::Snapshots => "publish_outbox",
            Self::ApiKeys => "api_key_outbox",
        }
    }
}

/// Marks the rows `ids` of `outbox` published.
pub(crate) async fn mark_published(
    conn: &mut PgConnection,
    outbox: Outbox,
    ids: &[i64],
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "UPDATE {} SET published_at = now(), attempts = attempts + 1 WHERE id = ANY($1)",
        outbox.table()
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(ids)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records a failed attempt on the rows `ids` of `outbox` and schedules the next: 1 s after
/// the first failure, doubling each time, at most 5 minutes apart.
pub(crate) async fn mark_failed(
    conn: &mut PgConnection,
    outbox: Outbox,
    ids: &[i64],
    error: &str,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "UPDATE {} SET attempts = attempts + 1, last_error = $2,
             next_attempt_at = now() + retry_delay(attempts, interval '1 second', interval '5 minutes')
         WHERE id = ANY($1)",
        outbox.table()
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(ids)
        .bind(error)
        .execute(conn)
        .await?;
    Ok(())
}

/// How far publication lags: the age of the oldest unpublished row, by the database's clock
/// (so that it does not depend on ours), if any.
pub(crate) async fn lag(conn: &mut PgConnection) -> Result<Option<Duration>, sqlx::Error> {
    let seconds: Option<f64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM now() - min(created_at))::float8
         FROM publish_outbox WHERE published_at IS NULL",
    )
    .fetch_one(conn)
    .await?;
    Ok(seconds.map(|s| Duration::from_secs_f64(s.max(0.0))))
}

/// How many rows wait in each outbox the publisher drains, by name (`snapshots`, `api_keys`).
pub(crate) async fn depths(
    conn: &mut PgConnection,
) -> Result<Vec<(&'static str, i64)>, sqlx::Error> {
    let (snapshots, api_keys): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM publish_outbox WHERE published_at IS NULL),
                (SELECT count(*) FROM api_key_outbox WHERE published_at IS NULL)",
    )
    .fetch_one(conn)
    .await?;
    Ok(vec![("snapshots", snapshots), ("api_keys", api_keys)])
}
