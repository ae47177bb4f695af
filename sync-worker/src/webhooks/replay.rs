//! Replaying a stored delivery by hand (`tollgate webhooks replay`).
//!
//! Re-applying is always safe: every upsert keeps the newest version of each object, so a
//! replay of an old delivery changes nothing that a newer one already set.

use super::batch;
use crate::db::{self, webhook_events::Status};
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tollgate_gate::Catalog;

/// Re-applies the stored delivery `webhook_id` and audits it as done by `actor`. Returns the
/// delivery's new status, or `None` when no delivery has that id.
pub async fn replay(
    pool: &PgPool,
    catalog: &Catalog,
    webhook_id: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Option<Status>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let Some((id, payload)) = db::webhook_events::lock_by_webhook_id(&mut tx, webhook_id).await?
    else {
        return Ok(None);
    };
    let status = batch::apply_stored(&mut tx, catalog, id, &payload, now).await?;
    let details = serde_json::json!({ "outcome": status.as_str() });
    db::audit::record(&mut tx, actor, "webhook.replay", webhook_id, &details).await?;
    tx.commit().await?;
    Ok(Some(status))
}
