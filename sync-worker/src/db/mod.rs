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

pub mod accounts;
pub mod alerts;
pub mod api_key_outbox;
pub mod api_keys;
pub mod api_tokens;
pub mod audit;
pub mod benefit_grants;
pub mod checkouts;
pub mod clerk_events;
pub mod customers;
pub mod grants;
pub mod idempotency_keys;
pub mod job_runs;
pub mod metered_customers;
pub mod objects;
pub mod orders;
pub mod overage_outbox;
pub mod products;
pub mod publish_outbox;
pub mod refunds;
pub mod snapshots;
pub mod subscriptions;
pub mod support;
pub mod sync_cursors;
pub mod usage_adjustments;
pub mod usage_counters;
pub mod usage_events;
pub mod usage_gauges;
pub mod webhook_events;

/// Rows of an export, streamed as the database sends them, each column as text.
pub type ExportRows<'a> =
    futures_util::stream::BoxStream<'a, Result<sqlx::postgres::PgRow, sqlx::Error>>;

/// Whether PostgreSQL answers.
pub async fn ping(pool: &sqlx::PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await.map(drop)
}

/// The database's migrations, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");
