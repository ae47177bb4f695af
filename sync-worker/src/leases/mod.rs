//! Allowance leases of exact features: how the edge spends a `block` limit exactly across
//! every isolate (`POST /v1/leases`, `POST /v1/leases/{id}/settle`, the `lease_expiry` job).
//!
//! The algorithm. A metered period's budget is `limit + grants − used − open`, where `used` is
//! the period's counter and `open` the units of leases not yet settled: an open lease counts as
//! fully spent until its holder says otherwise. Every change of that budget takes the counter's
//! row lock first (`db::usage_counters::lock`), so grants, settlements and `consume` calls on
//! one counter run one after another, each on the budget the previous one left:
//!
//! 1. **Grant** ([`grant`]): lock the counter, settle its expired leases as fully used, sum the
//!    open leases, let the engine judge the period at `used + open` (the customer's own
//!    snapshot rules: plan, grants, status), and record a lease of `min(want, remaining)`
//!    units with an expiry. Two concurrent grants cannot both take the same units.
//! 2. **Settle** ([`settle`]): lock the counter, then the lease; an open lease is marked settled
//!    with the units its holder used, which are added to the counter and recorded as one usage
//!    event (`lease:<id>`) in the same transaction; the rest returns to the budget. A lease
//!    already settled answers as it was settled, so a retried settlement counts once.
//! 3. **Expiry** (`jobs::lease_expiry`, and step 1 for its own counter): a lease open past its
//!    expiry is settled as fully used — its holder may have spent all of it, and undercounting
//!    would let the period run past its limit.
//!
//! Locks are always taken counter first, then lease, so none of the three can deadlock.

mod grant;
mod settle;

pub(crate) use grant::{Grant, Granted, grant};
pub(crate) use settle::{Settled, settle, settle_expired};

use std::time::Duration;

/// How long a lease lasts unless the request asks otherwise.
pub(crate) const DEFAULT_TTL: Duration = Duration::from_secs(300);
/// The longest lease a request may ask for.
pub(crate) const MAX_TTL: Duration = Duration::from_secs(3600);

/// Why a lease request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LeaseError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Usage(#[from] crate::usage::UsageError),
    #[error("a decision could not be serialised: {0}")]
    Serialize(#[from] serde_json::Error),
    /// The caller's input, refused: nothing changed.
    #[error("{1}")]
    Refused(Refusal, String),
}

/// A refusal of the caller's input, with its stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    UnknownFeature,
    NotExact,
    UnknownLease,
    InvalidUsed,
}

impl Refusal {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Refusal::UnknownFeature => "unknown_feature",
            Refusal::NotExact => "not_exact",
            Refusal::UnknownLease => "unknown_lease",
            Refusal::InvalidUsed => "invalid_used",
        }
    }
}

fn refused(refusal: Refusal, message: String) -> LeaseError {
    LeaseError::Refused(refusal, message)
}
