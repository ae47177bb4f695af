//! Reconciliation: Polar's REST API is the truth; webhooks are hints.
//!
//! Polar stops delivering a webhook after about half an hour of failures, and an operator may
//! change things in Polar's dashboard while tollgate is down. Reconciliation pages through
//! Polar's lists and repairs whatever the database got wrong. For one resource:
//!
//! 1. **List** Polar's objects, 100 per page, oldest first: ⌈N/100⌉ requests. The client waits
//!    out 429s and retries transient failures, so a busy Polar slows a reconcile down without
//!    failing it.
//! 2. **Diff** by version: an object the database lacks is *missing*; one whose `modified_at`
//!    (or `created_at`) is newer in Polar than the stored `version_at` is *outdated*. A stored
//!    version that is newer than the listed one is left alone: a webhook beat the list page.
//! 3. **Repair** each drifted object through [`crate::webhooks::apply_and_rebuild`], exactly as if its webhook
//!    had arrived: the same newer-version rule, the same upserts, the same snapshot rebuilds
//!    and outbox rows. In the same transaction an `audit_log` row records the stored version
//!    before and Polar's version after. One object per transaction, [`REPAIR_CONCURRENCY`]
//!    at a time: a bad object is counted and logged, and the rest are still repaired.
//! 4. **Vanished objects**: a live customer Polar no longer lists is fetched by id; a 404
//!    means it was deleted without a webhook, so it is marked deleted (audited, snapshot
//!    rebuilt without its subscriptions). A live subscription missing from the list of live
//!    subscriptions is fetched by id and applied, so it ends in tollgate too.
//!
//! A *full* reconcile lists everything. An *incremental* one lists only what can have changed
//! cheaply: orders created since the last successful sync (with an hour of overlap for clock
//! skew) and live (`active`, `trialing`, `past_due`) subscriptions; products, customers and
//! benefit grants are small enough to list whole every time.

mod repair;
pub(crate) mod resource;
pub(crate) mod terminal;

pub(crate) use repair::{Drift, RepairError};
pub use resource::Resource;

use crate::db;
use crate::polar::Versioned;
use crate::polar_client::{PolarClient, PolarError};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize as _, Serialize};
use serde_json::Value;
use sqlx::PgPool;
use std::sync::Arc;
use tollgate_gate::Catalog;

/// How far back an incremental order sync looks before the last successful one.
pub(crate) const INCREMENTAL_OVERLAP: Duration = Duration::hours(1);

/// Repairs applied at the same time.
pub(crate) const REPAIR_CONCURRENCY: usize = 8;

/// Subscription statuses that still entitle (or may again): an incremental sync lists these.
pub(crate) const LIVE_STATUSES: [&str; 3] = ["active", "trialing", "past_due"];

/// How much a reconcile lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Full,
    Incremental,
}

/// What reconciliation needs: the database, the catalog and a Polar client.
#[derive(Debug, Clone)]
pub struct Reconciler {
    pub pool: PgPool,
    pub catalog: Arc<Catalog>,
    pub polar: PolarClient,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReconcileError {
    #[error("listing Polar's {resource} failed: {source}")]
    List {
        resource: Resource,
        #[source]
        source: PolarError,
    },
    #[error("reading the stored {resource} failed: {source}")]
    Database {
        resource: Resource,
        #[source]
        source: sqlx::Error,
    },
}

/// What reconciling one resource did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Objects Polar listed (and fetched by id).
    pub fetched: u64,
    /// Requests sent to Polar, retries and waits included.
    pub requests: u64,
    /// Drifted objects whose repair changed the database (each one audited).
    pub repaired: u64,
    pub missing: u64,
    pub outdated: u64,
    pub deleted: u64,
    /// Drifted objects that could not be repaired (logged; retried by the next reconcile).
    pub failed: u64,
}

impl Report {
    fn count(&mut self, drift: Drift) {
        self.repaired += 1;
        match drift {
            Drift::Missing => self.missing += 1,
            Drift::Outdated => self.outdated += 1,
            Drift::Deleted => self.deleted += 1,
        }
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Report) {
        self.fetched += other.fetched;
        self.requests += other.requests;
        self.repaired += other.repaired;
        self.missing += other.missing;
        self.outdated += other.outdated;
        self.deleted += other.deleted;
        self.failed += other.failed;
    }
}

/// Hears how a reconcile is going (the CLI's progress bar).
pub trait Progress: Send + Sync {
    /// `done` of `total` objects of `resource` listed so far.
    fn listed(&self, resource: Resource, done: u64, total: u64);
    /// `resource` is reconciled.
    fn finished(&self, resource: Resource, report: &Report);
}

/// A [`Progress`] that hears nothing (scheduled jobs log their summary instead).
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Progress for Quiet {
    fn listed(&self, _: Resource, _: u64, _: u64) {}
    fn finished(&self, _: Resource, _: &Report) {}
}

impl Reconciler {
    /// Reconciles each of `resources` in turn, stopping at the first that cannot be listed.
    pub async fn run(
        &self,
        resources: &[Resource],
        mode: Mode,
        now: DateTime<Utc>,
        progress: &dyn Progress,
    ) -> Result<Vec<(Resource, Report)>, ReconcileError> {
        let mut reports = Vec::with_capacity(resources.len());
        for &resource in resources {
            let report = self.resource(resource, mode, now, progress).await?;
            progress.finished(resource, &report);
            reports.push((resource, report));
        }
        Ok(reports)
    }

    /// Reconciles one resource (steps 1–4 of the module docs).
    #[tracing::instrument(skip_all, fields(resource = %resource, mode = ?mode))]
    pub(crate) async fn resource(
        &self,
        resource: Resource,
        mode: Mode,
        now: DateTime<Utc>,
        progress: &dyn Progress,
    ) -> Result<Report, ReconcileError> {
        let polar = self.polar.counted();
        let database = |source| ReconcileError::Database { resource, source };
        let since = match (mode, resource) {
            (Mode::Incremental, Resource::Orders) => {
                let mut conn = self.pool.acquire().await.map_err(database)?;
                db::sync_cursors::synced_at(&mut conn, resource.as_str())
                    .await
                    .map_err(database)?
                    .map(|at| at - INCREMENTAL_OVERLAP)
            }
            _ => None,
        };
        let live_only = mode == Mode::Incremental && resource == Resource::Subscriptions;
        let query = list_query(resource, since, live_only);
        let items: Vec<Value> = polar
            .list_all(resource.list_path(), &query, |done, total| {
                progress.listed(resource, done, total);
            })
            .await
            .map_err(|source| ReconcileError::List { resource, source })?;

        let mut report = Report {
            fetched: items.len() as u64,
            ..Report::default()
        };
        let listed = self
            .diff_and_repair(resource, items, now, &mut report)
            .await?;

        // Objects that should have been listed and were not (step 4).
        let vanished = match resource {
            Resource::Customers => {
                let mut conn = self.pool.acquire().await.map_err(database)?;
                db::customers::live_ids(&mut conn).await.map_err(database)?
            }
            // A full list holds every subscription Polar has (it never deletes one).
            Resource::Subscriptions if live_only => {
                let mut conn = self.pool.acquire().await.map_err(database)?;
                db::subscriptions::ids_in(&mut conn, &LIVE_STATUSES)
                    .await
                    .map_err(database)?
            }
            _ => Vec::new(),
        };
        for id in vanished.into_iter().filter(|id| !listed.contains(id)) {
            self.fetch_vanished(&polar, resource, &id, now, &mut report)
                .await;
        }

        // A failed repair keeps the cursor where it was, so the next incremental sync lists
        // that object again.
        if report.failed == 0 {
            let mut conn = self.pool.acquire().await.map_err(database)?;
            db::sync_cursors::advance(&mut conn, resource.as_str(), now, mode == Mode::Full)
                .await
                .map_err(database)?;
        }
        report.requests = polar.counted_requests();
        tracing::info!(
            fetched = report.fetched,
            repaired = report.repaired,
            failed = report.failed,
            requests = report.requests,
            "reconciled"
        );
        Ok(report)
    }

    /// Steps 2 and 3; returns the ids Polar listed.
    async fn diff_and_repair(
        &self,
        resource: Resource,
        items: Vec<Value>,
        now: DateTime<Utc>,
        report: &mut Report,
    ) -> Result<std::collections::HashSet<String>, ReconcileError> {
        let mut versioned = Vec::with_capacity(items.len());
        for item in items {
            match Versioned::deserialize(&item) {
                Ok(version) => versioned.push((version, item)),
                Err(_) => {
                    report.failed += 1;
                    tracing::warn!(
                        resource = resource.as_str(),
                        "Polar listed an object without an id and dates; skipped"
                    );
                }
            }
        }
        let ids: Vec<String> = versioned.iter().map(|(v, _)| v.id.clone()).collect();
        let stored = {
            let mut conn = self
                .pool
                .acquire()
                .await
                .map_err(|source| ReconcileError::Database { resource, source })?;
            db::objects::versions(&mut conn, resource.table(), &ids)
                .await
                .map_err(|source| ReconcileError::Database { resource, source })?
        };
        // Repairs run a few at a time: each is its own short transaction, and the database,
        // not Polar, is the bottleneck once the lists are in.
        let mut repairs = tokio::task::JoinSet::new();
        for (version, item) in versioned {
            let drift = match stored.get(&version.id) {
                None => Drift::Missing,
                Some(at) if version.version_at() > *at => Drift::Outdated,
                Some(_) => continue,
            };
            while repairs.len() >= REPAIR_CONCURRENCY {
                if let Some(outcome) = repairs.join_next().await {
                    count_repair(outcome, report);
                }
            }
            let (pool, catalog) = (self.pool.clone(), Arc::clone(&self.catalog));
            repairs.spawn(async move {
                let id = version.id;
                let outcome =
                    repair::repair(&pool, &catalog, resource, &id, drift, item, now).await;
                (drift, outcome)
            });
        }
        while let Some(outcome) = repairs.join_next().await {
            count_repair(outcome, report);
        }
        Ok(ids.into_iter().collect())
    }

    /// Fetches an object Polar did not list and applies what Polar says of it.
    async fn fetch_vanished(
        &self,
        polar: &PolarClient,
        resource: Resource,
        id: &str,
        now: DateTime<Utc>,
        report: &mut Report,
    ) {
        let Some(path) = resource.get_path(id) else {
            return;
        };
        match polar.get::<Value>(&path, &[]).await {
            Ok(object) => {
                report.fetched += 1;
                self.repair(resource, id, Drift::Outdated, object, now, report)
                    .await;
            }
            Err(error) if error.is_not_found() && resource == Resource::Customers => {
                self.mark_customer_deleted(id, now, report).await;
            }
            Err(error) => {
                report.failed += 1;
                tracing::warn!(
                    resource = resource.as_str(),
                    id,
                    error = %crate::error::error_chain(&error),
                    "could not fetch an object Polar did not list"
                );
            }
        }
    }

    async fn mark_customer_deleted(&self, id: &str, now: DateTime<Utc>, report: &mut Report) {
        let resource = Resource::Customers;
        let stored = match self.pool.acquire().await {
            Ok(mut conn) => db::objects::lock(&mut conn, resource.table(), id).await,
            Err(error) => Err(error),
        };
        match stored {
            Ok(Some(raw)) => {
                let after = repair::deleted_customer(&raw, now);
                self.repair(resource, id, Drift::Deleted, after, now, report)
                    .await;
            }
            Ok(None) => {}
            Err(error) => {
                report.failed += 1;
                tracing::warn!(id, error = %error, "could not read a customer Polar deleted");
            }
        }
    }

    async fn repair(
        &self,
        resource: Resource,
        id: &str,
        drift: Drift,
        after: Value,
        now: DateTime<Utc>,
        report: &mut Report,
    ) {
        match repair::repair(&self.pool, &self.catalog, resource, id, drift, after, now).await {
            Ok(true) => report.count(drift),
            Ok(false) => {}
            Err(error) => {
                report.failed += 1;
                tracing::warn!(
                    error = %crate::error::error_chain(&error),
                    "repairing drift failed; the next reconcile tries again"
                );
            }
        }
    }
}

/// Counts the outcome of one concurrent repair.
fn count_repair(
    outcome: Result<(Drift, Result<bool, RepairError>), tokio::task::JoinError>,
    report: &mut Report,
) {
    match outcome {
        Ok((drift, Ok(true))) => report.count(drift),
        Ok((_, Ok(false))) => {}
        Ok((_, Err(error))) => {
            report.failed += 1;
            tracing::warn!(
                error = %crate::error::error_chain(&error),
                "repairing drift failed; the next reconcile tries again"
            );
        }
        Err(error) => {
            report.failed += 1;
            tracing::error!(error = %error, "a repair task ended abnormally");
        }
    }
}

/// The query of a list request (pagination is added by the client).
fn list_query(
    resource: Resource,
    since: Option<DateTime<Utc>>,
    live_only: bool,
) -> Vec<(&'static str, String)> {
    let mut query = vec![("sorting", resource.sorting().to_owned())];
    if let Some(since) = since {
        query.push((
            "created_after",
            since.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        ));
    }
    if live_only {
        query.extend(LIVE_STATUSES.iter().map(|s| ("status", (*s).to_owned())));
    }
    query
}
