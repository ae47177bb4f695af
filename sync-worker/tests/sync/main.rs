//! The sync worker end to end, as one test binary: a real service on a fresh PostgreSQL
//! database per test, Polar's webhooks signed like Polar signs them and sent over HTTP, the Polar
//! simulator in process for reconciliation and overage, and stand-ins for Workers KV's sinks.

// clippy.toml lets `#[test]` functions unwrap and panic; this lets their helpers too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod admin;
mod analytics;
mod applier;
mod billing;
mod contract;
mod events;
mod leases;
mod monitoring;
mod openapi;
mod publish;
mod reconcile;
mod scheduler;
mod secrets;
mod support;
mod usage;
mod webhooks;
