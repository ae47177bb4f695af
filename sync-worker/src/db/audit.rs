//! `audit_log`: who changed what by hand.

use serde_json::Value;
use sqlx::PgConnection;

pub(crate) async fn record(
    conn: &mut PgConnection,
    actor: &str,
    action: &str,
    subject: &str,
    details: &Value,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO audit_log (actor, action, subject, details) VALUES ($1, $2, $3, $4)")
        .bind(actor)
        .bind(action)
        .bind(subject)
        .bind(details)
        .execute(conn)
        .await?;
    Ok(())
}

/// One audited API call: who (actor and role) did what to which customer, the state before
/// and after, the reason given, and the request it came from.
#[derive(Debug, Clone, Default)]
pub(crate) struct Entry<'a> {
    pub(crate) actor: &'a str,
    pub(crate) role: Option<&'a str>,
    pub(crate) action: &'a str,
    pub(crate) subject: &'a str,
    pub(crate) customer: Option<&'a str>,
    pub(crate) before: Option<&'a Value>,
    pub(crate) after: Option<&'a Value>,
    pub(crate) reason: Option<&'a str>,
    pub(crate) request_id: Option<&'a str>,
    pub(crate) details: Value,
}

pub(crate) async fn record_entry(
    conn: &mut PgConnection,
    entry: &Entry<'_>,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, role, action, subject, customer, before, after,
                                reason, request_id, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(at)
    .bind(entry.actor)
    .bind(entry.role)
    .bind(entry.action)
    .bind(entry.subject)
    .bind(entry.customer)
    .bind(entry.before)
    .bind(entry.after)
    .bind(entry.reason)
    .bind(entry.request_id)
    .bind(&entry.details)
    .execute(conn)
    .await?;
    Ok(())
}

/// A stored audit row.
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow)]
pub(crate) struct AuditRow {
    pub(crate) id: i64,
    pub(crate) at: chrono::DateTime<chrono::Utc>,
    pub(crate) actor: String,
    pub(crate) role: Option<String>,
    pub(crate) action: String,
    pub(crate) subject: String,
    pub(crate) customer: Option<String>,
    pub(crate) before: Option<Value>,
    pub(crate) after: Option<Value>,
    pub(crate) reason: Option<String>,
    pub(crate) request_id: Option<String>,
    pub(crate) details: Value,
}

/// What to read of the audit log; every filter is optional.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter<'a> {
    pub(crate) customer: Option<&'a str>,
    pub(crate) actor: Option<&'a str>,
    pub(crate) action: Option<&'a str>,
    pub(crate) since: Option<chrono::DateTime<chrono::Utc>>,
}

/// Up to `limit` rows matching `filter`, newest first.
pub(crate) async fn list(
    conn: &mut PgConnection,
    filter: &Filter<'_>,
    limit: i64,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, at, actor, role, action, subject, customer, before, after, reason,
                request_id, details
         FROM audit_log
         WHERE ($1::text IS NULL OR customer = $1)
           AND ($2::text IS NULL OR actor = $2)
           AND ($3::text IS NULL OR action = $3)
           AND ($4::timestamptz IS NULL OR at >= $4)
         ORDER BY at DESC, id DESC
         LIMIT $5",
    )
    .bind(filter.customer)
    .bind(filter.actor)
    .bind(filter.action)
    .bind(filter.since)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// The columns of the audit export, in order.
pub(crate) const EXPORT_COLUMNS: &[&str] = &[
    "id",
    "at",
    "actor",
    "role",
    "action",
    "subject",
    "customer",
    "reason",
    "request_id",
    "before",
    "after",
    "details",
];

/// Every audit row written in `[from, to)`, oldest first, as text columns.
pub(crate) fn export(
    pool: &sqlx::PgPool,
    from: Option<chrono::DateTime<chrono::Utc>>,
    to: Option<chrono::DateTime<chrono::Utc>>,
) -> super::ExportRows<'_> {
    sqlx::query(
        "SELECT id::text,
                to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
                actor, role, action, subject, customer, reason, request_id,
                before::text, after::text, details::text
         FROM audit_log
         WHERE ($1::timestamptz IS NULL OR at >= $1) AND ($2::timestamptz IS NULL OR at < $2)
         ORDER BY id",
    )
    .bind(from)
    .bind(to)
    .fetch(pool)
}
