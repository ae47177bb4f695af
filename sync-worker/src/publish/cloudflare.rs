//! The Cloudflare sink: Workers KV's REST bulk write, up to 10 000 pairs a request.
//!
//! `PUT {api}/client/v4/accounts/{account}/storage/kv/namespaces/{namespace}/bulk` with
//! `[{"key", "value"}]`. Cloudflare answers `{"success", "errors", "result":
//! {"successful_key_count", "unsuccessful_keys"}}`; a batch counts as written only when every key
//! was, otherwise the whole batch is retried (a put of the same value is idempotent).
//! Revoked API keys are removed with the bulk delete, `POST {…}/bulk/delete` with `["key", …]`,
//! after the puts (deleting a key that is not there succeeds).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{Entry, KeyWrite, SinkError};

pub const CLOUDFLARE_API: &str = "https://api.cloudflare.com";

#[derive(Debug, Clone)]
pub struct CloudflareSink {
    http: reqwest::Client,
    url: String,
    token: SecretString,
}

#[derive(Debug, Deserialize)]
struct Answer {
    success: bool,
    #[serde(default)]
    errors: Vec<serde_json::Value>,
    #[serde(default)]
    result: Option<BulkResult>,
}

#[derive(Debug, Deserialize)]
struct BulkResult {
    #[serde(default)]
    unsuccessful_keys: Vec<String>,
}

impl CloudflareSink {
    /// `api` is Cloudflare's API origin (overridable for a local stand-in).
    pub fn new(
        api: &str,
        account_id: &str,
        namespace_id: &str,
        token: SecretString,
    ) -> Result<Self, reqwest::Error> {
        let url = format!(
            "{}/client/v4/accounts/{account_id}/storage/kv/namespaces/{namespace_id}/bulk",
            api.trim_end_matches('/')
        );
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(CloudflareSink { http, url, token })
    }

    pub(super) async fn send(&self, entries: &[Entry], keys: &[KeyWrite]) -> Result<(), SinkError> {
        let mut pairs: Vec<serde_json::Value> = entries
            .iter()
            .map(|entry| serde_json::json!({ "key": entry.key(), "value": entry.snapshot.to_string() }))
            .collect();
        pairs.extend(keys.iter().filter_map(|key| {
            key.customer
                .as_ref()
                .map(|customer| serde_json::json!({ "key": key.key(), "value": customer }))
        }));
        let deletes: Vec<String> = keys
            .iter()
            .filter(|key| key.customer.is_none())
            .map(KeyWrite::key)
            .collect();
        if !pairs.is_empty() {
            let request = self.http.put(&self.url).json(&pairs);
            self.call(request, pairs.len()).await?;
        }
        if !deletes.is_empty() {
            let request = self
                .http
                .post(format!("{}/delete", self.url))
                .json(&deletes);
            self.call(request, deletes.len()).await?;
        }
        Ok(())
    }

    /// Sends one bulk request of `count` keys and reads Cloudflare's answer.
    async fn call(&self, request: reqwest::RequestBuilder, count: usize) -> Result<(), SinkError> {
        let fail = |message: String| SinkError {
            sink: "cloudflare",
            message,
        };
        let response = request
            .bearer_auth(self.token.expose_secret())
            .send()
            .await
            .map_err(|e| fail(format!("unreachable: {e}")))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| fail(format!("reading the answer: {e}")))?;
        let answer: Answer = serde_json::from_str(&body).map_err(|_| {
            fail(format!(
                "{status}: {}",
                body.chars().take(200).collect::<String>()
            ))
        })?;
        if !status.is_success() || !answer.success {
            return Err(fail(format!("{status}: {:?}", answer.errors)));
        }
        match answer
            .result
            .map(|r| r.unsuccessful_keys)
            .unwrap_or_default()
        {
            failed if failed.is_empty() => Ok(()),
            failed => Err(fail(format!(
                "{} of {} keys not written, e.g. {}",
                failed.len(),
                count,
                failed.first().map(String::as_str).unwrap_or_default()
            ))),
        }
    }
}
