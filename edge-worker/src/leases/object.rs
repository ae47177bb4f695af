//! The Durable Object that spends a customer's exact features (one per customer).
//!
//! A request: read the customer's snapshot (the isolate's cache, or KV when the Worker holds a
//! newer revision), let the engine judge everything but the count (plan, status, staleness),
//! then spend from the held leases. With fewer units left than asked, the object asks the sync
//! worker for another lease *before* deciding, under `blockConcurrencyWhile`, so that requests
//! arriving meanwhile wait for it rather than ask again; when a lease asked for in the
//! background is still under way, it waits for that one first (the sync worker already counts
//! it as spent, so asking again could find nothing left). The Decision is the engine's at the
//! count the leases imply (`limit − left`), so `remaining` is what the leases still hold and
//! `resetsAt` the period's end. After spending, under half a lease left asks for the next one
//! in the background.
//!
//! An alarm settles leases: all of them once idle for `TOLLGATE_LEASE_IDLE_SECONDS` or at the
//! period's end, each shortly before it expires; a settlement that fails is retried every
//! second. Leases live only in memory: an object evicted with leases leaves them to expire,
//! and the sync worker counts them as fully used.
//!
//! When the sync worker cannot be reached and the leases are spent, the feature's `on_stale`
//! decides: `closed` refuses, `open` allows, `last_known_good` decides from the snapshot plus
//! the units this object allowed in the period; units allowed that way are reported as usage
//! events by the Worker.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use futures_util::future::{FutureExt, LocalBoxFuture, Shared};
use tollgate_gate::{Decision, OnStale, Reason, Timestamp};
use worker::{DurableObject, Env, Request, Response, State, durable_object};

use super::allowance::{Allowance, Lease, Settlement};
use super::{Reply, Spend, client};
use crate::config::Config;
use crate::identity::resolve::KV_BINDING;
use crate::isolate;
use crate::policy::FailurePolicy;
use crate::store::Compiled;

/// How soon a failed settlement is tried again.
const SETTLE_RETRY_MS: i64 = 1_000;

#[durable_object]
pub struct ExactLeases {
    state: State,
    env: Env,
    inner: Rc<RefCell<Inner>>,
}

impl std::fmt::Debug for ExactLeases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExactLeases")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct Inner {
    features: HashMap<String, Allowance>,
    /// A background request for the next lease, while under way.
    refilling: Option<InFlight>,
    /// When the alarm is set for.
    armed_at: Option<i64>,
}

/// A lease request under way in the background. The sync worker counts its units as spent
/// from the moment it grants them, so a request that finds the held leases spent waits for it
/// rather than asking for more, which the period may no longer have.
#[derive(Clone)]
struct InFlight(Shared<LocalBoxFuture<'static, ()>>);

impl std::fmt::Debug for InFlight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InFlight")
    }
}

impl Inner {
    fn allowance(&mut self, feature: &str) -> &mut Allowance {
        self.features.entry(feature.to_owned()).or_default()
    }
}

impl DurableObject for ExactLeases {
    fn new(state: State, env: Env) -> Self {
        Self {
            state,
            env,
            inner: Rc::default(),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let spend: Spend = req.json().await?;
        let config =
            isolate::config(&self.env).map_err(|e| worker::Error::RustError(e.to_string()))?;
        let reply = self.spend(&spend, &config).await;
        self.arm(&config).await;
        Response::from_json(&reply)
    }

    async fn alarm(&self) -> worker::Result<Response> {
        let config =
            isolate::config(&self.env).map_err(|e| worker::Error::RustError(e.to_string()))?;
        let now_ms = isolate::now_ms();
        let due: Vec<Settlement> = {
            let mut inner = self.inner.borrow_mut();
            inner.armed_at = None;
            inner
                .features
                .values_mut()
                .flat_map(|a| {
                    a.retire_due(now_ms, config.lease_idle_ms);
                    std::mem::take(&mut a.settling)
                })
                .collect()
        };
        let mut failed = Vec::new();
        for settlement in due {
            if client::settle(&config, &settlement.id, settlement.used).await
                == client::Settled::Retry
            {
                failed.push(settlement);
            }
        }
        if !failed.is_empty() {
            // Kept on any feature's list: only the lease id and units matter.
            let mut inner = self.inner.borrow_mut();
            if let Some(allowance) = inner.features.values_mut().next() {
                allowance.settling.extend(failed);
            }
        }
        self.arm(&config).await;
        Response::ok("settled")
    }
}

impl ExactLeases {
    fn with<R>(&self, feature: &str, f: impl FnOnce(&mut Allowance) -> R) -> R {
        f(self.inner.borrow_mut().allowance(feature))
    }

    async fn spend(&self, spend: &Spend, config: &Rc<Config>) -> Reply {
        let now_ms = isolate::now_ms();
        let now = Timestamp::from_millis(now_ms);
        let (feature, amount) = (spend.feature.as_str(), spend.amount);
        let Some(compiled) = self.snapshot(&spend.customer, spend.revision, config).await else {
            let policy = config.policies.for_feature(feature);
            return Reply::of(&Decision::unavailable(policy.into()), Some(policy), false);
        };
        let gate = &compiled.gate;
        let plain = gate.check(feature, amount, now);
        let period = gate.period(feature, now);
        let Some(lease_size) = compiled.lease(feature) else {
            // No longer exact (the catalog changed): the snapshot decides, usage goes by queue.
            return Reply::of(&plain, None, plain.allowed && period.is_some());
        };
        let on_stale = compiled.on_stale(feature);
        if plain.stale && on_stale != FailurePolicy::LastKnownGood {
            return Reply::of(&plain, Some(on_stale), plain.allowed);
        }
        if !plain.allowed && plain.reason != Reason::LimitReached {
            return Reply::of(&plain, None, false);
        }
        self.with(feature, |a| {
            a.roll(period.and_then(|p| p.resets_at), now_ms)
        });
        // Two requests of our own at most; waits for background leases are not counted, as
        // each one ends with units to spend, none left, or the sync worker out of reach.
        let mut asked = 0;
        loop {
            let left = self.with(feature, |a| a.left());
            if left >= amount || self.with(feature, |a| a.exhausted(now_ms)) {
                break;
            }
            let in_flight = self.inner.borrow().refilling.clone();
            if let Some(InFlight(lease)) = in_flight {
                // Not under `blockConcurrencyWhile`: its input gate would hold back the very
                // answer awaited here. Requests arriving meanwhile wait for it too.
                lease.await;
                continue;
            }
            if asked == 2 {
                break;
            }
            asked += 1;
            let refill = refill(
                Rc::clone(&self.inner),
                Rc::clone(config),
                spend.customer.clone(),
                feature.to_owned(),
                lease_size.max(amount - left),
            );
            let reached = self
                .state
                .block_concurrency_while(async move { Ok(refill.await) })
                .await
                .unwrap_or(false);
            if !reached {
                return self.offline(&compiled, spend, on_stale, now_ms);
            }
        }
        let left = self.with(feature, |a| a.left());
        let used = plain.used.unwrap_or(0);
        let pending = plain
            .limit
            .map_or(0, |limit| limit.saturating_sub(left).saturating_sub(used));
        let decision = gate.check_with_pending(feature, amount, pending, now);
        let spent = decision.allowed && self.with(feature, |a| a.spend(amount, now_ms));
        let mut reply = Reply::of(&decision, None, false);
        if decision.allowed && !spent {
            // Unlimited, but the sync worker granted nothing (the plan changed since the
            // snapshot): refused until the next snapshot or lease says otherwise.
            reply.decision.insert("allowed".into(), false.into());
            reply
                .decision
                .insert("reason".into(), Reason::LimitReached.as_str().into());
        }
        self.prefetch(spend, lease_size, config, now_ms);
        reply
    }

    /// Asks for the next lease in the background when under half of one is left.
    fn prefetch(&self, spend: &Spend, lease_size: u64, config: &Rc<Config>, now_ms: i64) {
        let due = self.with(&spend.feature, |a| a.wants_refill(lease_size, now_ms));
        if !due || self.inner.borrow().refilling.is_some() {
            return;
        }
        let inner = Rc::clone(&self.inner);
        let refill = refill(
            Rc::clone(&self.inner),
            Rc::clone(config),
            spend.customer.clone(),
            spend.feature.clone(),
            lease_size,
        );
        let lease = async move {
            refill.await;
            inner.borrow_mut().refilling = None;
        }
        .boxed_local()
        .shared();
        self.inner.borrow_mut().refilling = Some(InFlight(lease.clone()));
        self.state.wait_until(lease);
    }

    /// The sync worker cannot be reached: the feature's `on_stale` decides.
    fn offline(
        &self,
        compiled: &Compiled,
        spend: &Spend,
        on_stale: FailurePolicy,
        now_ms: i64,
    ) -> Reply {
        let (feature, amount) = (spend.feature.as_str(), spend.amount);
        let decision = match on_stale {
            FailurePolicy::Closed => Decision::unavailable(OnStale::Closed),
            FailurePolicy::Open => Decision::unavailable(OnStale::Open),
            FailurePolicy::LastKnownGood => {
                let pending = self.with(feature, |a| a.period_spent);
                let now = Timestamp::from_millis(now_ms);
                compiled
                    .gate
                    .check_with_pending(feature, amount, pending, now)
            }
        };
        if decision.allowed {
            self.with(feature, |a| a.spend_offline(amount, now_ms));
        }
        Reply::of(&decision, Some(on_stale), decision.allowed)
    }

    /// The customer's snapshot at `revision` or newer: the isolate's cache, else KV through
    /// the cache (the newest of the two when KV lags behind).
    async fn snapshot(
        &self,
        customer: &str,
        revision: u64,
        config: &Config,
    ) -> Option<Rc<Compiled>> {
        let cached = || isolate::with(|s| s.snapshots.compiled(customer));
        if let Some(current) = cached().filter(|c| c.revision() >= revision) {
            return Some(current);
        }
        let kv = self.env.kv(KV_BINDING).ok()?;
        crate::store::kv::refresh(&kv, customer, config.kv_cache_ttl).await;
        cached()
    }

    /// Sets the alarm for the next settlement due, unless one is set sooner.
    async fn arm(&self, config: &Config) {
        let now_ms = isolate::now_ms();
        let next = {
            let inner = self.inner.borrow();
            let settling = inner.features.values().any(|a| !a.settling.is_empty());
            inner
                .features
                .values()
                .filter_map(|a| a.next_wake(config.lease_idle_ms))
                .chain(settling.then_some(now_ms + SETTLE_RETRY_MS))
                .min()
        };
        let Some(next) = next else {
            return;
        };
        let armed = self.inner.borrow().armed_at;
        if armed.is_some_and(|at| at <= next && at > now_ms) {
            return;
        }
        let when = next.max(now_ms + 1);
        // An `i64` is an offset from now for workers-rs, not an instant.
        match self.state.storage().set_alarm(when - now_ms).await {
            Ok(()) => self.inner.borrow_mut().armed_at = Some(when),
            Err(e) => worker::console_error!("the settlement alarm could not be set: {e}"),
        }
    }
}

/// Asks the sync worker for `want` units and adds what it grants; `false` when it could not be
/// reached.
async fn refill(
    inner: Rc<RefCell<Inner>>,
    config: Rc<Config>,
    customer: String,
    feature: String,
    want: u64,
) -> bool {
    let asked_at = isolate::now_ms();
    match client::grant(&config, &customer, &feature, want).await {
        Ok(granted) => {
            let mut inner = inner.borrow_mut();
            let allowance = inner.allowance(&feature);
            let period_end = granted.period_end();
            match granted.id {
                Some(id) if granted.granted > 0 => allowance.add_granted(
                    Lease::new(
                        id,
                        granted.granted,
                        asked_at.saturating_add(config.lease_ttl_ms),
                        config.lease_ttl_ms,
                    ),
                    period_end,
                    isolate::now_ms(),
                ),
                _ => allowance.mark_exhausted(isolate::now_ms()),
            }
            true
        }
        Err(e) => {
            worker::console_warn!("no lease for `{customer}`/{feature}: {e}");
            false
        }
    }
}
