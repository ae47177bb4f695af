//! The request flow: route, identify, load the snapshot, decide, then proxy, refuse or answer.
//!
//! | route | answer |
//! |---|---|
//! | `GET /v1/check?feature=&amount=` | the caller's Decision, nothing consumed or proxied |
//! | `GET /v1/entitlements` | the caller's plan and every feature's Decision for one unit |
//! | `PUT /_tollgate/snapshots` | the bulk publish endpoint (internal secret) |
//! | a request a route rule matches | gated: proxied with `X-Tollgate-*` headers, or 402/403; on an exact feature decided by the customer's leases object |
//! | any other request, and every `OPTIONS` (CORS preflight) | proxied to the origin untouched |
//!
//! `now` of a decision is the time of the request. `GET /v1/check` also takes `now` (epoch ms
//! or RFC 3339) from callers that present the internal secret (`X-Tollgate-Secret`): the
//! sync worker's diagnostics and the conformance tests ask "what would the edge answer at
//! this instant"; anyone else sending `now` gets a 400.

use std::collections::HashMap;

use serde_json::{Map, Value, json};
use tollgate_gate::Timestamp;
use worker::{Context, Env, Method, Request, Response, Url};

use crate::config::Config;
use crate::error::AppError;
use crate::gate::{self, Answer, CUSTOMER_HEADER};
use crate::identity::api_key::kv_key;
use crate::identity::resolve::{self, KV_BINDING};
use crate::isolate;
use crate::leases;
use crate::policy::FailurePolicy;
use crate::publish::{self, Ignored, Publication, PublishError, PublishReport, SECRET_HEADER};
use crate::rules::Rule;
use crate::store::kv::{Availability, load, with_entry};
use crate::store::{Compiled, SnapshotHeader, snapshot_key};
use crate::usage_queue;

const CHECK: &str = "/v1/check";
const ENTITLEMENTS: &str = "/v1/entitlements";
const SNAPSHOTS: &str = "/_tollgate/snapshots";
const INTERNAL_PREFIX: &str = "/_tollgate/";

pub async fn handle(mut req: Request, env: Env, ctx: Context) -> Result<Response, AppError> {
    let config = isolate::config(&env)?;
    let url = req.url().map_err(internal)?;
    let method = req.method();
    match (&method, url.path()) {
        (Method::Get, CHECK) => check(&req, &url, &env, &ctx, &config).await,
        (Method::Get, ENTITLEMENTS) => entitlements(&req, &env, &ctx, &config).await,
        (Method::Put, SNAPSHOTS) => publish_snapshots(&mut req, &env, &config).await,
        (_, path @ (CHECK | ENTITLEMENTS | SNAPSHOTS)) => {
            Err(AppError::MethodNotAllowed(path.to_owned()))
        }
        (_, path) if path.starts_with(INTERNAL_PREFIX) => Err(AppError::NotFound(path.to_owned())),
        // CORS preflights carry no credentials: the origin answers them, ungated.
        (Method::Options, _) => crate::proxy::forward(&req, config.origin.as_deref(), &[]).await,
        (_, path) => match config.rules.find(method.as_ref(), path) {
            Some(rule) => gated(&req, rule, &env, &ctx, &config).await,
            None => crate::proxy::forward(&req, config.origin.as_deref(), &[]).await,
        },
    }
}

fn internal(e: worker::Error) -> AppError {
    AppError::Internal(e.to_string())
}

pub fn json_response(body: &Value, status: u16) -> Result<Response, AppError> {
    let mut response = Response::from_json(body)
        .map_err(internal)?
        .with_status(status);
    response
        .headers_mut()
        .set("Cache-Control", "no-store")
        .map_err(internal)?;
    Ok(response)
}

async fn identify(req: &Request, env: &Env, config: &Config) -> Result<String, AppError> {
    let authorization = req.headers().get("Authorization").map_err(internal)?;
    let cookie = req.headers().get("Cookie").map_err(internal)?;
    Ok(resolve::customer(authorization, cookie, env, config).await?)
}

/// Decides for `customer` from the snapshot in the isolate's cache or KV, falling back on the
/// feature's failure policy.
async fn answer_for(
    customer: &str,
    feature: &str,
    amount: u64,
    now: Timestamp,
    env: &Env,
    ctx: &Context,
    config: &Config,
) -> Answer {
    let availability = load(customer, env, ctx, config).await;
    decide_loaded(customer, feature, amount, now, availability, config)
}

/// Decides from the snapshot `load` left in the isolate's cache, as `availability` says it is.
fn decide_loaded(
    customer: &str,
    feature: &str,
    amount: u64,
    now: Timestamp,
    availability: Availability,
    config: &Config,
) -> Answer {
    let decide = || {
        with_entry(customer, |e| {
            gate::decide(&e.compiled, &e.usage, feature, amount, now)
        })
    };
    let policy = config.policies.for_feature(feature);
    match (availability, policy) {
        (Availability::Current, _) => {
            decide().unwrap_or_else(|| Answer::unavailable(feature, policy))
        }
        (_, FailurePolicy::LastKnownGood) => decide()
            .map(Answer::from_last_known_good)
            .unwrap_or_else(|| Answer::unavailable(feature, policy)),
        (_, policy) => Answer::unavailable(feature, policy),
    }
}

/// The revision of the cached snapshot of `customer` when `feature` is exact in it: such
/// requests are decided by the customer's leases object (`leases`), not here.
fn exact_revision(customer: &str, feature: &str) -> Option<u64> {
    with_entry(customer, |e| {
        e.compiled.lease(feature).map(|_| e.compiled.revision())
    })
    .flatten()
}

async fn check(
    req: &Request,
    url: &Url,
    env: &Env,
    ctx: &Context,
    config: &Config,
) -> Result<Response, AppError> {
    let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
    let feature = query
        .get("feature")
        .filter(|f| !f.is_empty())
        .ok_or_else(|| AppError::bad_request("missing_feature", "`feature` is required"))?;
    let amount = match query.get("amount") {
        None => 1,
        Some(a) => a.parse::<u64>().map_err(|_| {
            AppError::bad_request(
                "invalid_amount",
                format!("amount `{a}` is not a whole number >= 0"),
            )
        })?,
    };
    let now = match query.get("now") {
        None => Timestamp::from_millis(isolate::now_ms()),
        Some(now) => {
            let secret = req.headers().get(SECRET_HEADER).map_err(internal)?;
            if !publish::secret_matches(secret.as_deref(), config.internal_secret.as_deref()) {
                return Err(AppError::bad_request(
                    "now_not_allowed",
                    "`now` is accepted only with the internal secret",
                ));
            }
            parse_instant(now)?
        }
    };
    let customer = identify(req, env, config).await?;
    let answer = answer_for(&customer, feature, amount, now, env, ctx, config).await;
    json_response(&answer.check_body(), 200)
}

fn parse_instant(text: &str) -> Result<Timestamp, AppError> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(Timestamp::from_millis(ms));
    }
    Timestamp::parse(text).map_err(|_| {
        AppError::bad_request(
            "invalid_now",
            format!("now `{text}` is neither epoch ms nor RFC 3339"),
        )
    })
}

async fn entitlements(
    req: &Request,
    env: &Env,
    ctx: &Context,
    config: &Config,
) -> Result<Response, AppError> {
    let customer = identify(req, env, config).await?;
    let now = Timestamp::from_millis(isolate::now_ms());
    let availability = load(&customer, env, ctx, config).await;
    let body = with_entry(&customer, |e| {
        let features: Map<String, Value> = e
            .compiled
            .gate
            .feature_keys()
            .map(|f| {
                let answer = gate::decide(&e.compiled, &e.usage, f, 1, now);
                (f.to_owned(), answer.check_body())
            })
            .collect();
        let plan = e.compiled.gate.plan_at(now);
        json!({
            "customer": customer,
            "plan": { "plan": plan.key(), "name": plan.name() },
            "revision": e.compiled.revision(),
            "asOf": e.compiled.gate.issued_at(),
            "stale": e.compiled.is_stale(now),
            "failurePolicy": (availability != Availability::Current)
                .then_some(FailurePolicy::LastKnownGood.as_str()),
            "features": features,
        })
    })
    .ok_or_else(|| AppError::SnapshotUnavailable(customer.clone()))?;
    json_response(&body, 200)
}

/// Decides a gated request on an exact feature through the customer's leases object. When the
/// object cannot be reached, `policy` decides as for a missing snapshot.
async fn exact_answer(env: &Env, spend: &leases::Spend, policy: FailurePolicy) -> Answer {
    match leases::spend_through_object(env, spend).await {
        Ok(reply) => Answer::from_reply(&spend.feature, reply),
        Err(e) => {
            worker::console_error!("the leases object of `{}`: {e}", spend.customer);
            Answer::unavailable(&spend.feature, policy)
        }
    }
}

async fn gated(
    req: &Request,
    rule: &Rule,
    env: &Env,
    ctx: &Context,
    config: &Config,
) -> Result<Response, AppError> {
    let customer = identify(req, env, config).await?;
    let now_ms = isolate::now_ms();
    let (feature, amount) = (rule.feature.as_str(), rule.amount);
    // One load serves both questions: is the feature exact, and else what the snapshot says.
    let availability = load(&customer, env, ctx, config).await;
    let answer = match exact_revision(&customer, feature) {
        Some(revision) => {
            let spend = leases::Spend {
                customer: customer.clone(),
                feature: feature.to_owned(),
                amount,
                revision,
            };
            exact_answer(env, &spend, config.policies.for_feature(feature)).await
        }
        None => {
            let now = Timestamp::from_millis(now_ms);
            decide_loaded(&customer, feature, amount, now, availability, config)
        }
    };
    if !answer.allowed {
        let body = answer.refusal_body(|plan| config.upgrade_link(plan, feature));
        return json_response(&body, answer.refusal_status());
    }
    // Reserve the units before the origin is awaited, so that concurrent requests in this
    // isolate see them; give them back if the origin fails.
    if let Some(period) = answer.count_in {
        with_entry(&customer, |e| e.usage.add(feature, period, amount));
    }
    let mut headers = answer.proxy_headers();
    headers.push((CUSTOMER_HEADER, customer.clone()));
    let result = crate::proxy::forward(req, config.origin.as_deref(), &headers).await;
    if let Some(period) = answer.count_in {
        match &result {
            Ok(response) if response.status_code() < 500 => {
                usage_queue::record(
                    env,
                    ctx,
                    usage_queue::event(&customer, feature, amount, now_ms),
                );
            }
            _ => {
                with_entry(&customer, |e| e.usage.release(feature, period, amount));
            }
        }
    }
    result
}

async fn publish_snapshots(
    req: &mut Request,
    env: &Env,
    config: &Config,
) -> Result<Response, AppError> {
    let secret = req.headers().get(SECRET_HEADER).map_err(internal)?;
    if !publish::secret_matches(secret.as_deref(), config.internal_secret.as_deref()) {
        return Err(AppError::InternalSecret);
    }
    let declared = req
        .headers()
        .get("Content-Length")
        .map_err(internal)?
        .and_then(|l| l.parse::<usize>().ok());
    if declared.is_some_and(|l| l > publish::MAX_BODY_BYTES) {
        return Err(PublishError::TooLarge.into());
    }
    let body = req.bytes().await.map_err(internal)?;
    let publication = Publication::parse(&body)?;
    let kv = env.kv(KV_BINDING).map_err(internal)?;
    let kv_error = |e: worker::kv::KvError| AppError::Internal(format!("KV: {e}"));

    let mut report = PublishReport::default();
    for write in publication.snapshots {
        let key = snapshot_key(&write.customer);
        let stored = kv
            .get(&key)
            .text()
            .await
            .map_err(kv_error)?
            .and_then(|json| SnapshotHeader::from_json(&json).ok())
            .map(|h| h.revision);
        if !publish::supersedes(write.revision, stored) {
            report.ignored.push(Ignored {
                customer: write.customer,
                revision: write.revision,
                stored: stored.unwrap_or_default(),
            });
            continue;
        }
        kv.put(&key, write.json.as_str())
            .map_err(kv_error)?
            .execute()
            .await
            .map_err(kv_error)?;
        // This isolate sees its own write at once; others within their refresh age.
        if let Ok(compiled) = Compiled::from_json(&write.customer, &write.json) {
            isolate::with(|s| s.snapshots.install(compiled, isolate::now_ms()));
        }
        report.written.push(write.customer);
    }
    for entry in publication.keys {
        let key = kv_key(&entry.hash);
        match &entry.customer {
            Some(customer) => {
                kv.put(&key, customer.as_str())
                    .map_err(kv_error)?
                    .execute()
                    .await
                    .map_err(kv_error)?;
                report.keys_written += 1;
            }
            None => {
                kv.delete(&key).await.map_err(kv_error)?;
                report.keys_revoked += 1;
            }
        }
        isolate::with(|s| s.keys.remove(&entry.hash));
    }
    let body = serde_json::to_value(&report).map_err(|e| AppError::Internal(e.to_string()))?;
    json_response(&body, 200)
}
