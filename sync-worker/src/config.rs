//! Configuration: one typed struct per command, read once from flags and the environment.
//!
//! Every setting has a flag and an environment variable of the same name (see `.env.example`).
//! A missing or invalid value stops the command before it does anything, with a message that
//! names the variable.

use clap::{Args, ValueEnum};
use secrecy::SecretString;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The API tokens tollgate accepts are at least this long: anything shorter is guessable.
pub(crate) const MIN_API_TOKEN_LEN: usize = 16;

/// Where the database is.
#[derive(Debug, Clone, Args)]
pub struct DatabaseConfig {
    /// PostgreSQL connection URL, e.g. postgres://tollgate@127.0.0.1:5432/tollgate
    #[arg(
        long = "database-url",
        env = "DATABASE_URL",
        value_name = "DATABASE_URL",
        value_parser = secret,
        hide_env_values = true
    )]
    pub url: SecretString,

    /// Most connections the service keeps open to PostgreSQL.
    #[arg(
        long = "database-max-connections",
        env = "TOLLGATE_DATABASE_MAX_CONNECTIONS",
        value_name = "TOLLGATE_DATABASE_MAX_CONNECTIONS",
        default_value_t = 16,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub max_connections: u32,
}

/// The catalog of plans.
#[derive(Debug, Clone, Args)]
pub struct CatalogConfig {
    /// Path of the catalog TOML (plans, features, limits), e.g. examples/catalog.toml
    #[arg(
        long = "catalog",
        env = "TOLLGATE_CATALOG",
        value_name = "TOLLGATE_CATALOG"
    )]
    pub path: PathBuf,
}

/// Which Polar environment the organization token belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolarServer {
    /// https://sandbox-api.polar.sh
    Sandbox,
    /// https://api.polar.sh
    Production,
}

impl PolarServer {
    pub(crate) fn api_base(self) -> &'static str {
        match self {
            Self::Sandbox => "https://sandbox-api.polar.sh",
            Self::Production => "https://api.polar.sh",
        }
    }
}

/// Polar's REST API: which server, and the organization token for it.
#[derive(Debug, Clone, Args)]
pub struct PolarConfig {
    /// Polar organization access token: reconciliation, and the billing calls (customers,
    /// checkouts, portal, plan changes, cancel, refunds), which answer 503 without it.
    #[arg(
        long = "polar-organization-token",
        env = "POLAR_ORGANIZATION_TOKEN",
        value_name = "POLAR_ORGANIZATION_TOKEN",
        value_parser = secret,
        hide_env_values = true
    )]
    pub organization_token: Option<SecretString>,

    /// Polar environment of the token and webhooks.
    #[arg(
        long = "polar-server",
        env = "POLAR_SERVER",
        value_name = "POLAR_SERVER",
        value_enum,
        default_value_t = PolarServer::Sandbox
    )]
    pub server: PolarServer,

    /// Polar API origin to use instead of POLAR_SERVER's, e.g. a local polar-sim at
    /// http://127.0.0.1:8765 (without /v1).
    #[arg(
        long = "polar-api-url",
        env = "POLAR_API_URL",
        value_name = "POLAR_API_URL",
        value_parser = api_url
    )]
    pub api_url: Option<String>,
}

impl PolarConfig {
    /// The API origin requests go to: POLAR_API_URL when set, else POLAR_SERVER's.
    pub(crate) fn base_url(&self) -> String {
        self.api_url
            .clone()
            .unwrap_or_else(|| self.server.api_base().to_owned())
    }
}

/// Everything `tollgate serve` needs.
#[derive(Debug, Clone, Args)]
pub struct Config {
    #[command(flatten)]
    pub database: DatabaseConfig,

    #[command(flatten)]
    pub catalog: CatalogConfig,

    /// The webhook endpoint's secret from Polar's dashboard, exactly as shown (whsec_… or
    /// polar_whs_…); both of Polar's signing schemes are accepted.
    #[arg(
        long = "polar-webhook-secret",
        env = "POLAR_WEBHOOK_SECRET",
        value_name = "POLAR_WEBHOOK_SECRET",
        value_parser = secret,
        hide_env_values = true
    )]
    pub polar_webhook_secret: SecretString,

    #[command(flatten)]
    pub polar: PolarConfig,

    #[command(flatten)]
    pub publish: PublishConfig,

    /// Run the scheduled jobs (reconciliation, health checks, cleanup) in this process.
    /// Every replica may run them: each job runs once per tick across all of them.
    #[arg(
        long = "jobs",
        env = "TOLLGATE_JOBS",
        value_name = "TOLLGATE_JOBS",
        default_value_t = true,
        action = clap::ArgAction::Set
    )]
    pub jobs: bool,

    /// Address the HTTP server listens on.
    #[arg(
        long = "listen",
        env = "TOLLGATE_LISTEN",
        value_name = "TOLLGATE_LISTEN",
        default_value = "127.0.0.1:8080"
    )]
    pub listen: SocketAddr,

    /// Bearer token that apps present to /v1 (at least 16 characters).
    #[arg(
        long = "api-token",
        env = "TOLLGATE_API_TOKEN",
        value_name = "TOLLGATE_API_TOKEN",
        value_parser = api_token,
        hide_env_values = true
    )]
    pub api_token: SecretString,

    /// Clerk's webhook signing secret (whsec_…), to make Polar customers from Clerk's users at
    /// POST /webhooks/clerk. Unset: that endpoint is off (404).
    #[arg(
        long = "clerk-webhook-secret",
        env = "CLERK_WEBHOOK_SECRET",
        value_name = "CLERK_WEBHOOK_SECRET",
        value_parser = secret,
        hide_env_values = true
    )]
    pub clerk_webhook_secret: Option<SecretString>,

    /// Requests per second each /v1 token may make (per replica); beyond it, 429 rate_limited
    /// with Retry-After. Unset: no limit.
    #[arg(
        long = "rate-limit",
        env = "TOLLGATE_RATE_LIMIT",
        value_name = "TOLLGATE_RATE_LIMIT",
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub rate_limit: Option<u32>,

    /// Requests a token may make at once before TOLLGATE_RATE_LIMIT applies (default: twice the
    /// rate).
    #[arg(
        long = "rate-limit-burst",
        env = "TOLLGATE_RATE_LIMIT_BURST",
        value_name = "TOLLGATE_RATE_LIMIT_BURST",
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub rate_limit_burst: Option<u32>,

    /// Failed /v1 authentications a client address may make at once; they then refill at one a
    /// second, and beyond them the address gets 429 rate_limited with Retry-After. 0 turns the
    /// limit off.
    #[arg(
        long = "auth-failure-burst",
        env = "TOLLGATE_AUTH_FAILURE_BURST",
        value_name = "TOLLGATE_AUTH_FAILURE_BURST",
        default_value_t = 20
    )]
    pub auth_failure_burst: u32,

    #[command(flatten)]
    pub monitoring: MonitoringConfig,
}

/// What tollgate tells the outside world: metrics to scrape, alerts to a chat channel, events
/// to the app. Each is off while its variable is unset.
#[derive(Clone, Debug, Default, Args)]
pub struct MonitoringConfig {
    /// Address of a second HTTP listener serving GET /metrics (Prometheus text), e.g.
    /// 127.0.0.1:9100. Unset: no metrics.
    #[arg(
        long = "metrics-listen",
        env = "TOLLGATE_METRICS_LISTEN",
        value_name = "TOLLGATE_METRICS_LISTEN"
    )]
    pub metrics_listen: Option<SocketAddr>,

    /// Slack-compatible incoming-webhook URL the health checks' alerts are posted to, once when
    /// an alert opens and once when it resolves. Unset: alerts are only logged and stored.
    #[arg(
        long = "alert-webhook-url",
        env = "TOLLGATE_ALERT_WEBHOOK_URL",
        value_name = "TOLLGATE_ALERT_WEBHOOK_URL",
        value_parser = webhook_url,
        hide_env_values = true
    )]
    pub alert_webhook_url: Option<String>,

    /// The app's endpoint for tollgate's events (entitlements.updated, usage.threshold_reached,
    /// payment.failed, subscription.ending), signed as Standard Webhooks. Unset: events wait in
    /// the database.
    #[arg(
        long = "events-url",
        env = "TOLLGATE_EVENTS_URL",
        value_name = "TOLLGATE_EVENTS_URL",
        value_parser = webhook_url
    )]
    pub events_url: Option<String>,

    /// The signing secret of those events, `whsec_` and base64 (as Standard Webhooks libraries
    /// take it). Required with TOLLGATE_EVENTS_URL.
    #[arg(
        long = "events-secret",
        env = "TOLLGATE_EVENTS_SECRET",
        value_name = "TOLLGATE_EVENTS_SECRET",
        value_parser = secret,
        hide_env_values = true
    )]
    pub events_secret: Option<SecretString>,
}

/// Where snapshots are published: Workers KV through Cloudflare's REST API in production, the
/// edge worker's own publish endpoint in local development and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum PublishSink {
    /// Keep snapshots in PostgreSQL only (the outbox waits).
    None,
    /// The edge worker's `PUT /_tollgate/snapshots` (TOLLGATE_EDGE_URL, TOLLGATE_INTERNAL_SECRET).
    Edge,
    /// Workers KV's bulk write (CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_KV_NAMESPACE_ID,
    /// CLOUDFLARE_API_TOKEN).
    Cloudflare,
}

#[derive(Clone, Debug, Args)]
pub struct PublishConfig {
    /// Where snapshots are published.
    #[arg(
        long = "publish-sink",
        env = "TOLLGATE_PUBLISH_SINK",
        value_name = "TOLLGATE_PUBLISH_SINK",
        value_enum,
        default_value_t = PublishSink::None
    )]
    pub(crate) sink: PublishSink,

    /// The edge worker's origin, e.g. http://127.0.0.1:8787 (sink `edge`).
    #[arg(long = "edge-url", env = "TOLLGATE_EDGE_URL", value_name = "TOLLGATE_EDGE_URL", value_parser = api_url)]
    pub(crate) edge_url: Option<String>,

    /// The secret the edge worker expects in X-Tollgate-Secret (its TOLLGATE_INTERNAL_SECRET).
    #[arg(
        long = "internal-secret",
        env = "TOLLGATE_INTERNAL_SECRET",
        value_name = "TOLLGATE_INTERNAL_SECRET",
        value_parser = secret,
        hide_env_values = true
    )]
    pub(crate) internal_secret: Option<SecretString>,

    /// Cloudflare account id (sink `cloudflare`).
    #[arg(
        long = "cloudflare-account-id",
        env = "CLOUDFLARE_ACCOUNT_ID",
        value_name = "CLOUDFLARE_ACCOUNT_ID"
    )]
    pub(crate) cloudflare_account_id: Option<String>,

    /// Workers KV namespace id bound as ENTITLEMENTS (sink `cloudflare`).
    #[arg(
        long = "cloudflare-kv-namespace-id",
        env = "CLOUDFLARE_KV_NAMESPACE_ID",
        value_name = "CLOUDFLARE_KV_NAMESPACE_ID"
    )]
    pub(crate) cloudflare_namespace_id: Option<String>,

    /// Cloudflare API token with Workers KV write access (sink `cloudflare`).
    #[arg(
        long = "cloudflare-api-token",
        env = "CLOUDFLARE_API_TOKEN",
        value_name = "CLOUDFLARE_API_TOKEN",
        value_parser = secret,
        hide_env_values = true
    )]
    pub(crate) cloudflare_api_token: Option<SecretString>,

    /// Cloudflare's API origin (a local stand-in in tests).
    #[arg(
        long = "cloudflare-api-url",
        env = "CLOUDFLARE_API_URL",
        value_name = "CLOUDFLARE_API_URL",
        default_value = crate::publish::CLOUDFLARE_API,
        value_parser = api_url
    )]
    pub(crate) cloudflare_api_url: String,
}

impl Default for PublishConfig {
    fn default() -> Self {
        PublishConfig {
            sink: PublishSink::None,
            edge_url: None,
            internal_secret: None,
            cloudflare_account_id: None,
            cloudflare_namespace_id: None,
            cloudflare_api_token: None,
            cloudflare_api_url: crate::publish::CLOUDFLARE_API.to_owned(),
        }
    }
}

impl PublishConfig {
    /// The sink these settings name, or the name of the setting it is missing.
    pub(crate) fn sink(&self) -> Result<Option<crate::publish::Sink>, String> {
        use crate::publish::{CloudflareSink, EdgeSink, Sink};
        fn need<'a, T>(value: &'a Option<T>, name: &str) -> Result<&'a T, String> {
            value
                .as_ref()
                .ok_or_else(|| format!("{name} is required by TOLLGATE_PUBLISH_SINK"))
        }
        let http =
            |e: reqwest::Error| format!("TOLLGATE_PUBLISH_SINK: cannot build an HTTP client: {e}");
        Ok(match self.sink {
            PublishSink::None => None,
            PublishSink::Edge => Some(Sink::Edge(
                EdgeSink::new(
                    need(&self.edge_url, "TOLLGATE_EDGE_URL")?,
                    need(&self.internal_secret, "TOLLGATE_INTERNAL_SECRET")?.clone(),
                )
                .map_err(http)?,
            )),
            PublishSink::Cloudflare => Some(Sink::Cloudflare(
                CloudflareSink::new(
                    &self.cloudflare_api_url,
                    need(&self.cloudflare_account_id, "CLOUDFLARE_ACCOUNT_ID")?,
                    need(&self.cloudflare_namespace_id, "CLOUDFLARE_KV_NAMESPACE_ID")?,
                    need(&self.cloudflare_api_token, "CLOUDFLARE_API_TOKEN")?.clone(),
                )
                .map_err(http)?,
            )),
        })
    }
}

fn secret(value: &str) -> Result<SecretString, String> {
    if value.trim().is_empty() {
        return Err("must not be empty".to_owned());
    }
    Ok(SecretString::from(value.to_owned()))
}

fn api_url(value: &str) -> Result<String, String> {
    let trimmed = value.trim().trim_end_matches('/');
    let scheme_ok = trimmed.starts_with("https://") || trimmed.starts_with("http://");
    if !scheme_ok || trimmed.len() <= "https://".len() {
        return Err("must be an http(s) origin such as https://api.polar.sh".to_owned());
    }
    if trimmed.ends_with("/v1") {
        return Err("must be the origin without /v1 (Polar's paths carry it)".to_owned());
    }
    Ok(trimmed.to_owned())
}

/// A full http(s) URL that tollgate posts to (path and query kept).
fn webhook_url(value: &str) -> Result<String, String> {
    let trimmed = value.trim();
    let scheme_ok = trimmed.starts_with("https://") || trimmed.starts_with("http://");
    if !scheme_ok || trimmed.len() <= "https://".len() || reqwest::Url::parse(trimmed).is_err() {
        return Err("must be an http(s) URL such as https://hooks.example.com/tollgate".to_owned());
    }
    Ok(trimmed.to_owned())
}

fn api_token(value: &str) -> Result<SecretString, String> {
    if value.chars().count() < MIN_API_TOKEN_LEN {
        return Err(format!(
            "must be at least {MIN_API_TOKEN_LEN} characters long"
        ));
    }
    secret(value)
}
