//! The support view of one customer: `GET /v1/admin/customers/{c}`, and the customer search
//! `GET /v1/admin/customers?q=`.
//!
//! Everything stored is read in one statement ([`db::support`]); the engine then answers a
//! Decision for every feature of the catalog at `now` from the stored snapshot (or, for a
//! customer never rebuilt, the default plan's, as `POST /v1/check` does).

use super::AdminError;
use crate::db;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;
use tollgate_gate::{Account, Catalog, Gate, Snapshot, Timestamp, build_snapshot};

/// The shortest search: one character would match half the customers.
pub(crate) const MIN_QUERY: usize = 2;

/// Customers whose external id, Polar id or e-mail starts with `q`.
pub(crate) async fn search(pool: &PgPool, q: &str) -> Result<Value, AdminError> {
    let q = q.trim();
    if q.chars().count() < MIN_QUERY {
        return Err(AdminError::refused(
            422,
            "query_too_short",
            format!("a search needs at least {MIN_QUERY} characters"),
        ));
    }
    let mut conn = pool.acquire().await?;
    let items = db::customers::search(&mut conn, q, 50).await?;
    Ok(json!({ "items": items }))
}

/// The support view of `customer` at `now`.
pub(crate) async fn view(
    pool: &PgPool,
    catalog: &Catalog,
    customer: &str,
    now: DateTime<Utc>,
) -> Result<Value, AdminError> {
    let mut conn = pool.acquire().await?;
    let sections = db::support::load(&mut conn, customer).await?;
    drop(conn);
    if sections.polar.is_empty()
        && sections.snapshot.is_none()
        && !sections.metered
        && sections.grants.is_empty()
    {
        return Err(AdminError::unknown_customer(customer));
    }
    let at = Timestamp::from(now);
    let snapshot: Snapshot = match &sections.snapshot {
        Some(stored) => serde_json::from_value(stored.clone())?,
        None => {
            let account: Account = serde_json::from_value(json!({ "customer": customer }))?;
            build_snapshot(catalog, &account, at)
        }
    };
    let gate = Gate::new(&snapshot)?;
    let mut decisions = serde_json::Map::new();
    for feature in catalog.features() {
        let decision = gate.check(&feature.key, 1, at);
        decisions.insert(feature.key.clone(), serde_json::to_value(decision)?);
    }
    // Usage this period: each metered feature's counter of the period the snapshot counts in.
    let mut usage = Vec::new();
    for (key, feature) in &snapshot.features {
        let Some(start) = feature.period_start else {
            continue;
        };
        let start = json!(crate::usage::to_datetime(start));
        let used = sections
            .counters
            .iter()
            .find(|c| c["feature"] == json!(key) && same_instant(&c["period_start"], &start))
            .map_or(json!(0), |c| c["used"].clone());
        usage.push(json!({
            "feature": key,
            "period_start": start,
            "resets_at": feature.resets_at,
            "used": used,
        }));
    }
    let polar = sections.polar.first().cloned().unwrap_or(Value::Null);
    Ok(json!({
        "customer": {
            "customer": customer,
            "polar_id": polar.get("polar_id"),
            "email": polar.get("email"),
            "name": polar.get("name"),
            "deleted_at": polar.get("deleted_at"),
        },
        "plan": snapshot.plan,
        "subscriptions": sections.subscriptions,
        "orders": sections.orders,
        "snapshot": sections.snapshot,
        "decisions": decisions,
        "usage": usage,
        "gauges": sections.gauges,
        "grants": sections.grants,
        "adjustments": sections.adjustments,
        "webhooks": sections.webhooks,
        "audit": sections.audit,
    }))
}

/// Whether two JSON instants (PostgreSQL's and chrono's spellings) are the same.
fn same_instant(a: &Value, b: &Value) -> bool {
    let parse = |v: &Value| {
        v.as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.to_utc())
    };
    parse(a).is_some() && parse(a) == parse(b)
}
