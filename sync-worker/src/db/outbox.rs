//! `publish_outbox`: snapshot revisions waiting to be published to the edge.

use sqlx::PgConnection;

/// Queues `customer`'s snapshot `revision` for publication.
pub async fn enqueue(
    conn: &mut PgConnection,
    customer: &str,
    revision: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO publish_outbox (customer, revision) VALUES ($1, $2)")
        .bind(customer)
        .bind(revision)
        .execute(conn)
        .await?;
    Ok(())
}
