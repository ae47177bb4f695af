//! Snapshots in Workers KV, and the isolate's cache of compiled ones.
//!
//! KV holds `ent:v1:<customer>` → the snapshot JSON exactly as `build_snapshot` writes it. A
//! snapshot is decoded, its schema and customer checked, and compiled into a
//! [`tollgate_gate::Gate`] once per (customer, revision); requests then read the compiled
//! form from isolate memory (see [`cache`]). KV is read at most once per request, with a
//! `cacheTtl`, and usually not at all: a cached snapshot older than the refresh age is served
//! while a background read brings the next one (stale-while-revalidate).

pub mod cache;
pub mod kv;

use std::rc::Rc;

use tollgate_gate::{Gate, OnStale, SCHEMA, Snapshot, SnapshotError, Timestamp};

use crate::policy::FailurePolicy;

/// The KV key of a customer's snapshot.
pub fn snapshot_key(customer: &str) -> String {
    format!("ent:v1:{customer}")
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("snapshot for `{customer}`: {source}")]
    Invalid {
        customer: String,
        source: SnapshotError,
    },
    #[error("KV holds the snapshot of `{found}` under the key of `{expected}`")]
    WrongCustomer { expected: String, found: String },
    #[error("KV could not be read: {0}")]
    Kv(String),
}

/// One customer's snapshot, compiled.
#[derive(Debug)]
pub struct Compiled {
    pub gate: Gate,
    /// Features whose catalog `on_stale` is not the default, as the engine applies it.
    on_stale: Vec<(String, FailurePolicy)>,
    /// Exact features and the units each leases at a time (the snapshot's `lease`).
    leases: Vec<(String, u64)>,
}

impl Compiled {
    /// Decodes and compiles snapshot JSON read for `customer`.
    pub fn from_json(customer: &str, json: &str) -> Result<Rc<Self>, StoreError> {
        let invalid = |source| StoreError::Invalid {
            customer: customer.to_owned(),
            source,
        };
        let snapshot = Snapshot::from_json(json).map_err(invalid)?;
        if snapshot.schema != SCHEMA {
            return Err(invalid(SnapshotError::UnsupportedSchema {
                found: snapshot.schema,
            }));
        }
        if snapshot.customer != customer {
            return Err(StoreError::WrongCustomer {
                expected: customer.to_owned(),
                found: snapshot.customer,
            });
        }
        Self::new(&snapshot).map_err(invalid)
    }

    pub fn new(snapshot: &Snapshot) -> Result<Rc<Self>, SnapshotError> {
        let gate = Gate::new(snapshot)?;
        let on_stale = snapshot
            .features
            .iter()
            .filter(|(_, f)| f.on_stale != OnStale::LastKnownGood)
            .map(|(k, f)| (k.clone(), FailurePolicy::from(f.on_stale)))
            .collect();
        let leases = snapshot
            .features
            .iter()
            .filter_map(|(k, f)| Some((k.clone(), f.lease?)))
            .collect();
        Ok(Rc::new(Self {
            gate,
            on_stale,
            leases,
        }))
    }

    pub fn revision(&self) -> u64 {
        self.gate.revision()
    }

    pub fn customer(&self) -> &str {
        self.gate.customer()
    }

    /// The `on_stale` policy the engine applies to this feature once the snapshot is stale.
    pub fn on_stale(&self, feature: &str) -> FailurePolicy {
        self.on_stale
            .iter()
            .find(|(k, _)| k == feature)
            .map_or(FailurePolicy::LastKnownGood, |(_, p)| *p)
    }

    /// The units an exact feature leases at a time; `None` for every other feature.
    pub fn lease(&self, feature: &str) -> Option<u64> {
        self.leases
            .iter()
            .find(|(k, _)| k == feature)
            .map(|(_, n)| *n)
    }

    pub fn is_stale(&self, now: Timestamp) -> bool {
        now >= self.gate.stale_after()
    }
}

/// Just enough of a snapshot to order it against another: read before anything is compiled.
#[derive(Debug, serde::Deserialize)]
pub struct SnapshotHeader {
    pub schema: u32,
    pub customer: String,
    pub revision: u64,
}

impl SnapshotHeader {
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }
}
