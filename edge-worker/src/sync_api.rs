//! Calls from the edge to the sync worker (usage batches, leases and their settlements): JSON
//! posted with the edge's `app` token, `TOLLGATE_USAGE_TOKEN`.

use worker::{Fetch, Headers, Method, RequestInit, Response};

use crate::config::Config;

/// Posts `body` (JSON) to `url` with the edge's token; the answer whatever its status.
pub async fn post_json(config: &Config, url: &str, body: String) -> worker::Result<Response> {
    let headers = Headers::new();
    headers.set("Content-Type", "application/json")?;
    if let Some(token) = &config.usage_token {
        headers.set("Authorization", &format!("Bearer {token}"))?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(body.into()));
    let request = worker::Request::new_with_init(url, &init)?;
    Fetch::Request(request).send().await
}
