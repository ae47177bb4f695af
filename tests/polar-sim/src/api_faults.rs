//! Failures of Polar's API on demand: the next `count` requests (optionally only those of one
//! method and path prefix) answer `status` instead of being served, with Polar's error body —
//! for testing how a client copes with a Polar that refuses (4xx) or fails (5xx).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api::error::ApiError;

/// One rule: the next `count` matching API requests answer `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiFault {
    /// 400–599.
    pub status: u16,
    #[serde(default = "one")]
    pub count: u32,
    /// Only requests of this method (`POST`, …).
    #[serde(default)]
    pub method: Option<String>,
    /// Only requests whose path starts with this (`/v1/refunds`).
    #[serde(default)]
    pub path: Option<String>,
    /// The error's text (`detail`, or the `msg` of a 422).
    #[serde(default)]
    pub message: Option<String>,
}

fn one() -> u32 {
    1
}

impl ApiFault {
    fn matches(&self, method: &str, path: &str) -> bool {
        self.count > 0
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self.path.as_deref().is_none_or(|p| path.starts_with(p))
    }

    /// The answer Polar would give with this status, in Polar's error shapes.
    pub(crate) fn response(&self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let message = self
            .message
            .clone()
            .unwrap_or_else(|| format!("Simulated failure ({})", self.status));
        let error = if status == StatusCode::UNPROCESSABLE_ENTITY {
            ApiError::invalid(&["body"], message, "value_error", Value::Null)
        } else {
            ApiError::Polar {
                status,
                error: status
                    .canonical_reason()
                    .unwrap_or("Error")
                    .replace(' ', ""),
                detail: message,
            }
        };
        error.into_response()
    }
}

/// The rules in force, first added first used.
#[derive(Debug, Default)]
pub(crate) struct ApiFaults {
    rules: Vec<ApiFault>,
}

impl ApiFaults {
    pub(crate) fn add(&mut self, rule: ApiFault) {
        self.rules.push(rule);
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
    }

    pub(crate) fn list(&self) -> Vec<ApiFault> {
        self.rules.clone()
    }

    /// The fault this request meets, using up one of its count.
    pub(crate) fn take(&mut self, method: &str, path: &str) -> Option<ApiFault> {
        let rule = self.rules.iter_mut().find(|r| r.matches(method, path))?;
        rule.count -= 1;
        let hit = rule.clone();
        self.rules.retain(|r| r.count > 0);
        Some(hit)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_is_used_up_by_matching_requests_only() {
        let mut faults = ApiFaults::default();
        faults.add(ApiFault {
            status: 500,
            count: 2,
            method: Some("POST".into()),
            path: Some("/v1/refunds".into()),
            message: None,
        });
        assert!(faults.take("GET", "/v1/refunds/").is_none());
        assert!(faults.take("POST", "/v1/checkouts/").is_none());
        assert_eq!(faults.take("post", "/v1/refunds/").unwrap().status, 500);
        assert!(faults.take("POST", "/v1/refunds/").is_some());
        assert!(faults.take("POST", "/v1/refunds/").is_none());
        assert!(faults.list().is_empty());
    }
}
