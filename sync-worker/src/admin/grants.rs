//! Grants made in tollgate: `POST /v1/admin/grants`, `DELETE /v1/admin/grants/{id}`,
//! `GET /v1/admin/grants?customer=`.
//!
//! A grant adds to one feature's limit (a number of units or `unlimited`), or turns a boolean
//! feature on, until it expires or is ended. It is stored, audited and the customer's snapshot
//! rebuilt — and so queued for publication — in one transaction; the engine applies it exactly
//! as it applies a Polar benefit grant, expiry included.

use super::{Actor, AdminError, known, reason};
use crate::db::{self, grants::GrantRow};
use crate::snapshot;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use tollgate_gate::{Catalog, FeatureType};

/// A grant as asked for.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GrantRequest {
    pub(crate) customer: String,
    pub(crate) feature: String,
    pub(crate) amount: Value,
    #[serde(default)]
    pub(crate) expires_at: Option<String>,
    #[serde(default)]
    pub(crate) reason: Option<String>,
}

/// What a grant gives, checked against its feature's type.
fn amount(
    kind: FeatureType,
    feature: &str,
    amount: &Value,
) -> Result<(&'static str, Option<i64>), AdminError> {
    let invalid = |message: String| AdminError::refused(422, "invalid_amount", message);
    match kind {
        FeatureType::Boolean => match amount {
            Value::Bool(true) => Ok(("enabled", None)),
            _ => Err(invalid(format!(
                "`{feature}` is a boolean feature: its grant's amount is `true`"
            ))),
        },
        FeatureType::Gauge | FeatureType::Metered => match amount {
            Value::String(s) if s == "unlimited" => Ok(("unlimited", None)),
            Value::Number(n) => match n.as_i64().filter(|n| *n > 0) {
                Some(units) => Ok(("units", Some(units))),
                None => Err(invalid(format!(
                    "the amount of a grant of `{feature}` is a whole number above 0 or \"unlimited\"; {n} is not"
                ))),
            },
            _ => Err(invalid(format!(
                "the amount of a grant of `{feature}` is a whole number above 0 or \"unlimited\""
            ))),
        },
    }
}

/// Makes a grant. Returns it with the snapshot revision it produced.
pub(crate) async fn create(
    pool: &PgPool,
    catalog: &Catalog,
    by: &Actor,
    request: &GrantRequest,
    now: DateTime<Utc>,
) -> Result<Value, AdminError> {
    let reason = reason(request.reason.as_deref())?;
    let Some(feature) = catalog.feature(&request.feature) else {
        return Err(AdminError::refused(
            422,
            "unknown_feature",
            format!("the catalog has no feature `{}`", request.feature),
        ));
    };
    let (kind, units) = amount(feature.kind, &feature.key, &request.amount)?;
    let expires_at = match request.expires_at.as_deref() {
        None => None,
        Some(text) => {
            let at = DateTime::parse_from_rfc3339(text)
                .map_err(|_| {
                    AdminError::refused(
                        400,
                        "invalid_request",
                        format!("`expires_at` must be an RFC 3339 instant such as 2026-12-31T00:00:00Z, not `{text}`"),
                    )
                })?
                .to_utc();
            if at <= now {
                return Err(AdminError::refused(
                    422,
                    "invalid_expiry",
                    format!("`expires_at` {text} is not in the future"),
                ));
            }
            Some(at)
        }
    };
    let mut tx = pool.begin().await?;
    known(&mut tx, &request.customer).await?;
    let row = db::grants::insert(
        &mut tx,
        &db::grants::NewGrant {
            customer: &request.customer,
            feature: &feature.key,
            kind,
            units,
            expires_at,
            reason,
            created_by: &by.actor,
        },
        now,
    )
    .await?;
    let answer = view(&row, now);
    let subject = format!("grant:{}", row.id);
    let mut entry = by.entry("grants.create", &subject, Some(&request.customer));
    entry.after = Some(&answer);
    entry.reason = Some(reason);
    db::audit::record_entry(&mut tx, &entry, now).await?;
    let revision = snapshot::rebuild(&mut tx, catalog, &request.customer, now).await?;
    tx.commit().await?;
    Ok(with_revision(answer, revision))
}

/// Ends the live grant `id` now.
pub(crate) async fn end(
    pool: &PgPool,
    catalog: &Catalog,
    by: &Actor,
    id: i64,
    why: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Value, AdminError> {
    let unknown =
        || AdminError::refused(404, "unknown_grant", format!("no live grant has id {id}"));
    let mut tx = pool.begin().await?;
    let before = db::grants::lock(&mut tx, id).await?.ok_or_else(unknown)?;
    let row = db::grants::end(&mut tx, id, &by.actor, now)
        .await?
        .ok_or_else(unknown)?;
    let (before, answer) = (view(&before, now), view(&row, now));
    let subject = format!("grant:{id}");
    let mut entry = by.entry("grants.end", &subject, Some(&row.customer));
    entry.before = Some(&before);
    entry.after = Some(&answer);
    entry.reason = why.map(str::trim).filter(|r| !r.is_empty());
    db::audit::record_entry(&mut tx, &entry, now).await?;
    let revision = snapshot::rebuild(&mut tx, catalog, &row.customer, now).await?;
    tx.commit().await?;
    Ok(with_revision(answer, revision))
}

/// The grants of `customer` (or everyone's), newest first.
pub(crate) async fn list(
    pool: &PgPool,
    customer: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Value, AdminError> {
    let mut conn = pool.acquire().await?;
    let rows = db::grants::list(&mut conn, customer, 500).await?;
    let items: Vec<Value> = rows.iter().map(|row| view(row, now)).collect();
    Ok(json!({ "items": items }))
}

/// A grant as the API shows it: its amount as the engine reads it, and whether it is live.
pub(crate) fn view(row: &GrantRow, now: DateTime<Utc>) -> Value {
    let amount = match (row.kind.as_str(), row.units) {
        ("units", Some(units)) => json!(units),
        ("unlimited", _) => json!("unlimited"),
        _ => json!(true),
    };
    let status = if row.ended_at.is_some() {
        "ended"
    } else if row.expires_at.is_some_and(|at| at <= now) {
        "expired"
    } else {
        "live"
    };
    json!({
        "id": row.id,
        "customer": row.customer,
        "feature": row.feature,
        "amount": amount,
        "expires_at": row.expires_at,
        "reason": row.reason,
        "created_at": row.created_at,
        "created_by": row.created_by,
        "ended_at": row.ended_at,
        "ended_by": row.ended_by,
        "status": status,
    })
}

fn with_revision(mut answer: Value, revision: Option<i64>) -> Value {
    if let Some(fields) = answer.as_object_mut() {
        fields.insert("revision".to_owned(), json!(revision));
    }
    answer
}
