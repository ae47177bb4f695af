//! # tollgate-gate
//!
//! tollgate's entitlement engine: *may this customer do this now, and how much is left?*
//!
//! Pure Rust — no I/O, no clock, no randomness: time is an argument. The same crate runs natively
//! in the sync worker and the edge worker, and as WebAssembly in Node, Next.js and Cloudflare
//! Workers (the `js` feature adds the wasm-bindgen face).
//!
//! Three steps:
//! 1. [`Catalog::parse`] reads the operator's plans (TOML) and rejects mistakes, naming the place.
//! 2. [`build_snapshot`] applies the status rules to a customer's [`Account`] (Polar subscriptions,
//!    usage, gauges, grants) and gives a [`Snapshot`]: one JSON document with everything the edge needs.
//! 3. [`Gate::new`] compiles a snapshot once; [`Gate::check`] then answers in well under a
//!    microsecond, without allocating, with a [`Decision`]: allowed, reason, limit, used,
//!    remaining, reset time, overage, warning and upgrade hint.
//!
//! ```
//! use tollgate_gate::{Account, Catalog, Gate, Timestamp, build_snapshot};
//!
//! let catalog = Catalog::parse(include_str!("../../examples/catalog.toml"))?;
//! let account: Account = serde_json::from_str(r#"{ "customer": "user_123", "usage": { "api_calls": 999 } }"#)?;
//! let now = Timestamp::parse("2026-11-25T10:00:00Z")?;
//!
//! let gate = Gate::new(&build_snapshot(&catalog, &account, now))?;
//! let decision = gate.check("api_calls", 1, now);
//! assert!(decision.allowed);
//! assert_eq!(decision.remaining, Some(0));
//!
//! let refused = gate.check("api_calls", 2, now);
//! assert_eq!(refused.reason.as_str(), "limit_reached");
//! assert_eq!(refused.upgrade.map(|p| p.key()), Some("premium"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The rules, precisely: `docs/engine-rules.md`.

mod account;
mod catalog;
mod decision;
mod entitlement;
mod gate;
mod order;
mod period;
pub mod polar;
mod quantity;
mod snapshot;
mod time;

#[cfg(feature = "js")]
mod js;

pub use account::{Account, Grant, GrantAmount};
pub use catalog::{
    Catalog, CatalogError, Feature, FeatureType, OnStale, Overage, Plan, PlanIndex, PlanLimit,
    Reset,
};
pub use decision::{Decision, PlanEntry, Reason, Warning};
pub use gate::{FeatureRef, Gate, Request};
pub use period::{MeteredPeriods, Period, metered_periods};
pub use quantity::{Allowance, Limit, WarnAt};
pub use snapshot::{
    PlanRef, SCHEMA, Snapshot, SnapshotError, SnapshotFeature, SnapshotGrant, SnapshotPlan,
    SnapshotSubscription, SnapshotWarning, build_snapshot,
};
pub use time::{TimeError, Timestamp};
