//! `customers`: Polar customers, keyed by Polar id, found by external id.

use crate::polar::Customer;
use serde_json::value::RawValue;
use sqlx::{PgConnection, Postgres, QueryBuilder};

/// Pushes the upsert of one customer onto `query` (nothing is stored for `None`); its
/// `RETURNING id` yields a row when the stored customer changed. See [`upsert`].
pub(super) fn push_upsert<'a>(
    query: &mut QueryBuilder<Postgres>,
    customer: Option<(&'a Customer, &'a RawValue)>,
) {
    let c = customer.map(|(c, _)| c);
    query.push("INSERT INTO customers (id, external_id, email, deleted_at, version_at, raw) SELECT v.* FROM (SELECT ");
    query
        .push_bind(c.map(|c| c.version.id.as_str()))
        .push("::text AS id, ");
    query
        .push_bind(c.and_then(|c| c.external_id.as_deref()))
        .push("::text AS external_id, ");
    query
        .push_bind(c.and_then(|c| c.email.as_deref()))
        .push("::text AS email, ");
    query
        .push_bind(c.and_then(|c| c.deleted_at))
        .push("::timestamptz AS deleted_at, ");
    query
        .push_bind(c.map(|c| c.version.version_at()))
        .push("::timestamptz AS version_at, ");
    query
        .push_bind(customer.map(|(_, raw)| raw))
        .push("::jsonb AS raw) v");
    query.push(
        " WHERE v.id IS NOT NULL AND NOT EXISTS (
             SELECT 1 FROM customers c
             WHERE c.id = v.id AND c.version_at >= v.version_at
               AND (c.deleted_at IS NOT NULL OR v.deleted_at IS NULL)
               AND (c.external_id IS NOT NULL OR v.external_id IS NULL))
         ON CONFLICT (id) DO UPDATE SET
             external_id = COALESCE(excluded.external_id, customers.external_id),
             email = CASE WHEN excluded.version_at > customers.version_at
                          THEN excluded.email ELSE customers.email END,
             deleted_at = COALESCE(customers.deleted_at, excluded.deleted_at),
             version_at = GREATEST(customers.version_at, excluded.version_at),
             raw = CASE WHEN excluded.version_at > customers.version_at
                        THEN excluded.raw ELSE customers.raw END,
             updated_at = now()
         WHERE excluded.version_at > customers.version_at
            OR (customers.deleted_at IS NULL AND excluded.deleted_at IS NOT NULL)
            OR (customers.external_id IS NULL AND excluded.external_id IS NOT NULL)
         RETURNING id",
    );
}

/// Stores `customer` unless a newer version is stored. A deletion is never undone by an older
/// or equally old version, since Polar may not bump `modified_at` when it soft-deletes.
/// Returns whether the row changed.
pub(crate) async fn upsert(
    conn: &mut PgConnection,
    customer: &Customer,
    raw: &RawValue,
) -> Result<bool, sqlx::Error> {
    let mut query = QueryBuilder::new("");
    push_upsert(&mut query, Some((customer, raw)));
    let row = query.build().fetch_optional(conn).await?;
    Ok(row.is_some())
}

/// The external ids of the Polar customers `ids` that have one.
pub(crate) async fn external_ids(
    conn: &mut PgConnection,
    ids: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT external_id FROM customers
         WHERE id = ANY($1) AND external_id IS NOT NULL",
    )
    .bind(ids)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Ids of the live (not deleted) customers, in order.
pub(crate) async fn live_ids(conn: &mut PgConnection) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM customers WHERE deleted_at IS NULL ORDER BY id")
        .fetch_all(conn)
        .await
}

/// The stored, not deleted customer whose external id is `external_id`: Polar id and e-mail.
pub(crate) async fn live_by_external_id(
    conn: &mut PgConnection,
    external_id: &str,
) -> Result<Option<(String, Option<String>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, email FROM customers
         WHERE external_id = $1 AND deleted_at IS NULL
         ORDER BY version_at DESC LIMIT 1",
    )
    .bind(external_id)
    .fetch_optional(conn)
    .await
}
