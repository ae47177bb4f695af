//! `api_key_outbox`: API-key puts and deletes waiting for Workers KV, in id order. Rows are
//! marked published or failed like the snapshot outbox's (`publish_outbox::Outbox`).

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
