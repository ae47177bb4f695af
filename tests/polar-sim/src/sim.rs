//! Starting a simulator and driving it from Rust.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::clock::SimClock;
use crate::error::SimError;
use crate::lifecycle::Emitter;
use crate::lifecycle::subscriptions::Proration;
use crate::ratelimit::{Limiter, RateLimit};
use crate::scenario::{self, Action, Outcome, Scenario};
use crate::store::State;
use crate::webhook::delivery::DeliveryError;
use crate::webhook::{DeliveryConfig, Endpoint, EventRecord, FaultRule, Webhooks};
use crate::{api, control, seed};

/// How to start a simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The organization access token clients must send as `Authorization: Bearer …`.
    pub access_token: String,
    /// The simulated clock's start (default: now).
    pub clock_start: Option<DateTime<Utc>>,
    /// Load the demo catalog and customers.
    pub seed_demo: bool,
    /// Load only the demo catalog (products, benefits, meter).
    pub seed_catalog: bool,
    /// Where webhooks go.
    pub webhook: Option<Endpoint>,
    pub delivery: DeliveryConfig,
    pub rate_limit: RateLimit,
    /// The proration used when an update names none (Polar: the organization's setting).
    pub default_proration: Proration,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            access_token: format!("polar_oat_sim_{}", crate::token::random_token(32)),
            clock_start: None,
            seed_demo: false,
            seed_catalog: false,
            webhook: None,
            delivery: DeliveryConfig::default(),
            rate_limit: RateLimit::default(),
            default_proration: Proration::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Webhooks(#[from] DeliveryError),
    #[error("could not seed the demo data: {0}")]
    Seed(#[from] SimError),
}

/// What the HTTP layers share.
#[derive(Debug)]
pub struct Shared {
    state: Mutex<State>,
    pub(crate) webhooks: Webhooks,
    token: String,
    limiter: Mutex<Limiter>,
    requests: Mutex<BTreeMap<String, u64>>,
    default_proration: Proration,
    api_faults: Mutex<crate::api_faults::ApiFaults>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&lock(&self.state))
    }

    /// Runs a change; on success queues its webhooks (none if `silent`) while still holding the
    /// state, so events of concurrent changes are queued in the order the changes happened.
    pub(crate) fn apply<T>(
        &self,
        silent: bool,
        f: impl FnOnce(&mut State, &mut Emitter) -> Result<T, SimError>,
    ) -> Result<T, SimError> {
        self.apply_traced(silent, f).map(|(out, _)| out)
    }

    /// Like `apply`, also returning the types of the webhooks sent.
    fn apply_traced<T>(
        &self,
        silent: bool,
        f: impl FnOnce(&mut State, &mut Emitter) -> Result<T, SimError>,
    ) -> Result<(T, Vec<String>), SimError> {
        let mut st = lock(&self.state);
        let mut em = if silent {
            Emitter::silent()
        } else {
            Emitter::new()
        };
        let out = f(&mut st, &mut em)?;
        let events = em.finish(&mut st);
        self.webhooks.set_sim_now(st.clock.now());
        Ok((out, self.webhooks.enqueue(events)))
    }

    pub(crate) fn run(&self, scenario: Scenario) -> Result<Outcome, SimError> {
        let (object, events) = self.apply_traced(scenario.silent, |st, em| {
            scenario::run(st, em, scenario.action)
        })?;
        Ok(Outcome { object, events })
    }

    pub(crate) fn token_matches(&self, token: &str) -> bool {
        // Not a secret worth a constant-time comparison: the simulator guards nothing.
        token == self.token
    }

    pub(crate) fn check_rate_limit(&self, token: &str) -> Result<(), u64> {
        lock(&self.limiter).check(token, Instant::now())
    }

    pub(crate) fn set_rate_limit(&self, limit: RateLimit) {
        lock(&self.limiter).set_limit(limit);
    }

    pub(crate) fn throttle(&self, requests: u32, retry_after: u64) {
        lock(&self.limiter).throttle(requests, retry_after);
    }

    pub(crate) fn api_faults(&self) -> MutexGuard<'_, crate::api_faults::ApiFaults> {
        lock(&self.api_faults)
    }

    pub(crate) fn count_request(&self, method: &str, route: &str) {
        // Both spellings of a list path are one route.
        let route = route.strip_suffix('/').unwrap_or(route);
        *lock(&self.requests)
            .entry(format!("{method} {route}"))
            .or_default() += 1;
    }

    pub(crate) fn request_counts(&self) -> BTreeMap<String, u64> {
        lock(&self.requests).clone()
    }

    pub(crate) fn reset_request_counts(&self) {
        lock(&self.requests).clear();
    }

    pub(crate) fn default_proration(&self) -> Proration {
        self.default_proration
    }
}

/// The simulator.
#[derive(Debug)]
pub struct Sim;

impl Sim {
    /// Starts a simulator on the current Tokio runtime.
    pub async fn start(config: SimConfig) -> Result<SimHandle, StartError> {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
        let base_url = format!("http://{addr}");
        let mut state = State::new(
            SimClock::new(config.clock_start.unwrap_or_else(Utc::now)),
            base_url.clone(),
        );
        if config.seed_demo {
            seed::demo(&mut state)?;
        } else if config.seed_catalog {
            seed::demo_catalog(&mut state);
        }
        let clock_now = state.clock.now();
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            webhooks: Webhooks::start(config.delivery, config.webhook)?,
            token: config.access_token,
            limiter: Mutex::new(Limiter::new(config.rate_limit)),
            requests: Mutex::new(BTreeMap::new()),
            default_proration: config.default_proration,
            api_faults: Mutex::default(),
        });
        shared.webhooks.set_sim_now(clock_now);
        let app = api::router(shared.clone()).merge(control::router(shared.clone()));
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "the simulator's server stopped");
            }
        });
        Ok(SimHandle {
            shared,
            addr,
            base_url,
            shutdown: Some(tx),
            task: Some(task),
        })
    }
}

/// A running simulator. Dropping it stops the server.
#[derive(Debug)]
pub struct SimHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    base_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl SimHandle {
    /// `http://127.0.0.1:PORT` — the API is under `/v1`, like Polar's server URLs.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The token clients must send.
    pub fn access_token(&self) -> &str {
        &self.shared.token
    }

    pub fn organization_id(&self) -> uuid::Uuid {
        self.shared.read(|st| st.organization_id)
    }

    /// Runs a scenario step (see [`Action`]); webhooks are queued before this returns.
    pub fn run(&self, scenario: impl Into<Scenario>) -> Result<Outcome, SimError> {
        self.shared.run(scenario.into())
    }

    /// Runs a step without sending any webhook (drift).
    pub fn drift(&self, action: Action) -> Result<Outcome, SimError> {
        self.shared.run(Scenario::silent(action))
    }

    /// A customer with this `external_id` (and a derived email).
    pub fn create_customer(&self, external_id: &str) -> Result<Value, SimError> {
        let action = Action::CreateCustomer {
            external_id: Some(external_id.to_owned()),
            email: None,
            name: None,
            metadata: serde_json::Map::new(),
        };
        self.run(action).map(|o| o.object)
    }

    /// Buys `product` (UUID, plan key or name) for `customer` (UUID or `external_id`, created
    /// if unknown) through a checkout; returns the subscription.
    pub fn subscribe(&self, customer: &str, product: &str) -> Result<Value, SimError> {
        let action = Action::Subscribe {
            customer: customer.to_owned(),
            product: product.to_owned(),
            trial_days: None,
            direct: false,
        };
        self.run(action).map(|o| o.object)
    }

    /// The simulated time.
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.read(|st| st.clock.now())
    }

    /// Moves the clock forward, renewing and ending subscriptions on the way.
    pub fn advance(&self, by: chrono::Duration) -> Result<Outcome, SimError> {
        let to = self.now() + by;
        self.run(Action::Advance {
            days: 0,
            hours: 0,
            seconds: 0,
            to: Some(to),
        })
    }

    /// Sets (or removes) the webhook endpoint.
    pub fn set_webhook_endpoint(&self, endpoint: Option<Endpoint>) -> Result<(), DeliveryError> {
        self.shared.webhooks.set_endpoint(endpoint)
    }

    pub fn add_fault(&self, rule: FaultRule) {
        self.shared.webhooks.add_fault(rule);
    }

    pub fn clear_faults(&self) {
        self.shared.webhooks.clear_faults();
    }

    /// Every webhook event so far, oldest first.
    pub fn webhook_events(&self) -> Vec<EventRecord> {
        self.shared.webhooks.events()
    }

    /// Every delivery attempt so far, in the order made.
    pub fn webhook_attempts(&self) -> Vec<crate::webhook::Attempt> {
        self.shared.webhooks.attempts()
    }

    /// Releases held events and waits until every queued event is delivered, failed or dropped.
    pub async fn webhooks_settled(&self) {
        self.shared.webhooks.settled().await;
    }

    pub fn set_rate_limit(&self, limit: RateLimit) {
        self.shared.set_rate_limit(limit);
    }

    /// Refuses the next `requests` API requests with 429 and `retry-after: retry_after`.
    pub fn throttle(&self, requests: u32, retry_after: u64) {
        self.shared.throttle(requests, retry_after);
    }

    /// Makes the next matching API requests fail with the rule's status (see
    /// [`crate::api_faults`]).
    pub fn fail_requests(&self, rule: crate::api_faults::ApiFault) {
        self.shared.api_faults().add(rule);
    }

    /// Removes every API fault rule.
    pub fn clear_request_faults(&self) {
        self.shared.api_faults().clear();
    }

    /// API requests served, by `"METHOD /route"`.
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        self.shared.request_counts()
    }

    pub fn reset_request_counts(&self) {
        self.shared.reset_request_counts();
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
