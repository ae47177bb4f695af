//! The edge sink: the edge worker's authenticated bulk endpoint, `PUT /_tollgate/snapshots`,
//! with `{"snapshots": [...], "keys": [{"hash", "customer" | null}]}` (`null` deletes a key).
//!
//! For local development and tests, where Workers KV is the worker's local KV. The worker
//! refuses a snapshot older than the one it holds, so a re-sent batch never rolls back.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::{Entry, KeyWrite, SinkError};

#[derive(Debug, Clone)]
pub struct EdgeSink {
    http: reqwest::Client,
    url: String,
    secret: SecretString,
}

impl EdgeSink {
    /// `edge_url` is the worker's origin, e.g. `http://127.0.0.1:8787`.
    pub(crate) fn new(edge_url: &str, secret: SecretString) -> Result<Self, reqwest::Error> {
        let url = format!("{}/_tollgate/snapshots", edge_url.trim_end_matches('/'));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(EdgeSink { http, url, secret })
    }

    pub(super) async fn send(&self, entries: &[Entry], keys: &[KeyWrite]) -> Result<(), SinkError> {
        let fail = |message: String| SinkError {
            sink: "edge",
            message,
        };
        let snapshots: Vec<&serde_json::Value> =
            entries.iter().map(|entry| &entry.snapshot).collect();
        let keys: Vec<serde_json::Value> = keys
            .iter()
            .map(|key| serde_json::json!({ "hash": key.hash, "customer": key.customer }))
            .collect();
        let response = self
            .http
            .put(&self.url)
            .header("X-Tollgate-Secret", self.secret.expose_secret())
            .json(&serde_json::json!({ "snapshots": snapshots, "keys": keys }))
            .send()
            .await
            .map_err(|e| fail(format!("unreachable: {e}")))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        Err(fail(format!(
            "{status}: {}",
            body.chars().take(300).collect::<String>()
        )))
    }
}
