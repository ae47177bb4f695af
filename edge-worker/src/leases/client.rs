//! The sync worker's lease calls, as the Durable Object makes them: `POST /v1/leases` and
//! `POST /v1/leases/{id}/settle`, with the edge's `app` token (`TOLLGATE_USAGE_TOKEN`).

use serde::Deserialize;
use serde_json::json;
use tollgate_gate::Timestamp;

use crate::config::Config;

/// What `POST /v1/leases` granted.
#[derive(Debug, Clone, Deserialize)]
pub struct Granted {
    pub id: Option<String>,
    pub granted: u64,
    /// The end of the period the lease was granted in (`null` for a period that never ends).
    #[serde(default)]
    pub resets_at: Option<String>,
}

impl Granted {
    /// The end of the lease's period; `None` when it never ends or cannot be read.
    pub fn period_end(&self) -> Option<Timestamp> {
        self.resets_at
            .as_deref()
            .and_then(|text| Timestamp::parse(text).ok())
    }
}

/// How a settlement went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Accepted (now or before): nothing more to do.
    Done,
    /// The sync worker could not be reached or failed: try again later.
    Retry,
}

/// Asks for `want` units of `feature` for `customer`, lasting `ttl_ms`. `Err` when the sync
/// worker could not be reached or did not answer with a lease.
pub async fn grant(
    config: &Config,
    customer: &str,
    feature: &str,
    want: u64,
) -> Result<Granted, String> {
    let url = config
        .leases_url
        .as_deref()
        .ok_or("TOLLGATE_LEASES_URL is not set")?;
    let body = json!({
        "customer": customer,
        "feature": feature,
        "want": want,
        "ttl_seconds": config.lease_ttl_ms / 1000,
    });
    let (status, text) = post(config, url, &body.to_string()).await?;
    if !(200..300).contains(&status) {
        return Err(format!("POST {url} answered {status}: {text}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("POST {url}: unreadable answer: {e}"))
}

/// Settles lease `id` with the `used` units.
pub async fn settle(config: &Config, id: &str, used: u64) -> Settled {
    let Some(base) = config.leases_url.as_deref() else {
        return Settled::Retry;
    };
    let url = format!("{base}/{id}/settle");
    match post(config, &url, &json!({ "used": used }).to_string()).await {
        Ok((status, _)) if (200..300).contains(&status) => Settled::Done,
        // Refused input never succeeds later (an unknown lease, `used` over the grant): the
        // sync worker's expiry settles the lease as fully used, which never undercounts.
        Ok((status @ 400..500, text)) if status != 429 => {
            worker::console_error!("settlement of lease {id} refused ({status}): {text}");
            Settled::Done
        }
        Ok((status, _)) => {
            worker::console_warn!("settlement of lease {id} answered {status}; retrying");
            Settled::Retry
        }
        Err(e) => {
            worker::console_warn!("settlement of lease {id}: {e}; retrying");
            Settled::Retry
        }
    }
}

async fn post(config: &Config, url: &str, body: &str) -> Result<(u16, String), String> {
    let fail = |e: worker::Error| format!("POST {url}: {e}");
    let mut response = crate::sync_api::post_json(config, url, body.to_owned())
        .await
        .map_err(fail)?;
    let text = response.text().await.map_err(fail)?;
    Ok((response.status_code(), text))
}
