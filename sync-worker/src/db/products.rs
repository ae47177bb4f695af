//! `products`: Polar products. Their metadata decides which plan a subscription gives.

use crate::polar::Product;
use serde_json::value::RawValue;
use sqlx::types::Json;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use tollgate_gate::polar::Product as EngineProduct;

/// Pushes the upsert of one product onto `query` (nothing is stored for `None`); its
/// `RETURNING id` yields a row when the stored product changed. See [`upsert`].
pub(super) fn push_upsert<'a>(
    query: &mut QueryBuilder<Postgres>,
    product: Option<(&'a Product, &'a RawValue)>,
) {
    let p = product.map(|(p, _)| p);
    query.push(
        "INSERT INTO products (id, name, is_archived, version_at, raw) SELECT v.* FROM (SELECT ",
    );
    query
        .push_bind(p.map(|p| p.version.id.as_str()))
        .push("::text AS id, ");
    query
        .push_bind(p.map(|p| p.name.as_str()))
        .push("::text AS name, ");
    query
        .push_bind(p.map(|p| p.is_archived))
        .push("::bool AS is_archived, ");
    query
        .push_bind(p.map(|p| p.version.version_at()))
        .push("::timestamptz AS version_at, ");
    query
        .push_bind(product.map(|(_, raw)| raw))
        .push("::jsonb AS raw) v");
    query.push(
        " WHERE v.id IS NOT NULL AND NOT EXISTS (
             SELECT 1 FROM products p WHERE p.id = v.id AND p.version_at >= v.version_at)
         ON CONFLICT (id) DO UPDATE SET
             name = excluded.name, is_archived = excluded.is_archived,
             version_at = excluded.version_at, raw = excluded.raw, updated_at = now()
         WHERE excluded.version_at > products.version_at
         RETURNING id",
    );
}

/// Stores `product` unless a newer or equal version is stored; returns whether it changed.
pub(crate) async fn upsert(
    conn: &mut PgConnection,
    product: &Product,
    raw: &RawValue,
) -> Result<bool, sqlx::Error> {
    let mut query = QueryBuilder::new("");
    push_upsert(&mut query, Some((product, raw)));
    let row = query.build().fetch_optional(conn).await?;
    Ok(row.is_some())
}

/// External ids of the customers holding a subscription to `product_id`, sorted so that
/// callers lock their snapshots in one global order.
pub(crate) async fn subscriber_external_ids(
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

/// Every product that is not archived, in id order, as the engine reads one.
pub(crate) async fn live(conn: &mut PgConnection) -> Result<Vec<EngineProduct>, sqlx::Error> {
    let rows: Vec<(Json<EngineProduct>,)> =
        sqlx::query_as("SELECT raw FROM products WHERE NOT is_archived ORDER BY id")
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().map(|(Json(product),)| product).collect())
}

/// The stored products with `ids`, as the engine reads one.
pub(crate) async fn with_ids(
    conn: &mut PgConnection,
    ids: &[String],
) -> Result<Vec<EngineProduct>, sqlx::Error> {
    let rows: Vec<(Json<EngineProduct>,)> =
        sqlx::query_as("SELECT raw FROM products WHERE id = ANY($1)")
            .bind(ids)
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().map(|(Json(product),)| product).collect())
}
