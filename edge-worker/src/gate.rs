//! Deciding one request, and the answers that follow from the decision.
//!
//! [`decide`] asks the engine about `feature` and `amount` at `now`, counting the units this
//! isolate already allowed against the snapshot (see `metering`). [`Answer`] then gives every
//! form the Worker speaks: the `/v1/check` body, the 402/403 refusal and the headers added to
//! a proxied request. When there is no snapshot to decide from, [`Answer::unavailable`]
//! follows the feature's failure policy.

use serde_json::{Map, Value, json};
use tollgate_gate::{Decision, Reason, Timestamp};

use crate::metering::LocalUsage;
use crate::policy::FailurePolicy;
use crate::store::Compiled;

/// Reason of a refusal for want of any snapshot (policy `closed`, or `last_known_good` with
/// nothing known): the engine's `Reason::SnapshotUnavailable`.
pub const SNAPSHOT_UNAVAILABLE: &str = "snapshot_unavailable";

/// Headers the Worker sets on proxied requests; a client's own values are dropped.
pub const PLAN_HEADER: &str = "X-Tollgate-Plan";
pub const REMAINING_HEADER: &str = "X-Tollgate-Remaining";
pub const CUSTOMER_HEADER: &str = "X-Tollgate-Customer";
pub const FAILURE_POLICY_HEADER: &str = "X-Tollgate-Failure-Policy";

/// A decision and how it was reached.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub feature: String,
    pub allowed: bool,
    pub reason: &'static str,
    /// The policy that decided, when the snapshot was missing, unreadable or stale.
    pub failure_policy: Option<FailurePolicy>,
    /// The engine's Decision as JSON (DESIGN.md's field names).
    decision: Map<String, Value>,
    /// The metered period to count this request in, when it is allowed and metered.
    pub count_in: Option<Option<Timestamp>>,
}

/// Decides `amount` units of `feature` at `now`, on top of what this isolate already counted.
pub fn decide(
    compiled: &Compiled,
    usage: &LocalUsage,
    feature: &str,
    amount: u64,
    now: Timestamp,
) -> Answer {
    let gate = &compiled.gate;
    // Only metered features have a period, and only they are counted here.
    let period = gate.period(feature, now);
    let pending = period.map_or(0, |p| usage.pending(feature, p.resets_at));
    let decision = gate.check_with_pending(feature, amount, pending, now);
    let failure_policy = (decision.stale && decision.reason != Reason::UnknownFeature)
        .then(|| compiled.on_stale(feature));
    let count_in = (decision.allowed && period.is_some()).then_some(decision.resets_at);
    Answer::new(feature, &decision, failure_policy, count_in)
}

fn to_map(decision: &Decision<'_>) -> Map<String, Value> {
    match serde_json::to_value(decision) {
        Ok(Value::Object(map)) => map,
        // A Decision always serialises to an object; keep the answer well-formed regardless.
        _ => Map::new(),
    }
}

impl Answer {
    fn new(
        feature: &str,
        decision: &Decision<'_>,
        failure_policy: Option<FailurePolicy>,
        count_in: Option<Option<Timestamp>>,
    ) -> Self {
        Self {
            feature: feature.to_owned(),
            allowed: decision.allowed,
            reason: decision.reason.as_str(),
            failure_policy,
            decision: to_map(decision),
            count_in,
        }
    }

    /// An answer without any snapshot, by the feature's failure policy.
    pub fn unavailable(feature: &str, policy: FailurePolicy) -> Self {
        // Without a snapshot nothing says whether the feature is metered: usage allowed open is
        // not counted (the app's own metering, if any, still is).
        Self::new(
            feature,
            &Decision::unavailable(policy.into()),
            Some(policy),
            None,
        )
    }

    /// The answer of the customer's leases object (`leases::Reply`). Units it allowed without
    /// a lease (`count`) are counted like any metered request: a usage event.
    pub fn from_reply(feature: &str, reply: crate::leases::Reply) -> Self {
        let decision = reply.decision;
        let allowed = decision.get("allowed") == Some(&Value::Bool(true));
        let reason = decision
            .get("reason")
            .and_then(Value::as_str)
            .and_then(|r| Reason::ALL.iter().find(|known| known.as_str() == r))
            .map_or(SNAPSHOT_UNAVAILABLE, |r| r.as_str());
        let resets_at = decision
            .get("resetsAt")
            .and_then(Value::as_str)
            .and_then(|t| Timestamp::parse(t).ok());
        Self {
            feature: feature.to_owned(),
            allowed,
            reason,
            failure_policy: reply.failure_policy,
            decision,
            count_in: (allowed && reply.count).then_some(resets_at),
        }
    }

    /// Marks an answer given from the isolate's last known snapshot because KV failed.
    pub fn from_last_known_good(mut self) -> Self {
        self.failure_policy = Some(FailurePolicy::LastKnownGood);
        self
    }

    fn field(&self, name: &str) -> &Value {
        self.decision.get(name).unwrap_or(&Value::Null)
    }

    pub fn plan(&self) -> Option<&str> {
        self.field("plan").as_str()
    }

    /// The body of `GET /v1/check`: the Decision, plus `feature` and `failurePolicy`.
    pub fn check_body(&self) -> Value {
        let mut body = self.decision.clone();
        body.insert("feature".into(), Value::String(self.feature.clone()));
        body.insert("failurePolicy".into(), self.policy_value());
        Value::Object(body)
    }

    fn policy_value(&self) -> Value {
        self.failure_policy
            .map_or(Value::Null, |p| Value::String(p.as_str().to_owned()))
    }

    /// 402 when paying would help (the plan lacks the feature or its limit is reached), else
    /// 403.
    pub fn refusal_status(&self) -> u16 {
        match self.reason {
            "limit_reached" | "not_in_plan" => 402,
            _ => 403,
        }
    }

    /// The body of a refused gated request. `upgrade_link` builds the link to a plan.
    pub fn refusal_body(&self, upgrade_link: impl Fn(&str) -> Option<String>) -> Value {
        let upgrade = self.field("upgrade").clone();
        let upgrade_url = upgrade
            .get("plan")
            .and_then(Value::as_str)
            .and_then(upgrade_link);
        json!({
            "reason": self.reason,
            "message": self.message(),
            "feature": self.feature,
            "plan": self.field("plan"),
            "limit": self.field("limit"),
            "used": self.field("used"),
            "remaining": self.field("remaining"),
            "resetsAt": self.field("resetsAt"),
            "upgrade": upgrade,
            "upgradeUrl": upgrade_url,
            "failurePolicy": self.policy_value(),
        })
    }

    fn message(&self) -> String {
        let plan = self.plan().unwrap_or("unknown");
        match self.reason {
            "limit_reached" => format!("`{}` has reached its limit on plan `{plan}`", self.feature),
            "not_in_plan" => format!("`{}` is not included in plan `{plan}`", self.feature),
            "unknown_feature" => format!("`{}` is not a feature of this service", self.feature),
            "subscription_ended" => format!(
                "the subscription that included `{}` has ended",
                self.feature
            ),
            "payment_overdue" => format!(
                "`{}` is suspended until an overdue payment is made",
                self.feature
            ),
            "stale_snapshot" => format!(
                "`{}` cannot be decided: entitlements are out of date",
                self.feature
            ),
            SNAPSHOT_UNAVAILABLE => format!(
                "`{}` cannot be decided: entitlements are unavailable",
                self.feature
            ),
            other => format!("`{}` refused: {other}", self.feature),
        }
    }

    /// Headers for the origin: plan, what remains (`unlimited` when there is no limit; none for
    /// booleans) and the failure policy if one decided.
    pub fn proxy_headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = Vec::with_capacity(3);
        if let Some(plan) = self.plan() {
            headers.push((PLAN_HEADER, plan.to_owned()));
        }
        match (self.field("remaining"), self.field("used")) {
            (Value::Number(n), _) => headers.push((REMAINING_HEADER, n.to_string())),
            (Value::Null, Value::Number(_)) => headers.push((REMAINING_HEADER, "unlimited".into())),
            _ => {}
        }
        if let Some(policy) = self.failure_policy {
            headers.push((FAILURE_POLICY_HEADER, policy.as_str().to_owned()));
        }
        headers
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::store::cache::tests::compiled;

    fn now() -> Timestamp {
        Timestamp::parse("2026-11-25T12:00:00Z").unwrap()
    }

    #[test]
    fn an_allowed_metered_request_is_counted() {
        let snapshot = compiled("c", 1, 10);
        let a = decide(&snapshot, &LocalUsage::default(), "api_calls", 1, now());
        assert!(a.allowed);
        assert_eq!(a.reason, "ok");
        assert!(a.count_in.is_some());
        assert_eq!(a.failure_policy, None);
        let body = a.check_body();
        assert_eq!(body["remaining"], 989);
        assert_eq!(body["feature"], "api_calls");
        assert_eq!(body["failurePolicy"], Value::Null);
        assert_eq!(
            a.proxy_headers(),
            vec![
                (PLAN_HEADER, "free".to_owned()),
                (REMAINING_HEADER, "989".to_owned())
            ]
        );
    }

    #[test]
    fn gauges_and_booleans_are_not_counted() {
        let snapshot = compiled("c", 1, 0);
        let a = decide(&snapshot, &LocalUsage::default(), "projects", 1, now());
        assert!(a.allowed);
        assert_eq!(a.count_in, None);
        let b = decide(
            &snapshot,
            &LocalUsage::default(),
            "advanced_analytics",
            1,
            now(),
        );
        assert!(!b.allowed);
        assert_eq!(b.reason, "not_in_plan");
        assert_eq!(b.refusal_status(), 402);
        assert_eq!(b.count_in, None);
    }

    #[test]
    fn local_usage_stops_an_isolate_at_the_snapshots_allowance() {
        let snapshot = compiled("c", 1, 998);
        let mut usage = LocalUsage::default();
        let a = decide(&snapshot, &usage, "api_calls", 1, now());
        assert!(a.allowed);
        assert_eq!(a.check_body()["remaining"], 1);
        usage.add("api_calls", a.count_in.unwrap(), 1);

        let b = decide(&snapshot, &usage, "api_calls", 1, now());
        assert!(b.allowed);
        assert_eq!(b.check_body()["used"], 999);
        assert_eq!(b.check_body()["remaining"], 0);
        usage.add("api_calls", b.count_in.unwrap(), 1);

        let c = decide(&snapshot, &usage, "api_calls", 1, now());
        assert!(!c.allowed);
        assert_eq!(c.reason, "limit_reached");
        assert_eq!(c.check_body()["used"], 1000);
        assert_eq!(c.check_body()["remaining"], 0);
        let body = c.refusal_body(|plan| Some(format!("https://app.example.com/upgrade/{plan}")));
        assert_eq!(body["reason"], "limit_reached");
        assert_eq!(body["feature"], "api_calls");
        assert_eq!(body["limit"], 1000);
        assert_eq!(body["used"], 1000);
        assert_eq!(body["upgrade"]["plan"], "premium");
        assert_eq!(
            body["upgradeUrl"],
            "https://app.example.com/upgrade/premium"
        );
    }

    #[test]
    fn without_a_snapshot_the_policy_decides_and_says_so() {
        let open = Answer::unavailable("api_calls", FailurePolicy::Open);
        assert!(open.allowed);
        assert_eq!(open.check_body()["failurePolicy"], "open");
        assert_eq!(
            open.proxy_headers(),
            vec![(FAILURE_POLICY_HEADER, "open".to_owned())]
        );
        let closed = Answer::unavailable("api_calls", FailurePolicy::Closed);
        assert!(!closed.allowed);
        assert_eq!(closed.reason, SNAPSHOT_UNAVAILABLE);
        assert_eq!(closed.refusal_status(), 403);
        assert_eq!(closed.refusal_body(|_| None)["failurePolicy"], "closed");
    }

    #[test]
    fn without_a_snapshot_nothing_is_known() {
        let closed = Answer::unavailable("api_calls", FailurePolicy::LastKnownGood);
        assert_eq!(
            closed.check_body(),
            json!({
                "allowed": false, "reason": "snapshot_unavailable", "plan": null, "limit": null,
                "used": null, "remaining": null, "resetsAt": null, "overage": 0, "warning": null,
                "upgrade": null, "asOf": null, "stale": true, "feature": "api_calls",
                "failurePolicy": "last_known_good",
            })
        );
        assert_eq!(closed.count_in, None);
        assert_eq!(
            Answer::unavailable("api_calls", FailurePolicy::Open).check_body()["reason"],
            "ok"
        );
    }

    #[test]
    fn stale_snapshots_report_the_catalogs_policy() {
        let snapshot = compiled("c", 1, 0);
        let later = Timestamp::parse("2027-06-01T00:00:00Z").unwrap();
        let a = decide(&snapshot, &LocalUsage::default(), "projects", 1, later);
        assert_eq!(a.check_body()["stale"], true);
        assert_eq!(a.failure_policy, Some(FailurePolicy::LastKnownGood));
    }
}
