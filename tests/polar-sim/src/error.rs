//! Why a simulator operation was refused.
//!
//! The Polar API maps these onto Polar's error bodies (`api::error`); the control API maps them
//! onto `{code, message}` bodies. Either way nothing changed.

use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// No such object (or it was deleted).
    #[error("{kind} {reference} not found")]
    NotFound {
        kind: &'static str,
        reference: String,
    },
    /// The input names a bad value; `field` is where.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The object is in a state that does not allow the operation.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
}

impl SimError {
    pub fn not_found(kind: &'static str, reference: impl Into<String>) -> Self {
        Self::NotFound {
            kind,
            reference: reference.into(),
        }
    }

    pub fn not_found_id(kind: &'static str, id: Uuid) -> Self {
        Self::not_found(kind, id.to_string())
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }

    /// A stable machine-readable code for the control API.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "not_found",
            Self::Invalid { .. } => "invalid_input",
            Self::Conflict { code, .. } => code,
        }
    }
}
