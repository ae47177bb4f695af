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
