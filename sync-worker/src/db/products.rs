//! `products`: Polar products. Their metadata decides which plan a subscription gives.

use crate::polar::Product;
use serde_json::value::RawValue;
use sqlx::PgConnection;

/// Inserts or updates one row of `products` ($1 id, $2 name, $3 is_archived, $4 version_at, $5 raw; nothing when $1 is null).
pub(crate) const UPSERT: &str = "INSERT INTO products (id, name, is_archived, version_at, raw)
         SELECT $1, $2, $3, $4, $5
         WHERE $1::text IS NOT NULL AND NOT EXISTS (SELECT 1 FROM products WHERE id = $1 AND version_at >= $4)
         ON CONFLICT (id) DO UPDATE SET
             name = excluded.name, is_archived = excluded.is_archived,
             version_at = excluded.version_at, raw = excluded.raw, updated_at = now()
         WHERE excluded.version_at > products.version_at
         RETURNING id";

/// Stores `product` unless a newer or equal version is stored; returns whether it changed.
pub async fn upsert(
    conn: &mut PgConnection,
    product: &Product,
    raw: &RawValue,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query(UPSERT)
        .bind(&product.version.id)
        .bind(&product.name)
        .bind(product.is_archived)
        .bind(product.version.version_at())
        .bind(raw)
        .fetch_optional(conn)
        .await?;
    Ok(row.is_some())
}

/// External ids of the customers holding a subscription to `product_id`, sorted so that
/// callers lock their snapshots in one global order.
pub async fn subscriber_external_ids(
    conn: &mut PgConnection,
    product_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT c.external_id
         FROM subscriptions s JOIN customers c ON c.id = s.customer_id
         WHERE s.product_id = $1 AND c.external_id IS NOT NULL
         ORDER BY 1",
    )
    .bind(product_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Every product that is not archived, as Polar sent it, oldest first.
pub async fn live_raw(
    conn: &mut PgConnection,
) -> Result<Vec<(String, serde_json::Value)>, sqlx::Error> {
    sqlx::query_as("SELECT id, raw FROM products WHERE NOT is_archived ORDER BY id")
        .fetch_all(conn)
        .await
}
