//! A snapshot compiled for checking: parse once, then answer many checks without allocating.
//!
//! `Gate::new` resolves every name in the snapshot to an index (plans in rank order, features
//! sorted by key, subscriptions in tie-break order), so `check` only compares integers and
//! walks a few short slices.

mod check;

pub use check::Request;
mod feature;

pub(crate) use feature::{CompiledFeature, Provision};

use crate::catalog::PlanIndex;
use crate::decision::PlanEntry;
use crate::entitlement::{Standing, Term, standing_at, tie_break};
use crate::order::sorted_by;
use crate::period::{Period, feature_period};
use crate::snapshot::{SCHEMA, Snapshot, SnapshotError};
use crate::time::Timestamp;

/// One customer's snapshot, ready to check.
#[derive(Clone, Debug)]
pub struct Gate {
    customer: String,
    revision: u64,
    issued_at: Timestamp,
    stale_after: Timestamp,
    /// Rank order, lowest first; `PlanEntry::index` is the position here.
    plans: Vec<PlanEntry>,
    default_plan: PlanIndex,
    /// In [`tie_break`] order.
    terms: Vec<Term>,
    /// Indices of `terms` that can explain a refusal, highest plan first, latest end first.
    ended: Vec<usize>,
    /// Sorted by key. `resolve` scans it: a catalog has tens of features, `str` equality
    /// rejects most keys on their length alone, and no hash table joins the WebAssembly module.
    features: Vec<CompiledFeature>,
}

/// A feature name resolved against one gate, for callers that check the same feature often.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeatureRef(Option<u32>);

impl FeatureRef {
    /// A feature the snapshot does not know.
    pub const UNKNOWN: FeatureRef = FeatureRef(None);

    /// The feature's position in the gate, or `None` when unknown.
    pub fn index(self) -> Option<u32> {
        self.0
    }
}

impl Gate {
    pub fn new(snapshot: &Snapshot) -> Result<Gate, SnapshotError> {
        if snapshot.schema != SCHEMA {
            return Err(SnapshotError::UnsupportedSchema {
                found: snapshot.schema,
            });
        }
        let ranked = sorted_by(snapshot.plans.iter().collect(), |a, b| a.rank.cmp(&b.rank));
        let plans: Vec<PlanEntry> = ranked
            .into_iter()
            .enumerate()
            .map(|(index, p)| PlanEntry {
                key: p.key.clone(),
                name: p.name.clone(),
                rank: p.rank,
                index: PlanIndex::new(index),
            })
            .collect();
        let plan_index = |key: &str| {
            plans
                .iter()
                .position(|p| p.key == key)
                .map(PlanIndex::new)
                .ok_or_else(|| SnapshotError::UnknownPlan(key.to_owned()))
        };
        let default_plan = plan_index(&snapshot.default_plan)?;

        let subscriptions = sorted_by(snapshot.subscriptions.iter().collect(), |a, b| {
            tie_break(a, b)
        });
        let terms = subscriptions
            .into_iter()
            .map(|sub| {
                Ok(Term::new(
                    sub,
                    sub.plan.as_deref().map(plan_index).transpose()?,
                ))
            })
            .collect::<Result<Vec<_>, SnapshotError>>()?;
        let ended: Vec<usize> = (0..terms.len())
            .filter(|&i| {
                terms
                    .get(i)
                    .is_some_and(|t| t.plan.is_some() && t.ended_at().is_some())
            })
            .collect();
        let ended = sorted_by(ended, |&a, &b| {
            let key = |i: usize| {
                let term = terms.get(i);
                (term.and_then(|t| t.plan), term.and_then(Term::ended_at))
            };
            key(b).cmp(&key(a))
        });

        let features = snapshot
            .features
            .iter()
            .map(|(key, f)| {
                let by_plan = plans.iter().map(|p| f.plans.get(&p.key).copied()).collect();
                if let Some(unknown) = f.plans.keys().find(|k| plan_index(k).is_err()) {
                    return Err(SnapshotError::UnknownPlan(unknown.clone()));
                }
                Ok(CompiledFeature::new(
                    key,
                    f.kind,
                    f.reset,
                    f.on_stale,
                    (f.used.unwrap_or(0), f.period_start),
                    by_plan,
                    f.grants.clone(),
                ))
            })
            .collect::<Result<Vec<_>, SnapshotError>>()?;

        Ok(Gate {
            customer: snapshot.customer.clone(),
            revision: snapshot.revision,
            issued_at: snapshot.issued_at,
            stale_after: snapshot.stale_after,
            plans,
            default_plan,
            terms,
            ended,
            features,
        })
    }

    /// Parses and compiles a snapshot's JSON.
    pub fn from_json(json: &str) -> Result<Gate, SnapshotError> {
        Gate::new(&Snapshot::from_json(json)?)
    }

    pub fn customer(&self) -> &str {
        &self.customer
    }

    pub fn revision(&self) -> u64 {
        self.revision
    }

    pub fn issued_at(&self) -> Timestamp {
        self.issued_at
    }

    pub fn stale_after(&self) -> Timestamp {
        self.stale_after
    }

    /// Plans in rank order, lowest first.
    pub fn plans(&self) -> &[PlanEntry] {
        &self.plans
    }

    /// Feature keys, in the order `FeatureRef::index` counts them.
    pub fn feature_keys(&self) -> impl Iterator<Item = &str> {
        self.features.iter().map(|f| &*f.key)
    }

    /// Resolves a feature name once, for repeated `check_ref` calls.
    ///
    /// A catalog has tens of features: scanning their names is as fast as hashing at that size
    /// (19–40 ns for a whole check by name, docs/benchmarks.md) and keeps a hash table out of the
    /// size-budgeted wasm module.
    pub fn resolve(&self, feature: &str) -> FeatureRef {
        let found = self.features.iter().position(|f| *f.key == *feature);
        FeatureRef(found.and_then(|i| u32::try_from(i).ok()))
    }

    /// The effective plan at `now`, and the plan entry that names it.
    pub fn plan_at(&self, now: Timestamp) -> &PlanEntry {
        self.plan_entry(self.standing_at(now).plan)
    }

    /// The period a metered feature counts in at `now` (as `check` judges `used` and
    /// `resetsAt`); `None` for other and unknown features.
    pub fn period(&self, feature: &str, now: Timestamp) -> Option<Period> {
        let feature = self
            .resolve(feature)
            .0
            .and_then(|i| self.features.get(i as usize))?;
        self.period_of(feature, self.standing_at(now), now)
    }

    pub(crate) fn standing_at(&self, now: Timestamp) -> Standing {
        standing_at(&self.terms, self.default_plan, now)
    }

    fn period_of(
        &self,
        feature: &CompiledFeature,
        standing: Standing,
        now: Timestamp,
    ) -> Option<Period> {
        let source = standing.source.and_then(|i| self.terms.get(i));
        feature_period(feature.kind, feature.reset, source, now)
    }

    #[expect(
        clippy::indexing_slicing,
        reason = "plan indices are resolved against `plans` in `new`"
    )]
    fn plan_entry(&self, index: PlanIndex) -> &PlanEntry {
        &self.plans[index.get()]
    }
}
