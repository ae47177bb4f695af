//! Polar's webhooks, from a verified request to the database.
//!
//! A delivery's path, one room each:
//!
//! 1. [`inbox`]: the verified delivery is stored once by its `webhook-id` (`pending`) and
//!    answered at once;
//! 2. [`applier`]: lanes by customer take stored deliveries in the background, in batches
//!    ([`batch`]: one transaction per batch, each affected snapshot rebuilt once);
//! 3. [`apply`]: each event's objects go into their tables under the newer-version rule;
//! 4. [`retry`] retries a delivery whose apply failed, with backoff, forever; [`replay`]
//!    re-applies one by hand.
//!
//! A delivery's fate is one [`Status`]: `pending` → `applied` | `stale` | `ignored` |
//! `failed` (→ retried). Signature checks are [`crate::signature`]'s; the HTTP handler is in
//! the HTTP module. ADR 3 (`docs/adr/0003-webhooks-applied-in-the-background.md`) records why
//! deliveries are acknowledged before they are applied.

mod applier;
mod apply;
mod batch;
mod inbox;
mod replay;
mod retry;

pub use crate::db::webhook_events::Status;
pub use applier::Applier;
#[cfg(feature = "fuzzing")]
pub(crate) use apply::embedded_ids;
pub(crate) use apply::{ApplyError, apply_and_rebuild};
pub use inbox::{Inbox, InboxError, Stored};
pub use replay::replay;
pub(crate) use replay::replay_audited;
pub(crate) use retry::run_forever as retry_forever;
pub use retry::run_once as retry_due;
