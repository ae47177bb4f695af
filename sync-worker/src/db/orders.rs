//! `orders`: billing history (paid, refunded, renewals). Not an engine input.

use crate::polar::Order;
use serde_json::value::RawValue;
use sqlx::PgConnection;

/// Stores `order` unless a newer or equal version is stored; returns whether it changed.
pub(crate) async fn upsert(
    conn: &mut PgConnection,
    order: &Order,
    raw: &RawValue,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query(
        "INSERT INTO orders (id, customer_id, subscription_id, product_id, status, billing_reason,
                             currency, total_amount, refunded_amount, version_at, raw)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11
         WHERE NOT EXISTS (SELECT 1 FROM orders WHERE id = $1 AND version_at >= $10)
         ON CONFLICT (id) DO UPDATE SET
             customer_id = excluded.customer_id, subscription_id = excluded.subscription_id,
             product_id = excluded.product_id, status = excluded.status,
             billing_reason = excluded.billing_reason, currency = excluded.currency,
             total_amount = excluded.total_amount, refunded_amount = excluded.refunded_amount,
             version_at = excluded.version_at, raw = excluded.raw, updated_at = now()
         WHERE excluded.version_at > orders.version_at
         RETURNING id",
    )
    .bind(&order.version.id)
    .bind(&order.customer_id)
    .bind(&order.subscription_id)
    .bind(&order.product_id)
    .bind(&order.status)
    .bind(&order.billing_reason)
    .bind(&order.currency)
    .bind(order.total_amount)
    .bind(order.refunded_amount)
    .bind(order.version.version_at())
    .bind(raw)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

/// An order as the invoice history shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct HistoryRow {
    pub(crate) id: String,
    pub(crate) created_at: chrono::DateTime<chrono::Utc>,
    pub(crate) customer: Option<String>,
    pub(crate) raw: serde_json::Value,
    pub(crate) status: String,
    pub(crate) total_amount: i64,
    pub(crate) refunded_amount: i64,
    pub(crate) currency: String,
}

const HISTORY_COLUMNS: &str = "o.id, (o.raw->>'created_at')::timestamptz AS created_at,
     c.external_id AS customer, o.raw, o.status, o.total_amount, o.refunded_amount, o.currency";

/// Up to `limit` orders of the customer with external id `external_id`, newest first, strictly
/// after the position `after` (`created_at`, `id`) of the previous page.
pub(crate) async fn history(
    conn: &mut PgConnection,
    external_id: &str,
    after: Option<(chrono::DateTime<chrono::Utc>, &str)>,
    limit: i64,
) -> Result<Vec<HistoryRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {HISTORY_COLUMNS}
         FROM orders o JOIN customers c ON c.id = o.customer_id
         WHERE c.external_id = $1
           AND ($2::timestamptz IS NULL
                OR ((o.raw->>'created_at')::timestamptz, o.id) < ($2, $3))
         ORDER BY (o.raw->>'created_at')::timestamptz DESC, o.id DESC
         LIMIT $4"
    )))
    .bind(external_id)
    .bind(after.map(|(at, _)| at))
    .bind(after.map(|(_, id)| id))
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// One order by its Polar id.
pub(crate) async fn by_id(
    conn: &mut PgConnection,
    id: &str,
) -> Result<Option<HistoryRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {HISTORY_COLUMNS}
         FROM orders o LEFT JOIN customers c ON c.id = o.customer_id
         WHERE o.id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The columns of the orders export, in order.
pub(crate) const EXPORT_COLUMNS: &[&str] = &[
    "id",
    "customer",
    "created_at",
    "status",
    "billing_reason",
    "product_id",
    "subscription_id",
    "amount",
    "tax_amount",
    "currency",
    "refunded_amount",
];

/// Every order created in `[from, to)`, oldest first, as text columns.
pub(crate) fn export(
    pool: &sqlx::PgPool,
    from: Option<chrono::DateTime<chrono::Utc>>,
    to: Option<chrono::DateTime<chrono::Utc>>,
) -> super::ExportRows<'_> {
    sqlx::query(
        "SELECT o.id, c.external_id, o.raw ->> 'created_at', o.status, o.billing_reason,
                o.product_id, o.subscription_id, o.total_amount::text, o.raw ->> 'tax_amount',
                o.currency, o.refunded_amount::text
         FROM orders o LEFT JOIN customers c ON c.id = o.customer_id
         WHERE ($1::timestamptz IS NULL OR (o.raw ->> 'created_at')::timestamptz >= $1)
           AND ($2::timestamptz IS NULL OR (o.raw ->> 'created_at')::timestamptz < $2)
         ORDER BY (o.raw ->> 'created_at')::timestamptz, o.id",
    )
    .bind(from)
    .bind(to)
    .fetch(pool)
}
