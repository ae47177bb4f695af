//! The edge worker's API keys: `POST /v1/admin/api-keys`, `GET /v1/admin/api-keys`,
//! `DELETE /v1/admin/api-keys/{id}`, and `tollgate keys create|list|revoke`.
//!
//! A key is random, shown once, and stored only as its SHA-256. Making or revoking one queues a
//! put or a delete of `key:v1:<sha256>` in `api_key_outbox` in the same transaction, with the
//! audit row; the publisher sends it to Workers KV with the snapshots ([`crate::publish`]).

use super::{Actor, AdminError};
use crate::auth::digest;
use crate::db::{self, api_keys::KeyRow};
use chrono::{DateTime, Utc};
use rand::Rng as _;
use rand::distr::Alphanumeric;
use secrecy::SecretString;
use serde_json::{Value, json};
use sqlx::PgPool;

/// The prefix of the keys tollgate makes, so a leaked one is recognisable.
pub(crate) const KEY_PREFIX: &str = "tgk_";

fn generate() -> SecretString {
    let random: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    SecretString::from(format!("{KEY_PREFIX}{random}"))
}

/// Makes a key of `customer` named `name`. Returns its row and the key, which is not stored.
pub(crate) async fn create(
    pool: &PgPool,
    by: &Actor,
    customer: &str,
    name: &str,
    now: DateTime<Utc>,
) -> Result<(KeyRow, SecretString), AdminError> {
    if customer.trim().is_empty() || customer.len() > 500 {
        return Err(AdminError::refused(
            422,
            "invalid_customer",
            "`customer` is 1 to 500 bytes",
        ));
    }
    if name.trim().is_empty() || name.len() > 200 {
        return Err(AdminError::refused(
            422,
            "invalid_name",
            "`name` is 1 to 200 bytes",
        ));
    }
    let key = generate();
    let hash = digest(secrecy::ExposeSecret::expose_secret(&key));
    let mut tx = pool.begin().await?;
    let row = db::api_keys::insert(&mut tx, customer, name, &hash, &by.actor, now).await?;
    db::api_key_outbox::enqueue(&mut tx, &hash, Some(customer)).await?;
    let after = serde_json::to_value(&row)?;
    let subject = format!("api_key:{}", row.id);
    let mut entry = by.entry("api_keys.create", &subject, Some(customer));
    entry.after = Some(&after);
    db::audit::record_entry(&mut tx, &entry, now).await?;
    tx.commit().await?;
    Ok((row, key))
}

/// Revokes the live key `id`: it is deleted from Workers KV.
pub(crate) async fn revoke(
    pool: &PgPool,
    by: &Actor,
    id: i64,
    now: DateTime<Utc>,
) -> Result<KeyRow, AdminError> {
    let mut tx = pool.begin().await?;
    let row = db::api_keys::revoke(&mut tx, id, &by.actor, now)
        .await?
        .ok_or_else(|| {
            AdminError::refused(
                404,
                "unknown_api_key",
                format!("no live API key has id {id}"),
            )
        })?;
    db::api_key_outbox::enqueue(&mut tx, &row.key_sha256, None).await?;
    let after = serde_json::to_value(&row)?;
    let subject = format!("api_key:{id}");
    let mut entry = by.entry("api_keys.revoke", &subject, Some(&row.customer));
    entry.after = Some(&after);
    db::audit::record_entry(&mut tx, &entry, now).await?;
    tx.commit().await?;
    Ok(row)
}

/// The keys of `customer` (everyone's when `None`), newest first; never the keys themselves.
pub(crate) async fn list(pool: &PgPool, customer: Option<&str>) -> Result<Vec<KeyRow>, AdminError> {
    let mut conn = pool.acquire().await?;
    Ok(db::api_keys::list(&mut conn, customer).await?)
}

/// A key as the API shows it.
pub(crate) fn view(row: &KeyRow) -> Value {
    json!({
        "id": row.id,
        "customer": row.customer,
        "name": row.name,
        "created_at": row.created_at,
        "created_by": row.created_by,
        "revoked_at": row.revoked_at,
        "revoked_by": row.revoked_by,
    })
}
