//! Replaying a stored delivery by hand (`tollgate webhooks replay`).
//!
//! Re-applying is always safe: every upsert keeps the newest version of each object, so a
//! replay of an old delivery changes nothing that a newer one already set.

use super::batch;
use crate::db::{self, webhook_events::Status};
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tollgate_gate::Catalog;

/// Re-applies the stored delivery `webhook_id` and audits it as done by `actor` (role
/// `admin`: the command line). Returns the delivery's new status, or `None` when no delivery
/// has that id.
pub async fn replay(
    pool: &PgPool,
    catalog: &Catalog,
    webhook_id: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Option<Status>, sqlx::Error> {
    let by = db::audit::Entry {
        actor,
        role: Some("admin"),
        ..Default::default()
    };
    replay_audited(pool, catalog, webhook_id, &by, now).await
}

/// [`replay`], audited with `by`'s actor, role and request id.
pub(crate) async fn replay_audited(
    pool: &PgPool,
    catalog: &Catalog,
    webhook_id: &str,
    by: &db::audit::Entry<'_>,
    now: DateTime<Utc>,
) -> Result<Option<Status>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let Some((id, payload)) = db::webhook_events::lock_by_webhook_id(&mut tx, webhook_id).await?
    else {
        return Ok(None);
    };
    let status = batch::apply_stored(&mut tx, catalog, id, &payload, now).await?;
    let entry = db::audit::Entry {
        action: "webhook.replay",
        subject: webhook_id,
        details: serde_json::json!({ "outcome": status.as_str() }),
        ..by.clone()
    };
    db::audit::record_entry(&mut tx, &entry, now).await?;
    tx.commit().await?;
    Ok(Some(status))
}
