//! The plan catalog: the operator's features and plans, parsed once from TOML and validated.
//!
//! A catalog is plans as code. `Catalog::parse` rejects anything it cannot read with certainty
//! (an unknown feature, a repeated rank, a boolean given a number, a size that does not parse),
//! naming the place, because a typo in a billing catalog is a customer charged or blocked wrongly.

mod error;
mod parse;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use error::CatalogError;

use crate::polar::{Product, Subscription};
use crate::quantity::{Allowance, WarnAt};

/// The operator's catalog of features and plans.
#[derive(Clone, Debug, PartialEq)]
pub struct Catalog {
    /// Sorted by key.
    features: Vec<Feature>,
    /// Sorted by rank, lowest first.
    plans: Vec<Plan>,
    default_plan: PlanIndex,
    stale_after_hours: u32,
}

/// A plan's position in rank order, lowest first. Plans are looked up by position, not by key,
/// wherever the engine compares them: a higher index is a better plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PlanIndex(usize);

impl PlanIndex {
    pub(crate) const fn new(index: usize) -> PlanIndex {
        PlanIndex(index)
    }

    /// The position, lowest rank first.
    pub const fn get(self) -> usize {
        self.0
    }
}

/// A feature the app gates.
#[derive(Clone, Debug, PartialEq)]
pub struct Feature {
    pub key: String,
    pub kind: FeatureType,
    /// Metered features only.
    pub reset: Option<Reset>,
    pub unit: Option<String>,
    pub on_stale: OnStale,
    /// Metered features only: spent at the edge from allowances leased from the sync worker,
    /// so a `block` limit holds across isolates (`exact = true`).
    pub exact: bool,
    /// Exact features: the units the edge leases at a time, when the catalog sets `lease`;
    /// otherwise [`Feature::lease_for`] derives it from the limit.
    pub lease: Option<u64>,
}

impl Feature {
    /// The units an exact feature leases at a time under `limit`: the catalog's `lease`, else
    /// 5 % of a finite limit (at least 1), else [`DEFAULT_UNLIMITED_LEASE`]. `None` when the
    /// feature is not exact.
    pub fn lease_for(&self, limit: Option<Allowance>) -> Option<u64> {
        if !self.exact {
            return None;
        }
        Some(self.lease.unwrap_or(match limit {
            Some(Allowance::Units(crate::Limit::Finite(n))) => (n / 20).max(1),
            _ => DEFAULT_UNLIMITED_LEASE,
        }))
    }
}

/// The lease of an exact feature without a `lease` and without a finite limit.
pub const DEFAULT_UNLIMITED_LEASE: u64 = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureType {
    /// A level the app reports (projects, seats, bytes stored).
    Gauge,
    /// A count of uses in a period (API calls a month).
    Metered,
    /// On or off.
    Boolean,
}

/// When a metered feature's count starts again from zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reset {
    BillingPeriod,
    Month,
    Day,
    Never,
}

/// How a feature answers once its snapshot is past `stale_after`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnStale {
    #[default]
    LastKnownGood,
    Open,
    Closed,
}

/// What happens to a request beyond a limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overage {
    #[default]
    Block,
    Bill,
    Warn,
}

impl Overage {
    pub(crate) fn is_block(&self) -> bool {
        *self == Overage::Block
    }
}

/// A plan a customer can be on.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub key: String,
    pub name: String,
    pub rank: i64,
    pub polar_products: Vec<String>,
    /// Product metadata that selects this plan; values are compared as strings.
    pub polar_metadata: BTreeMap<String, String>,
    /// How long `past_due` keeps the plan after the period end.
    pub grace_days: u32,
    /// The features this plan includes, by feature key.
    pub limits: BTreeMap<String, PlanLimit>,
}

/// What one plan allows of one feature.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanLimit {
    /// With `seats`, the units at issue for readers that predate seat limits (0 in a catalog).
    pub limit: Allowance,
    #[serde(default, skip_serializing_if = "Overage::is_block")]
    pub overage: Overage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn_at: Option<WarnAt>,
    /// The limit is the entitling subscription's units (catalog `"seats"`), not `limit`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub seats: bool,
}

/// serde's `skip_serializing_if` passes a reference.
fn is_false(value: &bool) -> bool {
    !*value
}

impl Catalog {
    /// Parses and validates a catalog in the TOML format of DESIGN.md.
    pub fn parse(toml: &str) -> Result<Catalog, CatalogError> {
        parse::parse(toml)
    }

    pub fn features(&self) -> &[Feature] {
        &self.features
    }

    pub fn feature(&self, key: &str) -> Option<&Feature> {
        self.features
            .binary_search_by(|f| f.key.as_str().cmp(key))
            .ok()
            .and_then(|i| self.features.get(i))
    }

    /// Plans by rank, lowest first.
    pub fn plans(&self) -> &[Plan] {
        &self.plans
    }

    pub fn plan(&self, key: &str) -> Option<&Plan> {
        self.plans.iter().find(|p| p.key == key)
    }

    #[expect(
        clippy::indexing_slicing,
        reason = "`default_plan` is validated at parse time"
    )]
    pub fn default_plan(&self) -> &Plan {
        &self.plans[self.default_plan.get()]
    }

    pub(crate) fn default_plan_index(&self) -> PlanIndex {
        self.default_plan
    }

    pub fn stale_after_hours(&self) -> u32 {
        self.stale_after_hours
    }

    /// The index (in rank order) of the plan a subscription's product selects: the highest-ranked
    /// plan that lists the product id or whose metadata pairs all match the product's.
    pub(crate) fn plan_index_for(&self, subscription: &Subscription) -> Option<PlanIndex> {
        self.plans
            .iter()
            .enumerate()
            .rev()
            .find(|(_, plan)| plan.claims(subscription))
            .map(|(index, _)| PlanIndex::new(index))
    }

    pub(crate) fn plan_at(&self, index: PlanIndex) -> Option<&Plan> {
        self.plans.get(index.get())
    }

    /// The plan a Polar product sells, as a subscription to it would select: the
    /// highest-ranked plan that [sells](Plan::sells) it.
    pub fn plan_of_product(&self, product: &Product) -> Option<&Plan> {
        self.plans.iter().rev().find(|plan| plan.sells(product))
    }
}

impl Plan {
    /// Whether a feature of this plan takes its limit from the subscription's units.
    pub(crate) fn counts_seats(&self) -> bool {
        self.limits.values().any(|l| l.seats)
    }

    fn claims(&self, subscription: &Subscription) -> bool {
        self.polar_products.contains(&subscription.product_id)
            || subscription
                .product
                .as_ref()
                .is_some_and(|product| self.sells(product))
    }

    /// Whether this plan is sold as `product`: it lists the product's id, or the product's
    /// metadata holds every one of the plan's `polar_metadata` pairs (`2` and `"2"` alike).
    pub fn sells(&self, product: &Product) -> bool {
        self.polar_products.contains(&product.id)
            || (!self.polar_metadata.is_empty()
                && self.polar_metadata.iter().all(|(key, want)| {
                    product.metadata_text(key).as_deref() == Some(want.as_str())
                }))
    }
}

#[cfg(test)]
mod tests;
