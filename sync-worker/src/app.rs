//! Building and running the service.

use crate::clock::Clock;
use crate::config::{Config, PolarConfig};
use crate::db::MIGRATOR;
use crate::http::{self, AppState};
use crate::jobs::{self, scheduler::Scheduler};
use crate::polar_client::{ClientConfig, PolarClient};
use crate::publish;
use crate::signature::{SignatureError, WebhookSecret};
use crate::webhooks::{self, Applier, Inbox};
use secrecy::ExposeSecret;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tollgate_gate::Catalog;

/// Why the service could not start. Each message names the setting or resource at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartupError {
    #[error("TOLLGATE_CATALOG: cannot read {path}: {source}")]
    CatalogUnreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("TOLLGATE_CATALOG: {path} is not a valid catalog ({code}): {message}")]
    CatalogInvalid {
        path: PathBuf,
        code: &'static str,
        message: String,
    },
    #[error("POLAR_WEBHOOK_SECRET: {0}")]
    WebhookSecret(#[source] SignatureError),
    #[error("CLERK_WEBHOOK_SECRET: {0}")]
    ClerkSecret(#[source] SignatureError),
    #[error("POLAR_API_URL: cannot build the Polar client: {0}")]
    PolarClient(#[source] reqwest::Error),
    #[error("{0}")]
    Publish(String),
    #[error("DATABASE_URL: cannot connect to PostgreSQL: {0}")]
    Database(#[source] sqlx::Error),
    #[error("DATABASE_URL: migrating the database failed: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("TOLLGATE_LISTEN: cannot listen on {address}: {source}")]
    Listen {
        address: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("TOLLGATE_ALERT_WEBHOOK_URL, TOLLGATE_EVENTS_URL: cannot build an HTTP client: {0}")]
    OutboundClient(#[source] reqwest::Error),
    #[error("{0}")]
    Events(String),
    #[error("TOLLGATE_METRICS_LISTEN: cannot listen on {address}: {source}")]
    MetricsListen {
        address: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A built service: migrated database, bound listener, ready to [`App::run`].
#[derive(Debug)]
pub struct App {
    listener: TcpListener,
    state: AppState,
    scheduler: Arc<Scheduler>,
    run_jobs: bool,
    publisher: Option<publish::Sink>,
    /// The `/metrics` listener and the recorder it renders (`TOLLGATE_METRICS_LISTEN`).
    metrics: Option<(TcpListener, metrics_exporter_prometheus::PrometheusHandle)>,
    /// Where health alerts are posted (`TOLLGATE_ALERT_WEBHOOK_URL`).
    alerts: Option<crate::alerts::AlertSink>,
    /// Where events for the app go (`TOLLGATE_EVENTS_URL`).
    events: Option<crate::events::deliver::EventSink>,
}

impl App {
    /// Builds the service from `config` with the system clock.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        Self::build_with_clock(config, Clock::system()).await
    }

    /// Builds the service with a given clock (tests and recorded stories pin "now").
    pub async fn build_with_clock(config: Config, clock: Clock) -> Result<Self, StartupError> {
        let catalog = load_catalog(&config.catalog.path)?;
        let secret = WebhookSecret::new(&config.polar_webhook_secret)
            .map_err(StartupError::WebhookSecret)?;
        let clerk_secret = config
            .clerk_webhook_secret
            .as_ref()
            .map(WebhookSecret::new)
            .transpose()
            .map_err(StartupError::ClerkSecret)?;
        let publisher = config.publish.sink().map_err(StartupError::Publish)?;
        let pool = connect(&config.database.url, config.database.max_connections).await?;
        MIGRATOR.run(&pool).await.map_err(StartupError::Migrate)?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartupError::Listen {
                    address: config.listen,
                    source,
                })?;
        let metrics = match config.monitoring.metrics_listen {
            Some(address) => {
                let listener = TcpListener::bind(address)
                    .await
                    .map_err(|source| StartupError::MetricsListen { address, source })?;
                Some((listener, crate::metrics::install()))
            }
            None => None,
        };
        let alerts = config
            .monitoring
            .alert_webhook_url
            .as_deref()
            .map(crate::alerts::AlertSink::new)
            .transpose()
            .map_err(StartupError::OutboundClient)?;
        let events = config
            .monitoring
            .events_url
            .as_deref()
            .map(|url| {
                crate::events::deliver::EventSink::new(
                    url,
                    config.monitoring.events_secret.as_ref(),
                )
            })
            .transpose()
            .map_err(|error| StartupError::Events(error.to_string()))?;
        let catalog = Arc::new(catalog);
        let polar = polar_client(&config.polar, &clock)?;
        let deps = jobs::Deps {
            pool: pool.clone(),
            catalog: Arc::clone(&catalog),
            polar: polar.clone(),
            clock: clock.clone(),
        };
        let scheduler = Arc::new(Scheduler::new(deps, jobs::schedule()));
        let applier = Applier::new(pool.clone(), Arc::clone(&catalog), clock.clone());
        let billing = crate::billing::Billing {
            pool: pool.clone(),
            catalog: Arc::clone(&catalog),
            polar,
            clock: clock.clone(),
        };
        let rate_limiter = config.rate_limit.map(|rate| {
            let burst = config
                .rate_limit_burst
                .unwrap_or_else(|| rate.saturating_mul(2));
            Arc::new(crate::auth::RateLimiter::new(rate, burst, clock.clone()))
        });
        let auth_failures = (config.auth_failure_burst > 0).then(|| {
            Arc::new(crate::auth::RateLimiter::new(
                1,
                config.auth_failure_burst,
                clock.clone(),
            ))
        });
        let state = AppState {
            inbox: Inbox::start(pool.clone()),
            pool,
            applier,
            catalog,
            secret: Arc::new(secret),
            api_token: config.api_token,
            clock,
            billing,
            clerk_secret: clerk_secret.map(Arc::new),
            rate_limiter,
            auth_failures,
        };
        Ok(Self {
            listener,
            state,
            scheduler,
            run_jobs: config.jobs,
            publisher,
            metrics,
            alerts,
            events,
        })
    }

    /// The scheduler of this replica's jobs (runs only when jobs are enabled).
    pub fn scheduler(&self) -> Arc<Scheduler> {
        Arc::clone(&self.scheduler)
    }

    /// The port the service listens on (the OS picks one for `:0`).
    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_default()
    }

    /// The port `/metrics` is served on, when `TOLLGATE_METRICS_LISTEN` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        let (listener, _) = self.metrics.as_ref()?;
        listener.local_addr().ok().map(|a| a.port())
    }

    /// The applier of this replica (runs with [`App::run`]).
    pub fn applier(&self) -> Applier {
        self.state.applier.clone()
    }

    /// The service's database pool.
    pub fn pool(&self) -> &PgPool {
        &self.state.pool
    }

    /// Serves until `shutdown` completes, applying and retrying webhooks and running the
    /// scheduled jobs in the background.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let applier = tokio::spawn(self.state.applier.clone().run_forever());
        let retry = tokio::spawn(webhooks::retry_forever(
            self.state.pool.clone(),
            Arc::clone(&self.state.catalog),
            self.state.clock.clone(),
        ));
        let scheduled = self
            .run_jobs
            .then(|| tokio::spawn(Scheduler::run_forever(Arc::clone(&self.scheduler))));
        // The trailing edge of usage coalescing: held-back snapshots catch up once their window
        // passes.
        let fresh = self.run_jobs.then(|| {
            let deps = crate::usage::Deps {
                pool: self.state.pool.clone(),
                catalog: Arc::clone(&self.state.catalog),
                polar: None,
            };
            tokio::spawn(jobs::usage_freshness::run_forever(
                deps,
                self.state.clock.clone(),
            ))
        });
        let published = self
            .publisher
            .map(|sink| tokio::spawn(publish::run_forever(self.state.pool.clone(), sink)));
        let mut monitoring = Vec::new();
        if let Some((listener, handle)) = self.metrics {
            let pool = self.state.pool.clone();
            monitoring.push(tokio::spawn(crate::metrics::server::sample_forever(
                pool,
                handle.clone(),
            )));
            monitoring.push(tokio::spawn(async move {
                if let Err(error) = crate::metrics::server::serve(listener, handle).await {
                    tracing::error!(error = %error, "the /metrics listener stopped");
                }
            }));
        }
        if let Some(sink) = self.alerts {
            let pool = self.state.pool.clone();
            monitoring.push(tokio::spawn(crate::alerts::run_forever(pool, sink)));
        }
        if let Some(sink) = self.events {
            let pool = self.state.pool.clone();
            monitoring.push(tokio::spawn(crate::events::deliver::run_forever(
                pool, sink,
            )));
        }
        let router = http::router(self.state);
        let served = axum::serve(
            self.listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        applier.abort();
        retry.abort();
        for task in [scheduled, fresh, published].into_iter().flatten() {
            task.abort();
        }
        for task in monitoring {
            task.abort();
        }
        served
    }

    /// Serves until the process is asked to stop.
    pub async fn run(self) -> std::io::Result<()> {
        self.run_until(std::future::pending()).await
    }
}

/// The Polar API client `polar` describes, or `None` without an organization token.
pub(crate) fn polar_client(
    polar: &PolarConfig,
    clock: &Clock,
) -> Result<Option<PolarClient>, StartupError> {
    let Some(token) = &polar.organization_token else {
        return Ok(None);
    };
    let config = ClientConfig::new(polar.base_url(), token.clone());
    PolarClient::with_clock(config, clock.clone())
        .map(Some)
        .map_err(StartupError::PolarClient)
}

/// Reads and parses the catalog at `path`.
pub fn load_catalog(path: &Path) -> Result<Catalog, StartupError> {
    let text = std::fs::read_to_string(path).map_err(|source| StartupError::CatalogUnreadable {
        path: path.to_owned(),
        source,
    })?;
    Catalog::parse(&text).map_err(|error| StartupError::CatalogInvalid {
        path: path.to_owned(),
        code: error.code(),
        message: error.to_string(),
    })
}

/// Opens a pool on `url`, failing fast when the database is unreachable.
///
/// Connections are not pinged before each use: that would add a round trip to every webhook,
/// and a connection that died (say, with a Postgres restart) fails its first query, is
/// discarded, and the request answers 500, which Polar retries.
pub(crate) async fn connect(
    url: &secrecy::SecretString,
    max_connections: u32,
) -> Result<PgPool, StartupError> {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(5))
        .connect(url.expose_secret())
        .await
        .map_err(StartupError::Database)
}
