//! Prometheus metrics: every name the service records, described once, and the `/metrics`
//! listener that renders them.
//!
//! Code records through the `metrics` facade with the one-line helpers below, so a metric's
//! name, kind and labels are written in one place. The recorder is process-wide: the first
//! [`install`] builds the Prometheus recorder and sets it as the global one; later calls (several
//! services in one test process) share it. Without `TOLLGATE_METRICS_LISTEN` nothing installs
//! it and every helper is a no-op. Gauges of queue depths are sampled by [`server`] with a few
//! cheap counts every [`server::SAMPLE_EVERY`], and by the health check.
//!
//! Labels take only bounded values: event types, matched routes (never raw paths), Polar
//! endpoints cut to their resource, decision reasons, job names.

pub(crate) mod server;

use ::metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

pub(crate) const WEBHOOKS_RECEIVED: &str = "tollgate_webhooks_received_total";
pub(crate) const WEBHOOKS_APPLIED: &str = "tollgate_webhooks_applied_total";
pub(crate) const WEBHOOKS_FAILED: &str = "tollgate_webhooks_failed_total";
pub(crate) const WEBHOOK_APPLY_LAG: &str = "tollgate_webhook_apply_lag_seconds";
pub(crate) const INBOX_DEPTH: &str = "tollgate_webhook_inbox_depth";
pub(crate) const OUTBOX_DEPTH: &str = "tollgate_outbox_depth";
pub(crate) const PUBLISH_DURATION: &str = "tollgate_publish_duration_seconds";
pub(crate) const PUBLISHED: &str = "tollgate_published_total";
pub(crate) const PUBLISH_FAILURES: &str = "tollgate_publish_failures_total";
pub(crate) const POLAR_REQUESTS: &str = "tollgate_polar_requests_total";
pub(crate) const POLAR_CIRCUIT: &str = "tollgate_polar_circuit_state";
pub(crate) const USAGE_INGESTED: &str = "tollgate_usage_events_ingested_total";
pub(crate) const USAGE_DUPLICATES: &str = "tollgate_usage_events_duplicate_total";
pub(crate) const USAGE_REJECTED: &str = "tollgate_usage_events_rejected_total";
pub(crate) const CHECKS: &str = "tollgate_checks_total";
pub(crate) const JOB_RUNS: &str = "tollgate_job_runs_total";
pub(crate) const JOB_FAILURES: &str = "tollgate_job_failures_total";
pub(crate) const HTTP_REQUESTS: &str = "tollgate_http_requests_total";
pub(crate) const HTTP_DURATION: &str = "tollgate_http_request_duration_seconds";
pub(crate) const ALERTS_SENT: &str = "tollgate_alerts_sent_total";
pub(crate) const EVENTS_DELIVERED: &str = "tollgate_events_delivered_total";
pub(crate) const DELIVERY_FAILURES: &str = "tollgate_delivery_failures_total";

/// Histogram buckets of every `_seconds` metric: 1 ms to 1 minute.
const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's Prometheus recorder, installed on first use.
pub(crate) fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new();
            let builder = match builder
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), SECONDS_BUCKETS)
            {
                Ok(builder) => builder,
                // Only an empty bucket list is refused; ours is not.
                Err(_) => PrometheusBuilder::new(),
            };
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if ::metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("another metrics recorder is installed; /metrics stays empty");
            }
            describe();
            handle
        })
        .clone()
}

fn describe() {
    describe_counter!(
        WEBHOOKS_RECEIVED,
        "Polar webhooks accepted and stored, by type"
    );
    describe_counter!(
        WEBHOOKS_APPLIED,
        "Polar webhooks applied, by type and status (applied, stale, ignored)"
    );
    describe_counter!(
        WEBHOOKS_FAILED,
        "Polar webhook applies that failed, by type"
    );
    describe_histogram!(
        WEBHOOK_APPLY_LAG,
        Unit::Seconds,
        "From Polar sending a webhook to its apply committing"
    );
    describe_gauge!(INBOX_DEPTH, "Webhook deliveries stored and not yet applied");
    describe_gauge!(
        OUTBOX_DEPTH,
        "Rows waiting in an outbox (snapshots, api_keys, alerts, events)"
    );
    describe_histogram!(
        PUBLISH_DURATION,
        Unit::Seconds,
        "One publish request to the KV sink"
    );
    describe_counter!(PUBLISHED, "Snapshots and API keys written to the KV sink");
    describe_counter!(PUBLISH_FAILURES, "Publish requests the KV sink failed");
    describe_counter!(
        POLAR_REQUESTS,
        "Requests to Polar's API, by endpoint and status (\"error\": no answer)"
    );
    describe_gauge!(
        POLAR_CIRCUIT,
        "Polar circuit breaker: 0 closed, 1 open, 2 half-open"
    );
    describe_counter!(USAGE_INGESTED, "Usage events counted");
    describe_counter!(USAGE_DUPLICATES, "Usage events already counted");
    describe_counter!(USAGE_REJECTED, "Usage events refused, by code");
    describe_counter!(CHECKS, "Decisions of /v1/check, by reason");
    describe_counter!(JOB_RUNS, "Scheduled job runs, by job and outcome");
    describe_counter!(JOB_FAILURES, "Scheduled job runs that failed, by job");
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests, by method, matched route and status"
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "HTTP request latency, by method and matched route"
    );
    describe_counter!(
        ALERTS_SENT,
        "Alerts delivered to TOLLGATE_ALERT_WEBHOOK_URL, by transition"
    );
    describe_counter!(
        EVENTS_DELIVERED,
        "Events delivered to TOLLGATE_EVENTS_URL, by type"
    );
    describe_counter!(
        DELIVERY_FAILURES,
        "Failed attempts to deliver alerts or events, by target"
    );
}

fn seconds(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

pub(crate) fn webhook_received(event_type: &str) {
    counter!(WEBHOOKS_RECEIVED, "type" => event_type.to_owned()).increment(1);
}

pub(crate) fn webhook_applied(event_type: &str, status: &'static str, lag: Option<Duration>) {
    counter!(WEBHOOKS_APPLIED, "type" => event_type.to_owned(), "status" => status).increment(1);
    if let Some(lag) = lag {
        histogram!(WEBHOOK_APPLY_LAG).record(seconds(lag));
    }
}

pub(crate) fn webhook_failed(event_type: &str) {
    counter!(WEBHOOKS_FAILED, "type" => event_type.to_owned()).increment(1);
}

pub(crate) fn inbox_depth(pending: i64) {
    gauge!(INBOX_DEPTH).set(pending as f64);
}

pub(crate) fn outbox_depth(outbox: &'static str, waiting: i64) {
    gauge!(OUTBOX_DEPTH, "outbox" => outbox).set(waiting as f64);
}

pub(crate) fn published(took: Duration, written: usize, ok: bool) {
    histogram!(PUBLISH_DURATION).record(seconds(took));
    if ok {
        counter!(PUBLISHED).increment(written as u64);
    } else {
        counter!(PUBLISH_FAILURES).increment(1);
    }
}

/// A request to Polar: `status` is the HTTP status, or `None` when no answer came.
pub(crate) fn polar_request(method: &str, path: &str, status: Option<u16>) {
    let status = status.map_or_else(|| "error".to_owned(), |status| status.to_string());
    counter!(POLAR_REQUESTS, "endpoint" => polar_endpoint(method, path), "status" => status)
        .increment(1);
}

/// `GET /v1/customers/external/user_1/state` → `GET /v1/customers`: ids stay out of labels.
fn polar_endpoint(method: &str, path: &str) -> String {
    let resource = path
        .trim_start_matches('/')
        .split('/')
        .take(2)
        .collect::<Vec<_>>()
        .join("/");
    format!("{method} /{resource}")
}

/// The circuit breaker's state: 0 closed, 1 open, 2 half-open.
pub(crate) fn polar_circuit(state: u8) {
    gauge!(POLAR_CIRCUIT).set(f64::from(state));
}

pub(crate) fn usage_ingested(accepted: u64, duplicates: u64) {
    counter!(USAGE_INGESTED).increment(accepted);
    counter!(USAGE_DUPLICATES).increment(duplicates);
}

pub(crate) fn usage_rejected(code: &str) {
    counter!(USAGE_REJECTED, "code" => code.to_owned()).increment(1);
}

pub(crate) fn check(reason: &str) {
    counter!(CHECKS, "reason" => reason.to_owned()).increment(1);
}

pub(crate) fn job_run(job: &'static str, outcome: &'static str) {
    counter!(JOB_RUNS, "job" => job, "outcome" => outcome).increment(1);
    if outcome == "failed" {
        counter!(JOB_FAILURES, "job" => job).increment(1);
    }
}

pub(crate) fn http_request(method: &str, route: &str, status: u16, took: Duration) {
    let method = method.to_owned();
    let route = route.to_owned();
    counter!(HTTP_REQUESTS, "method" => method.clone(), "route" => route.clone(),
        "status" => status.to_string())
    .increment(1);
    histogram!(HTTP_DURATION, "method" => method, "route" => route).record(seconds(took));
}

pub(crate) fn alert_sent(transition: &str) {
    counter!(ALERTS_SENT, "transition" => transition.to_owned()).increment(1);
}

pub(crate) fn event_delivered(event_type: &str) {
    counter!(EVENTS_DELIVERED, "type" => event_type.to_owned()).increment(1);
}

/// A failed attempt to deliver to `target` (`alerts` or `events`).
pub(crate) fn delivery_failed(target: &'static str) {
    counter!(DELIVERY_FAILURES, "target" => target).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polar_endpoints_keep_ids_out() {
        assert_eq!(
            polar_endpoint("GET", "/v1/customers/external/user_1/state"),
            "GET /v1/customers"
        );
        assert_eq!(polar_endpoint("POST", "/v1/refunds/"), "POST /v1/refunds");
    }
}
