//! Polar's REST API: authenticated, version-pinned, paginated, and patient with rate limits.
//!
//! Every request carries the organization access token and `Polar-Version`, so the contract
//! cannot change under us when Polar rotates its current version. Failures are sorted by what
//! helps:
//!
//! - **429**: Polar sends `retry-after` (the rate-limit window, 60 s). The client waits that long
//!   and tries again, without counting a failure: a storm of 429s slows a reconcile, it does not
//!   fail it.
//! - **Network errors, timeouts and 5xx**: retried with exponential backoff and full jitter, and
//!   counted by the circuit breaker, which stops calling a Polar that is down.
//! - **Other 4xx**: our request is wrong; returned at once with Polar's `detail`.

mod breaker;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::Rng;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use breaker::{BreakerState, CircuitBreaker};

use crate::clock::Clock;

/// The Polar API version tollgate speaks.
pub(crate) const API_VERSION: &str = "2026-10";
/// Polar's largest page.
pub(crate) const PAGE_LIMIT: u64 = 100;

/// How the client talks to Polar.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The origin, without `/v1` (Polar's paths carry it).
    pub base_url: String,
    pub token: SecretString,
    /// Attempts of one request on network errors and 5xx.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Consecutive 429 answers one request waits out before giving up.
    pub max_rate_limit_waits: u32,
    /// The longest `retry-after` honoured as given.
    pub max_retry_after: Duration,
    pub breaker_threshold: u32,
    pub breaker_cool_down: Duration,
    pub timeout: Duration,
}

impl ClientConfig {
    pub fn new(base_url: impl Into<String>, token: SecretString) -> Self {
        ClientConfig {
            base_url: base_url.into(),
            token,
            max_attempts: 5,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            max_rate_limit_waits: 120,
            max_retry_after: Duration::from_secs(120),
            breaker_threshold: 5,
            breaker_cool_down: Duration::from_secs(30),
            timeout: Duration::from_secs(30),
        }
    }
}

/// A failed call to Polar.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolarError {
    #[error("Polar answered {status} to {method} {path}: {detail}")]
    Status {
        method: Method,
        path: String,
        status: u16,
        detail: String,
    },
    #[error("Polar could not be reached for {method} {path}")]
    Transport {
        method: Method,
        path: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the Polar circuit is open after repeated failures: {method} {path} was not sent")]
    CircuitOpen { method: Method, path: String },
    #[error("Polar rate-limited {method} {path} {waits} times in a row")]
    RateLimited {
        method: Method,
        path: String,
        waits: u32,
        /// Polar's last `retry-after`.
        retry_after: Option<Duration>,
    },
    #[error("Polar's answer to {path} is not the expected JSON")]
    Decode {
        path: String,
        #[source]
        source: serde_json::Error,
    },
}

impl PolarError {
    /// Whether Polar said the object does not exist.
    pub(crate) fn is_not_found(&self) -> bool {
        matches!(self, PolarError::Status { status: 404, .. })
    }
}

/// One page of a Polar list.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct Page<T> {
    pub(crate) items: Vec<T>,
    pub(crate) pagination: Pagination,
}

#[derive(Clone, Copy, Debug, serde::Deserialize)]
pub(crate) struct Pagination {
    pub(crate) total_count: u64,
    pub(crate) max_page: u64,
}

/// A client for Polar's REST API. Cheap to clone; clones share the circuit breaker.
#[derive(Clone, Debug)]
pub struct PolarClient {
    http: reqwest::Client,
    config: std::sync::Arc<ClientConfig>,
    breaker: std::sync::Arc<CircuitBreaker>,
    requests: std::sync::Arc<AtomicU64>,
    /// A second count, of this clone and its clones only (see [`PolarClient::counted`]).
    counted: Option<std::sync::Arc<AtomicU64>>,
}

impl PolarClient {
    /// A client for `config`.
    pub fn new(config: ClientConfig) -> Result<Self, reqwest::Error> {
        Self::with_clock(config, Clock::system())
    }

    /// A client for `config` whose circuit breaker's cool-down runs on `clock`.
    pub fn with_clock(config: ClientConfig, clock: Clock) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(concat!("tollgate/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let breaker =
            CircuitBreaker::new(config.breaker_threshold, config.breaker_cool_down, clock);
        Ok(PolarClient {
            http,
            config: config.into(),
            breaker: breaker.into(),
            requests: Default::default(),
            counted: None,
        })
    }

    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    /// How many times the circuit has opened since the client was made.
    pub fn breaker_openings(&self) -> u64 {
        self.breaker.openings()
    }

    /// The origin requests go to.
    pub(crate) fn base_url(&self) -> &str {
        &self.config.base_url
    }

    /// Requests sent to Polar since the client was made, retries included.
    pub fn requests_sent(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// A clone sharing the connection pool and circuit breaker that also counts its own
    /// requests ([`PolarClient::counted_requests`]), so that one task's share is known while
    /// other tasks use the client too.
    pub(crate) fn counted(&self) -> Self {
        Self {
            counted: Some(Default::default()),
            ..self.clone()
        }
    }

    /// Requests sent through this [`PolarClient::counted`] clone, retries included.
    pub(crate) fn counted_requests(&self) -> u64 {
        self.counted
            .as_ref()
            .map_or(0, |counted| counted.load(Ordering::Relaxed))
    }

    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, PolarError> {
        self.call(Method::GET, path, query, None).await
    }

    pub(crate) async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, PolarError> {
        self.send_body(Method::POST, path, body).await
    }

    pub(crate) async fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, PolarError> {
        self.send_body(Method::PATCH, path, body).await
    }

    /// `DELETE path`; Polar answers 204 without a body (read as `null`).
    pub(crate) async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, PolarError> {
        self.call(Method::DELETE, path, &[], None).await
    }

    /// A clone for calls a person or an app waits on: sharing the connection pool and circuit
    /// breaker, it makes at most `max_attempts` attempts with short backoff (1 = no retry, for
    /// calls that are not safe to repeat) and does not wait out Polar's rate limit but returns
    /// [`PolarError::RateLimited`] with Polar's `retry-after`.
    pub(crate) fn interactive(&self, max_attempts: u32) -> Self {
        let config = ClientConfig {
            max_attempts: max_attempts.max(1),
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            max_rate_limit_waits: 0,
            ..(*self.config).clone()
        };
        Self {
            config: config.into(),
            ..self.clone()
        }
    }

    /// How long until the circuit lets a call through again (zero when it is closed).
    pub(crate) fn breaker_retry_in(&self) -> Duration {
        self.breaker.retry_in()
    }

    async fn send_body<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T, PolarError> {
        let body = serde_json::to_value(body).map_err(|source| PolarError::Decode {
            path: path.to_owned(),
            source,
        })?;
        self.call(method, path, &[], Some(&body)).await
    }

    /// One page (1-based) of a list, at Polar's largest page size.
    pub(crate) async fn page<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        page: u64,
    ) -> Result<Page<T>, PolarError> {
        let mut query = query.to_vec();
        query.push(("page", page.to_string()));
        query.push(("limit", PAGE_LIMIT.to_string()));
        self.get(path, &query).await
    }

    /// Every item of a list, page by page: ⌈total / 100⌉ requests. `progress` hears
    /// `(items so far, total)` after each page.
    pub(crate) async fn list_all<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        mut progress: impl FnMut(u64, u64),
    ) -> Result<Vec<T>, PolarError> {
        let mut items = Vec::new();
        let mut page = 1;
        loop {
            let batch: Page<T> = self.page(path, query, page).await?;
            let last = page >= batch.pagination.max_page || batch.items.is_empty();
            items.extend(batch.items);
            progress(items.len() as u64, batch.pagination.total_count);
            if last {
                return Ok(items);
            }
            page += 1;
        }
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<T, PolarError> {
        let url = format!("{}{}", self.config.base_url.trim_end_matches('/'), path);
        let mut failures = 0;
        let mut waits = 0;
        loop {
            if !self.breaker.allow() {
                return Err(PolarError::CircuitOpen {
                    method,
                    path: path.to_owned(),
                });
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            if let Some(counted) = &self.counted {
                counted.fetch_add(1, Ordering::Relaxed);
            }
            let mut request = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(self.config.token.expose_secret())
                .header("Polar-Version", API_VERSION)
                .query(query);
            if let Some(body) = body {
                request = request.json(body);
            }
            let outcome = request.send().await;
            crate::metrics::polar_request(
                method.as_str(),
                path,
                outcome.as_ref().ok().map(|r| r.status().as_u16()),
            );
            let delay = match outcome {
                Ok(response) if response.status() == StatusCode::TOO_MANY_REQUESTS => {
                    // Rate limiting is Polar working as designed: not a failure.
                    self.breaker.record_success();
                    waits += 1;
                    let polar_wait = retry_after(&response);
                    if waits > self.config.max_rate_limit_waits {
                        return Err(PolarError::RateLimited {
                            method,
                            path: path.to_owned(),
                            waits,
                            retry_after: polar_wait,
                        });
                    }
                    let wait = polar_wait.unwrap_or(self.config.base_delay);
                    tracing::warn!(
                        path,
                        wait_ms = wait.as_millis() as u64,
                        "Polar rate limit: waiting"
                    );
                    wait.min(self.config.max_retry_after)
                }
                Ok(response) if response.status().is_server_error() => {
                    self.breaker.record_failure();
                    failures += 1;
                    if failures >= self.config.max_attempts {
                        return Err(status_error(method, path, response).await);
                    }
                    tracing::warn!(
                        path,
                        status = response.status().as_u16(),
                        "Polar server error: retrying"
                    );
                    self.backoff(failures)
                }
                Ok(response) if !response.status().is_success() => {
                    // A client error is ours: Polar is healthy.
                    self.breaker.record_success();
                    return Err(status_error(method, path, response).await);
                }
                Ok(response) => {
                    self.breaker.record_success();
                    let bytes = response
                        .bytes()
                        .await
                        .map_err(|source| PolarError::Transport {
                            method,
                            path: path.to_owned(),
                            source,
                        })?;
                    let bytes: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
                    return serde_json::from_slice(bytes).map_err(|source| PolarError::Decode {
                        path: path.to_owned(),
                        source,
                    });
                }
                Err(source) => {
                    self.breaker.record_failure();
                    failures += 1;
                    if failures >= self.config.max_attempts {
                        return Err(PolarError::Transport {
                            method,
                            path: path.to_owned(),
                            source,
                        });
                    }
                    tracing::warn!(path, error = %source, "Polar unreachable: retrying");
                    self.backoff(failures)
                }
            };
            tokio::time::sleep(delay).await;
        }
    }

    /// Exponential backoff with full jitter: uniform in `[0, min(max, base × 2^failures)]`.
    fn backoff(&self, failures: u32) -> Duration {
        let cap = self
            .config
            .base_delay
            .saturating_mul(2u32.saturating_pow(failures))
            .min(self.config.max_delay);
        let cap_ms = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=cap_ms))
    }
}

/// `retry-after` in whole seconds, as Polar sends it.
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let seconds: f64 = response
        .headers()
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
}

async fn status_error(method: Method, path: &str, response: reqwest::Response) -> PolarError {
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    // Polar's errors are {"error", "detail"}; validation errors carry a list in `detail`.
    let detail = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| {
            v.get("detail")
                .map(|d| d.as_str().map_or_else(|| d.to_string(), str::to_owned))
        })
        .unwrap_or_else(|| body.chars().take(300).collect());
    PolarError::Status {
        method,
        path: path.to_owned(),
        status,
        detail,
    }
}
