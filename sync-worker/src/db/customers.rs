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

/// Whether tollgate knows the customer with external id `external_id`: a live Polar customer,
/// a snapshot, or metered usage (free users Polar has never heard of).
pub(crate) async fn is_known(
    conn: &mut PgConnection,
    external_id: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM customers WHERE external_id = $1 AND deleted_at IS NULL)
             OR EXISTS (SELECT 1 FROM entitlement_snapshots WHERE customer = $1)
             OR EXISTS (SELECT 1 FROM metered_customers WHERE customer = $1)",
    )
    .bind(external_id)
    .fetch_one(conn)
    .await
}

/// A customer found by the support search.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub(crate) struct Found {
    pub(crate) customer: Option<String>,
    pub(crate) polar_id: String,
    pub(crate) email: Option<String>,
    /// The plan of the current snapshot.
    pub(crate) plan: Option<String>,
    /// The status of the customer's most recently changed subscription.
    pub(crate) status: Option<String>,
}

/// Live customers whose external id, Polar id or e-mail (case-insensitive) starts with
/// `prefix`, by external id; each branch is served by its `text_pattern_ops` index.
pub(crate) async fn search(
    conn: &mut PgConnection,
    prefix: &str,
    limit: i64,
) -> Result<Vec<Found>, sqlx::Error> {
    let escaped = prefix
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    sqlx::query_as(
        "WITH found AS (
             SELECT id, external_id, email FROM customers
             WHERE external_id LIKE $1 || '%' AND deleted_at IS NULL
             UNION
             SELECT id, external_id, email FROM customers
             WHERE id LIKE $1 || '%' AND deleted_at IS NULL
             UNION
             SELECT id, external_id, email FROM customers
             WHERE lower(email) LIKE lower($1) || '%' AND deleted_at IS NULL
         )
         SELECT f.external_id AS customer, f.id AS polar_id, f.email,
                (SELECT e.snapshot -> 'plan' ->> 'key' FROM entitlement_snapshots e
                 WHERE e.customer = f.external_id ORDER BY e.revision DESC LIMIT 1) AS plan,
                (SELECT s.status FROM subscriptions s WHERE s.customer_id = f.id
                 ORDER BY s.version_at DESC LIMIT 1) AS status
         FROM found f
         ORDER BY f.external_id, f.id
         LIMIT $2",
    )
    .bind(escaped)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// The columns of the customers export, in order.
pub(crate) const EXPORT_COLUMNS: &[&str] = &[
    "customer",
    "polar_id",
    "email",
    "name",
    "created_at",
    "deleted_at",
];

/// Every customer created in `[from, to)`, oldest first, as text columns.
pub(crate) fn export(
    pool: &sqlx::PgPool,
    from: Option<chrono::DateTime<chrono::Utc>>,
    to: Option<chrono::DateTime<chrono::Utc>>,
) -> super::ExportRows<'_> {
    sqlx::query(
        "SELECT external_id, id, email, raw ->> 'name',
                to_char((raw ->> 'created_at')::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                to_char(deleted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')
         FROM customers
         WHERE ($1::timestamptz IS NULL OR (raw ->> 'created_at')::timestamptz >= $1)
           AND ($2::timestamptz IS NULL OR (raw ->> 'created_at')::timestamptz < $2)
         ORDER BY (raw ->> 'created_at')::timestamptz, id",
    )
    .bind(from)
    .bind(to)
    .fetch(pool)
}
