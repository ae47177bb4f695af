//! Admin and support: what support staff do by hand, and what they read.
//!
//! - [`grants`]: extra allowance made in tollgate, live until ended or expired; it enters the
//!   customer's account exactly like a Polar benefit grant ([`crate::account`]).
//! - [`adjustments`]: a signed change of the current period's metered count, never below 0,
//!   kept as its own row so a count is always its events plus its adjustments.
//! - [`support_view`], [`failed_payments`], [`exports`]: reading.
//! - [`api_keys`]: the edge worker's API keys, published to Workers KV through the outbox.
//!
//! Every change runs in one transaction with its audit row and, when entitlements may change,
//! the customer's snapshot rebuild (and so its publication). A refusal changes nothing and
//! writes no audit row: it is answered before the transaction begins.

pub(crate) mod adjustments;
pub(crate) mod api_keys;
pub(crate) mod exports;
pub(crate) mod failed_payments;
pub(crate) mod grants;
pub(crate) mod support_view;

use crate::db;
use crate::snapshot::SnapshotError;
use serde_json::Value;

/// Who does an operation, as the audit row records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Actor {
    /// `bootstrap`, `token:<name>` or `cli`.
    pub(crate) actor: String,
    pub(crate) role: &'static str,
    pub(crate) request_id: Option<String>,
}

impl Actor {
    /// The command line's actor.
    pub(crate) fn cli() -> Self {
        Actor {
            actor: "cli".to_owned(),
            role: crate::auth::Role::Admin.as_str(),
            request_id: None,
        }
    }

    /// The audit row of `action` on `subject` by this actor.
    pub(crate) fn entry<'a>(
        &'a self,
        action: &'a str,
        subject: &'a str,
        customer: Option<&'a str>,
    ) -> db::audit::Entry<'a> {
        db::audit::Entry {
            actor: &self.actor,
            role: Some(self.role),
            action,
            subject,
            customer,
            request_id: self.request_id.as_deref(),
            details: Value::Object(serde_json::Map::new()),
            ..Default::default()
        }
    }
}

/// Why an admin operation did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum AdminError {
    /// The request was refused: nothing changed.
    #[error("{message}")]
    Refused {
        status: u16,
        code: &'static str,
        message: String,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error("a stored snapshot does not compile: {0}")]
    Gate(#[from] tollgate_gate::SnapshotError),
    #[error("an answer could not be serialised: {0}")]
    Serialize(#[from] serde_json::Error),
}

impl AdminError {
    pub(crate) fn refused(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        AdminError::Refused {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn unknown_customer(customer: &str) -> Self {
        Self::refused(
            404,
            "unknown_customer",
            format!("tollgate knows no customer `{customer}`"),
        )
    }
}

/// An instant of a query: a date (`2026-12-01`, midnight UTC) or an RFC 3339 instant.
pub(crate) fn instant(name: &str, text: &str) -> Result<chrono::DateTime<chrono::Utc>, AdminError> {
    let text = text.trim();
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.to_utc());
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|at| at.and_utc())
        .ok_or_else(|| {
            AdminError::refused(
                400,
                "invalid_request",
                format!(
                    "`{name}` must be a date (2026-12-01) or an RFC 3339 instant, not `{text}`"
                ),
            )
        })
}

/// The reason a change needs: present and not blank.
pub(crate) fn reason(reason: Option<&str>) -> Result<&str, AdminError> {
    match reason.map(str::trim) {
        Some(reason) if !reason.is_empty() && reason.len() <= 1000 => Ok(reason),
        Some(reason) if reason.len() > 1000 => Err(AdminError::refused(
            422,
            "invalid_reason",
            "`reason` is at most 1000 bytes",
        )),
        _ => Err(AdminError::refused(
            422,
            "reason_required",
            "this change needs a `reason` (who asked, and why): it goes into the audit log",
        )),
    }
}

/// Refuses unless tollgate knows `customer`.
pub(crate) async fn known(conn: &mut sqlx::PgConnection, customer: &str) -> Result<(), AdminError> {
    if customer.trim().is_empty() {
        return Err(AdminError::refused(
            422,
            "invalid_customer",
            "`customer` must not be empty",
        ));
    }
    if db::customers::is_known(conn, customer).await? {
        Ok(())
    } else {
        Err(AdminError::unknown_customer(customer))
    }
}
