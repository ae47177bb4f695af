//! An in-memory Polar for tests and local development.
//!
//! `polar-sim` speaks the parts of Polar's REST API that tollgate uses (products, customers,
//! subscriptions, orders, refunds, benefits and grants, customer state, checkouts, customer
//! sessions, event ingestion, customer meters) with Polar's pagination, filters, errors,
//! authentication and rate limit, and sends the webhooks Polar would — signed with either of
//! Polar's secret schemes, retried like Polar, and on demand duplicated, reordered, delayed or
//! dropped. Time is simulated, so renewals and period ends are deterministic.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use polar_sim::{Action, Sim, SimConfig};
//!
//! let sim = Sim::start(SimConfig { seed_catalog: true, ..SimConfig::default() }).await?;
//! // Point a Polar client at sim.base_url() with sim.access_token().
//! let sub = sim.subscribe("user_1", "premium")?;
//! sim.run(Action::Cancel { subscription: "user_1".into(), reason: None, comment: None })?;
//! sim.advance(chrono::Duration::days(31))?; // the period ends: subscription.revoked
//! sim.webhooks_settled().await;
//! # let _ = sub; Ok(()) }
//! ```

#![recursion_limit = "256"]

pub mod api;
pub mod api_faults;
pub mod clock;
pub mod control;
pub mod error;
pub mod lifecycle;
pub mod model;
pub mod ratelimit;
pub mod render;
pub mod scenario;
pub mod seed;
pub mod sim;
pub mod store;
pub mod token;
pub mod webhook;

pub use api_faults::ApiFault;
pub use error::SimError;
pub use lifecycle::subscriptions::{Payment, Proration};
pub use model::{DiscountDuration, DiscountOff, SubscriptionStatus};
pub use ratelimit::RateLimit;
pub use scenario::{Action, Outcome, Scenario};
pub use sim::{Sim, SimConfig, SimHandle, StartError};
pub use webhook::signing::{generate_secret, sign, signing_key};
pub use webhook::{
    DeliveryConfig, Endpoint, EventRecord, Fault, FaultRule, Outcome as DeliveryOutcome,
    SecretScheme,
};
