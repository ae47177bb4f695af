//! Failed payments: `GET /v1/admin/failed-payments`.
//!
//! Every `past_due` or `unpaid` subscription of a live customer, with the customer's e-mail,
//! the plan and the grace end the engine gives it (`current_period_end + grace_days` of its
//! plan for `past_due`; none for `unpaid`, which never entitles), since when it is due (the
//! end of the period whose renewal failed), and what the last order of the subscription left
//! to pay.

use super::AdminError;
use crate::db;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;
use tollgate_gate::{Account, Catalog, Timestamp, build_snapshot};

pub(crate) async fn list(
    pool: &PgPool,
    catalog: &Catalog,
    now: DateTime<Utc>,
) -> Result<Value, AdminError> {
    let mut conn = pool.acquire().await?;
    let rows = db::subscriptions::failed_payments(&mut conn).await?;
    drop(conn);
    let at = Timestamp::from(now);
    let items: Vec<Value> = rows
        .into_iter()
        .map(|row| {
            let subscription = row.subscription.0;
            // The engine's view of this one subscription: its plan and its grace end.
            let account = Account {
                customer: row.customer.clone().unwrap_or_default(),
                subscriptions: vec![subscription.clone()],
                usage: Default::default(),
                gauges: Default::default(),
                grants: Vec::new(),
                revision: 0,
            };
            let snapshot = build_snapshot(catalog, &account, at);
            let facts = snapshot
                .subscriptions
                .iter()
                .find(|s| s.id == subscription.id);
            json!({
                "customer": row.customer,
                "email": row.email,
                "polar_customer_id": row.polar_customer_id,
                "subscription": subscription.id,
                "status": row.status,
                "plan": facts.and_then(|f| f.plan.clone()),
                "since": subscription.current_period_end,
                "grace_ends_at": facts.and_then(|f| f.grace_ends_at),
                "amount_due": row.amount_due,
                "currency": row.currency,
                "last_order": row.last_order_id,
            })
        })
        .collect();
    Ok(json!({ "items": items }))
}
