//! PostgreSQL access, one file per table: every SQL statement of the service lives here.
//! ([`accounts`] reads the engine's input across the Polar object tables; [`objects`] holds
//! what those tables share.)
//!
//! Every function takes `&mut PgConnection`, so callers compose them inside one transaction.
//! Polar objects are upserted under one rule: a row is only replaced by a strictly newer
//! version (`version_at`, the object's `modified_at` or else `created_at`), which makes applying
//! the same or an older webhook a no-op whatever order deliveries arrive in.
//!
//! Each upsert first checks, without locking, that no version as new is stored
//! (`INSERT … SELECT … WHERE NOT EXISTS`): `ON CONFLICT DO UPDATE` locks the existing row even
//! when its `WHERE` then declines the update, and the product that every subscription event
//! embeds would otherwise serialise all deliveries on one row lock.

pub(crate) mod accounts;
pub(crate) mod alert_outbox;
pub(crate) mod alerts;
pub(crate) mod analytics;
pub(crate) mod api_key_outbox;
pub(crate) mod api_keys;
pub(crate) mod api_tokens;
pub(crate) mod app_events;
pub(crate) mod audit;
pub(crate) mod benefit_grants;
pub(crate) mod checkouts;
pub(crate) mod clerk_events;
pub(crate) mod customers;
pub(crate) mod grants;
pub(crate) mod idempotency_keys;
pub(crate) mod job_runs;
pub(crate) mod leases;
pub(crate) mod metered_customers;
pub(crate) mod objects;
pub(crate) mod orders;
pub(crate) mod overage_outbox;
pub(crate) mod products;
pub(crate) mod publish_outbox;
pub(crate) mod refunds;
pub mod snapshots;
pub(crate) mod subscriptions;
pub(crate) mod support;
pub(crate) mod sync_cursors;
pub(crate) mod usage_adjustments;
pub(crate) mod usage_counters;
pub(crate) mod usage_events;
pub(crate) mod usage_gauges;
pub(crate) mod usage_monthly;
pub(crate) mod webhook_events;

/// Rows of an export, streamed as the database sends them, each column as text.
pub(crate) type ExportRows<'a> =
    futures_util::stream::BoxStream<'a, Result<sqlx::postgres::PgRow, sqlx::Error>>;

/// Whether PostgreSQL answers.
pub(crate) async fn ping(pool: &sqlx::PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await.map(drop)
}

/// The database's migrations, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");
