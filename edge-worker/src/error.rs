//! The Worker's one error type, and its mapping to an HTTP answer.
//!
//! Every handler returns `Result<_, AppError>`; [`AppError::status`] and [`AppError::body`]
//! decide the answer in this one place. Client errors carry a stable `code` and a message naming
//! the problem; internal errors answer an opaque 500 and are logged once by the caller.
//! Refusals by the gate (402/403) are decisions, not errors, and live in [`crate::gate`].

use serde_json::{Value, json};

use crate::config::ConfigError;
use crate::identity::IdentityError;
use crate::publish::PublishError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("the internal secret is missing or wrong")]
    InternalSecret,
    #[error("no route for {0}")]
    NotFound(String),
    #[error("{0} does not accept this method")]
    MethodNotAllowed(String),
    #[error("the entitlements of `{0}` are unavailable")]
    SnapshotUnavailable(String),
    #[error("the origin could not be reached: {0}")]
    Origin(String),
    #[error("the Worker is misconfigured: {0}")]
    Config(#[from] ConfigError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Self::Identity(e) => e.status(),
            Self::Publish(e) => e.status(),
            Self::BadRequest { .. } => 400,
            Self::InternalSecret => 401,
            Self::NotFound(_) => 404,
            Self::MethodNotAllowed(_) => 405,
            Self::SnapshotUnavailable(_) => 503,
            Self::Origin(_) => 502,
            Self::Config(_) | Self::Internal(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Identity(e) => e.code(),
            Self::Publish(e) => e.code(),
            Self::BadRequest { code, .. } => code,
            Self::InternalSecret => "invalid_internal_secret",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::SnapshotUnavailable(_) => crate::gate::SNAPSHOT_UNAVAILABLE,
            Self::Origin(_) => "origin_unreachable",
            Self::Config(_) | Self::Internal(_) => "internal_error",
        }
    }

    /// Whether the cause is ours rather than the caller's: logged, and hidden from the answer.
    pub fn is_internal(&self) -> bool {
        matches!(self, Self::Config(_) | Self::Internal(_))
    }

    /// The JSON body: `{code, reason, message}`. `reason` repeats `code` so that every
    /// refusal the Worker gives, error or decision, can be read from the same field.
    pub fn body(&self) -> Value {
        let message = if matches!(self, Self::Config(_) | Self::Internal(_)) {
            "internal error".to_owned()
        } else {
            self.to_string()
        };
        json!({ "code": self.code(), "reason": self.code(), "message": message })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_hide_their_cause() {
        let e = AppError::Internal("kv exploded with secret detail".into());
        assert_eq!(e.status(), 500);
        assert_eq!(e.body()["message"], "internal error");
        assert!(e.is_internal());
    }

    #[test]
    fn client_errors_name_the_problem() {
        let e = AppError::bad_request("invalid_amount", "amount must be a whole number >= 1");
        assert_eq!(e.status(), 400);
        assert_eq!(e.body()["code"], "invalid_amount");
        assert_eq!(e.body()["message"], "amount must be a whole number >= 1");
    }
}
