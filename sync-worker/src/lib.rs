//! tollgate's sync worker: Polar webhooks into PostgreSQL, entitlement snapshots out.
//!
//! The service verifies Polar's signed webhooks, stores each delivery once by its
//! `webhook-id`, applies it in the background so that an older version of an object never
//! overwrites a newer one, and rebuilds the affected customers' snapshots with the engine
//! (`tollgate_gate`). Apps read
//! snapshots and decisions from the `/v1` API, and sell through Polar with it (customers,
//! checkouts, the portal, plan changes, cancellation, refunds, invoice history), each call
//! under a token's role ([`auth`]) and, when it changes something, an idempotency key
//! ([`idempotency`]) and an audit row.
//!
//! ```no_run
//! # async fn demo(config: tollgate_sync::config::Config) -> Result<(), Box<dyn std::error::Error>> {
//! let app = tollgate_sync::App::build(config).await?; // connects, migrates, binds
//! println!("listening on port {}", app.port());
//! app.run().await?;
//! # Ok(()) }
//! ```

mod account;
mod admin;
mod alerts;
mod analytics;
pub mod app;
pub mod auth;
mod billing;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
mod digest;
mod error;
mod events;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod health;
mod http;
pub mod idempotency;
pub mod jobs;
mod leases;
mod metrics;
mod pace;
pub mod polar;
pub mod polar_client;
pub mod publish;
pub mod reconcile;
pub mod signature;
pub mod snapshot;
mod text;
pub mod usage;
pub mod webhooks;

// The modules above are the crate's own; their items are `pub(crate)` unless the binary, the
// tests or the benchmarks use them, which is what makes unused code a warning.
pub use app::{App, StartupError};
pub use clock::Clock;
pub use config::Config;
