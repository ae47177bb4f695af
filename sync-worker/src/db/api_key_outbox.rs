//! `api_key_outbox`: API-key puts and deletes waiting for Workers KV, in id order.

use sqlx::PgConnection;

/// A claimed row: put `key:v1:<key_sha256>` → `customer`, or delete it when `customer` is
/// `None`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct Due {
    pub(crate) id: i64,
    pub(crate) key_sha256: String,
    pub(crate) customer: Option<String>,
}

/// Queues a put (`Some(customer)`) or a delete (`None`) of a key.
pub(crate) async fn enqueue(
    conn: &mut PgConnection,
    key_sha256: &str,
    customer: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO api_key_outbox (key_sha256, customer) VALUES ($1, $2)")
        .bind(key_sha256)
        .bind(customer)
        .execute(conn)
        .await?;
    Ok(())
}

/// Claims up to `limit` due rows in id order, for the rest of the transaction.
pub(crate) async fn claim(conn: &mut PgConnection, limit: i64) -> Result<Vec<Due>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, key_sha256, customer FROM api_key_outbox
         WHERE published_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= now())
         ORDER BY id
         LIMIT $1
         FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(conn)
    .await
}

pub(crate) async fn mark_published(
    conn: &mut PgConnection,
    ids: &[i64],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE api_key_outbox SET published_at = now(), attempts = attempts + 1
         WHERE id = ANY($1)",
    )
    .bind(ids)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a failed attempt with the snapshot outbox's backoff (1 s doubling, at most 5 min).
pub(crate) async fn mark_failed(
    conn: &mut PgConnection,
    ids: &[i64],
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE api_key_outbox SET attempts = attempts + 1, last_error = $2,
             next_attempt_at = now() + least(interval '5 minutes',
                                              interval '1 second' * power(2, least(attempts, 12)))
         WHERE id = ANY($1)",
    )
    .bind(ids)
    .bind(error)
    .execute(conn)
    .await?;
    Ok(())
}
