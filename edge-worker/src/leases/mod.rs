//! Exact features: every request on one passes through the customer's Durable Object
//! ([`object::ExactLeases`], one per customer, `id_from_name(customer)`), which spends from
//! allowances leased from the sync worker (`POST /v1/leases`) instead of from the snapshot's
//! count plus what each isolate saw. The sync worker never leases more than the period has
//! left, counting the units of open leases and the app's `consume` calls, so across every
//! isolate and the app the limit holds exactly (edge-worker/README.md, "Exact features").
//!
//! The object asks for the next lease when under half of one is left, settles its leases
//! (`POST /v1/leases/{id}/settle` with the units used) when idle, at the period's end and
//! before a lease expires, by an alarm; a settlement that fails is retried until accepted.
//! When the sync worker cannot be reached, the feature's `on_stale` decides (`object`).

pub mod allowance;
pub mod client;
pub mod object;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tollgate_gate::Decision;
use worker::{Env, Method, Request, RequestInit};

use crate::policy::FailurePolicy;

/// The binding of the Durable Object namespace (wrangler.toml `[[durable_objects.bindings]]`).
pub const BINDING: &str = "LEASES";

/// A gated request on an exact feature, as the Worker sends it to the object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spend {
    pub customer: String,
    pub feature: String,
    pub amount: u64,
    /// The snapshot revision the Worker holds: the object reads KV when its own is older.
    pub revision: u64,
}

/// The object's answer: the engine's Decision, the failure policy that decided if one did,
/// and whether the Worker reports the units as a usage event (allowed without a lease).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub decision: Map<String, Value>,
    #[serde(rename = "failurePolicy")]
    pub failure_policy: Option<FailurePolicy>,
    pub count: bool,
}

impl Reply {
    pub fn of(decision: &Decision<'_>, failure_policy: Option<FailurePolicy>, count: bool) -> Self {
        let decision = match serde_json::to_value(decision) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        Self {
            decision,
            failure_policy,
            count,
        }
    }
}

/// Sends a gated request on an exact feature to the customer's object and returns its reply.
pub async fn spend_through_object(env: &Env, spend: &Spend) -> worker::Result<Reply> {
    let stub = env
        .durable_object(BINDING)?
        .id_from_name(&spend.customer)?
        .get_stub()?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_body(Some(serde_json::to_string(spend)?.into()));
    let request = Request::new_with_init("https://leases.internal/spend", &init)?;
    let mut response = stub.fetch_with_request(request).await?;
    response.json().await
}
