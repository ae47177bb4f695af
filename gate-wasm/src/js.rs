//! The engine's face for JavaScript (cargo feature `js`), wrapped by the npm package
//! `@tollgate/gate`.
//!
//! It only converts: TOML and JSON text in, JSON text and numbers out; every rule lives in the
//! engine. The hot path is shaped for speed across the JS/wasm boundary. A feature name is
//! resolved once to a small index (the wrapper caches it per name), and `check` takes that index,
//! the amount and `now` as plain numbers and writes the Decision as numbers into a per-gate
//! scratch block that the wrapper reads through a `Float64Array`. No string, object or
//! allocation crosses the boundary per check; the wrapper rebuilds the Decision's strings from
//! tables it reads once (`reasonCodes`, `warningCodes`, `WasmGate::plans`).

use std::cell::Cell;

use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::{
    Account, Catalog, Decision, FeatureRef, Gate, PlanEntry, Reason, Timestamp, Warning,
    build_snapshot,
};

// The module's allocator. The engine allocates little (parsing, building, compiling a gate;
// `check` not at all), so a smaller allocator than the default dlmalloc costs no speed that
// matters and keeps the module within its size budget.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// A failed call: the wrapper rethrows it as a JS `Error` with this `code` and `message`.
#[wasm_bindgen]
#[derive(Debug)]
pub struct ErrorReply {
    code: String,
    message: String,
}

#[wasm_bindgen]
impl ErrorReply {
    /// The stable, machine-readable error code.
    #[wasm_bindgen(getter)]
    pub fn code(&self) -> String {
        self.code.clone()
    }

    /// The message naming the problem.
    #[wasm_bindgen(getter)]
    pub fn message(&self) -> String {
        self.message.clone()
    }
}

impl ErrorReply {
    fn new(code: &str, message: impl ToString) -> Self {
        Self {
            code: code.to_owned(),
            message: message.to_string(),
        }
    }
}

/// A parsed and validated catalog.
#[wasm_bindgen]
#[derive(Debug)]
pub struct WasmCatalog {
    catalog: Catalog,
}

/// Parses and validates a catalog's TOML text.
#[wasm_bindgen(js_name = parseCatalog)]
pub fn parse_catalog(toml: &str) -> Result<WasmCatalog, ErrorReply> {
    Catalog::parse(toml)
        .map(|catalog| WasmCatalog { catalog })
        .map_err(|err| ErrorReply::new(err.code(), err))
}

#[wasm_bindgen]
impl WasmCatalog {
    /// Builds the snapshot of the account (JSON text) at `now_ms`, as JSON text.
    #[wasm_bindgen(js_name = buildSnapshot)]
    pub fn build_snapshot(&self, account_json: &str, now_ms: f64) -> Result<String, ErrorReply> {
        let account: Account = serde_json::from_str(account_json)
            .map_err(|err| ErrorReply::new("invalid_account", format!("account: {err}")))?;
        let snapshot = build_snapshot(&self.catalog, &account, timestamp(now_ms));
        serde_json::to_string(&snapshot)
            .map_err(|err| ErrorReply::new("internal", format!("snapshot: {err}")))
    }
}

/// A snapshot compiled for checks, plus the scratch block its checks write to.
#[wasm_bindgen]
#[derive(Debug)]
pub struct WasmGate {
    gate: Gate,
    /// Features resolved so far, in the order `resolve` handed out their indexes.
    features: Vec<FeatureRef>,
    scratch: Box<Scratch>,
}

/// One Decision as numbers. The wrapper reads it as a `Float64Array` of `Scratch::SLOTS`
/// values, in field order (`repr(C)` fixes it): keep both sides in step.
#[repr(C)]
#[derive(Debug, Default)]
struct Scratch {
    /// 1 or 0.
    allowed: Cell<f64>,
    /// Index in `reasonCodes()`.
    reason: Cell<f64>,
    /// Index in `WasmGate::plans()`; -1 for null (never from a gate).
    plan: Cell<f64>,
    /// NaN for null.
    limit: Cell<f64>,
    /// NaN for null.
    used: Cell<f64>,
    /// NaN for null.
    remaining: Cell<f64>,
    /// Epoch milliseconds; NaN for null.
    resets_at: Cell<f64>,
    overage: Cell<f64>,
    /// Index in `warningCodes()`; -1 for null.
    warning: Cell<f64>,
    /// Index in `WasmGate::plans()`; -1 for null.
    upgrade: Cell<f64>,
    /// Epoch milliseconds; NaN for null (never from a gate).
    as_of: Cell<f64>,
    /// 1 or 0.
    stale: Cell<f64>,
}

impl Scratch {
    const SLOTS: u32 = 12;
}

#[wasm_bindgen]
impl WasmGate {
    /// Compiles a snapshot given as JSON text.
    #[wasm_bindgen(js_name = fromJson)]
    pub fn from_json(json: &str) -> Result<WasmGate, ErrorReply> {
        let gate = Gate::from_json(json).map_err(|err| ErrorReply::new(err.code(), err))?;
        Ok(WasmGate {
            gate,
            features: Vec::new(),
            scratch: Box::default(),
        })
    }

    /// The index of a feature name for `check`; every unknown name shares one index.
    pub fn resolve(&mut self, feature: &str) -> u32 {
        let found = self.gate.resolve(feature);
        let index = match self.features.iter().position(|known| *known == found) {
            Some(index) => index,
            None => {
                self.features.push(found);
                self.features.len() - 1
            }
        };
        u32::try_from(index).unwrap_or(u32::MAX)
    }

    /// Checks `amount` units of the feature at `index` (from `resolve`) at `now_ms`, on top of
    /// `pending` units not yet in the snapshot, and writes the Decision into the scratch block.
    /// The wrapper passes non-negative safe integer amounts and a whole, in-range `now_ms`.
    pub fn check(&self, index: u32, amount: f64, now_ms: f64, pending: f64) {
        let feature = usize::try_from(index)
            .ok()
            .and_then(|index| self.features.get(index).copied())
            .unwrap_or(FeatureRef::UNKNOWN);
        // `as` saturates; the wrapper has already refused what would not convert exactly.
        let decision = self.gate.check_ref_with_pending(
            feature,
            amount as u64,
            pending as u64,
            timestamp(now_ms),
        );
        self.write(&decision);
    }

    /// The address of the scratch block in wasm memory (`Scratch::SLOTS` f64 values).
    #[wasm_bindgen(js_name = scratchAddress)]
    pub fn scratch_address(&self) -> usize {
        std::ptr::from_ref::<Scratch>(&self.scratch) as usize
    }

    /// The number of f64 slots in the scratch block.
    #[wasm_bindgen(js_name = scratchSlots)]
    pub fn scratch_slots() -> u32 {
        Scratch::SLOTS
    }

    /// The plans a Decision may name, as JSON `[{"plan": key, "name": name}, …]` in index order.
    pub fn plans(&self) -> String {
        #[derive(Serialize)]
        struct Entry<'a> {
            plan: &'a str,
            name: &'a str,
        }
        let entries: Vec<Entry<'_>> = self
            .gate
            .plans()
            .iter()
            .map(|plan| Entry {
                plan: plan.key(),
                name: plan.name(),
            })
            .collect();
        serde_json::to_string(&entries).unwrap_or_else(|_| String::from("[]"))
    }
}

impl WasmGate {
    fn write(&self, decision: &Decision<'_>) {
        let scratch = &self.scratch;
        scratch.allowed.set(flag(decision.allowed));
        scratch.reason.set(f64::from(decision.reason as u8));
        scratch
            .plan
            .set(decision.plan.map_or(-1.0, |plan| self.plan_index(plan)));
        scratch.limit.set(quantity(decision.limit));
        scratch.used.set(quantity(decision.used));
        scratch.remaining.set(quantity(decision.remaining));
        scratch
            .resets_at
            .set(decision.resets_at.map_or(f64::NAN, millis));
        scratch.overage.set(decision.overage as f64);
        scratch.warning.set(
            decision
                .warning
                .map_or(-1.0, |warning| f64::from(warning as u8)),
        );
        scratch
            .upgrade
            .set(decision.upgrade.map_or(-1.0, |plan| self.plan_index(plan)));
        scratch.as_of.set(decision.as_of.map_or(f64::NAN, millis));
        scratch.stale.set(flag(decision.stale));
    }

    fn plan_index(&self, plan: &PlanEntry) -> f64 {
        plan.index().get() as f64
    }
}

/// The reason codes, as a JSON array indexed by the `reason` slot.
#[wasm_bindgen(js_name = reasonCodes)]
pub fn reason_codes() -> String {
    codes(
        Reason::ALL
            .iter()
            .map(|reason| (*reason as u8, reason.as_str())),
    )
}

/// The warning codes, as a JSON array indexed by the `warning` slot.
#[wasm_bindgen(js_name = warningCodes)]
pub fn warning_codes() -> String {
    codes(
        Warning::ALL
            .iter()
            .map(|warning| (*warning as u8, warning.as_str())),
    )
}

/// A JSON array holding each code at its numeric value.
fn codes<'a>(codes: impl Iterator<Item = (u8, &'a str)>) -> String {
    let mut table: Vec<&str> = Vec::new();
    for (value, code) in codes {
        let at = usize::from(value);
        if table.len() <= at {
            table.resize(at + 1, "");
        }
        if let Some(slot) = table.get_mut(at) {
            *slot = code;
        }
    }
    serde_json::to_string(&table).unwrap_or_else(|_| String::from("[]"))
}

fn timestamp(now_ms: f64) -> Timestamp {
    // The wrapper passes whole milliseconds within JavaScript's Date range.
    Timestamp::from_millis(now_ms as i64)
}

fn millis(at: Timestamp) -> f64 {
    at.as_millis() as f64
}

fn quantity(value: Option<u64>) -> f64 {
    value.map_or(f64::NAN, |value| value as f64)
}

fn flag(value: bool) -> f64 {
    if value { 1.0 } else { 0.0 }
}
