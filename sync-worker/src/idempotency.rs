//! Idempotency keys of mutating calls: a retried call answers what the first one answered and
//! calls Polar once.
//!
//! The algorithm, per (actor, `Idempotency-Key`):
//!
//! 1. **Claim**, in a transaction of its own: a key that expired (24 hours) or whose call was
//!    left in progress for over [`ABANDONED_AFTER`] (its process died) is forgotten; then a row
//!    `in_progress` is inserted with the SHA-256 of the request (method, path and body, its
//!    JSON with sorted keys). The unique key makes one of two concurrent requests win.
//! 2. A request that finds the key already stored gets, in this order: 422
//!    `idempotency_key_reused` when its request differs from the stored one; the stored answer
//!    when the call completed; 409 `idempotency_key_in_use` while the first call is still in
//!    progress — what Stripe answers, so the client retries later rather than waiting on a
//!    connection, and Polar is called once.
//! 3. The winner calls Polar. On success the answer is stored (`completed`) in the same
//!    transaction as the call's audit row. On failure the row is deleted, so a retry after a
//!    refusal or an outage runs again: only successful answers are replayed, and a refused call
//!    leaves nothing but its audit row behind.
//!
//! If the process dies after Polar answered and before the answer is stored, the row stays in
//! progress and a retry after [`ABANDONED_AFTER`] calls Polar again; Polar's own state (an
//! existing customer, a subscription already on the product, a fully refunded order) then
//! refuses what would be done twice.
//!
//! The weekly cleanup job deletes expired keys.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};

use crate::db::idempotency_keys;

/// How long a key is remembered.
pub(crate) const RETENTION: Duration = Duration::hours(24);
/// How long a call may stay in progress before its key is taken to be abandoned.
pub(crate) const ABANDONED_AFTER: Duration = Duration::minutes(5);
/// The longest key accepted.
pub(crate) const MAX_KEY_LEN: usize = 255;

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The key is ours: make the call, then [`complete`] or [`release`].
    Claimed,
    /// The call already completed with this answer.
    Replay { status: u16, body: Value },
    /// The key was used with another request.
    Reused,
    /// The first call with this key is still in progress.
    InProgress,
}

/// The SHA-256 of a request: its method, path and body.
pub(crate) fn request_digest(method: &str, path: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update(b" ");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    hasher.update(body);
    hex::encode(hasher.finalize())
}

/// Claims `key` of `actor` for the request whose digest is `request`.
pub async fn claim(
    pool: &PgPool,
    actor: &str,
    key: &str,
    request: &str,
    now: DateTime<Utc>,
) -> Result<Claim, sqlx::Error> {
    let mut tx = pool.begin().await?;
    idempotency_keys::forget_stale(&mut tx, actor, key, now, now - ABANDONED_AFTER).await?;
    let claimed =
        idempotency_keys::claim(&mut tx, actor, key, request, now, now + RETENTION).await?;
    let outcome = if claimed {
        Claim::Claimed
    } else {
        match idempotency_keys::get(&mut tx, actor, key).await? {
            // Deleted between the insert and the read: the call it held failed; ours is the
            // retry, and the client may send it again.
            None => Claim::InProgress,
            Some(row) if row.request_sha256 != request => Claim::Reused,
            Some(row) if row.status == "completed" => Claim::Replay {
                status: row
                    .response_status
                    .and_then(|s| u16::try_from(s).ok())
                    .unwrap_or(200),
                body: row.response_body.unwrap_or(Value::Null),
            },
            Some(_) => Claim::InProgress,
        }
    };
    tx.commit().await?;
    Ok(outcome)
}

/// Stores the answer of a claimed key (inside the caller's transaction, beside the audit row).
pub(crate) async fn complete(
    conn: &mut PgConnection,
    actor: &str,
    key: &str,
    status: u16,
    body: &Value,
) -> Result<(), sqlx::Error> {
    idempotency_keys::complete(conn, actor, key, status, body).await
}

/// Gives up a claimed key whose call failed.
pub(crate) async fn release(
    conn: &mut PgConnection,
    actor: &str,
    key: &str,
) -> Result<(), sqlx::Error> {
    idempotency_keys::release(conn, actor, key).await
}
