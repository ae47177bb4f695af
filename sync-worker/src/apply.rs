//! Applying one Polar event to the database.
//!
//! Each event carries a full snapshot of its object (and, for subscriptions, orders and grants,
//! the customer and product it belongs to). Each object is upserted under the newer-version
//! rule of [`crate::db`], so applying an old, duplicate or reordered event is harmless. When an
//! object that feeds the engine (customer, product, subscription, benefit grant) changed, the
//! snapshots of the customers it concerns are rebuilt. Orders, refunds and checkouts are
//! billing history: stored, but no rule reads them.

use crate::db;
use crate::polar::{self, Event, Object};
use crate::snapshot::{self, SnapshotError};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::Value;
use sqlx::PgConnection;
use tollgate_gate::Catalog;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
}

/// What applying an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// At least one stored object changed.
    Changed,
    /// Everything it carries was already stored in this or a newer version.
    Stale,
    /// An event type tollgate does not apply.
    Ignored,
}

/// Applies `event` at `now` inside the caller's transaction.
pub async fn apply(
    conn: &mut PgConnection,
    catalog: &Catalog,
    event: &Event,
    now: DateTime<Utc>,
) -> Result<Applied, ApplyError> {
    let Some(object) = &event.object else {
        return Ok(Applied::Ignored);
    };
    let changed = match object {
        Object::Subscription(subscription, raw) => {
            let customer = embedded::<polar::Customer>(raw, "customer");
            let product = embedded::<polar::Product>(raw, "product");
            let changed = db::subscriptions::upsert_with_embedded(
                conn,
                subscription,
                raw,
                customer.as_ref().map(|(view, raw)| (view, *raw)),
                product.as_ref().map(|(view, raw)| (view, *raw)),
            )
            .await?;
            if let Some((product, _)) = product.as_ref().filter(|_| changed.product) {
                rebuild_subscribers(conn, catalog, &product.version.id, now).await?;
            } else if changed.subscription || changed.customer {
                snapshot::rebuild_polar_customer(conn, catalog, &subscription.customer_id, now)
                    .await?;
            }
            changed.subscription || changed.customer || changed.product
        }
        Object::Customer(customer, raw) => {
            let changed = db::customers::upsert(conn, customer, raw).await?;
            if changed {
                snapshot::rebuild_polar_customer(conn, catalog, &customer.version.id, now).await?;
            }
            changed
        }
        Object::Product(product, raw) => {
            let changed = db::products::upsert(conn, product, raw).await?;
            if changed {
                rebuild_subscribers(conn, catalog, &product.version.id, now).await?;
            }
            changed
        }
        Object::BenefitGrant(grant, raw) => {
            let customer = upsert_embedded_customer(conn, raw).await?;
            let own = db::benefit_grants::upsert(conn, grant, raw).await?;
            if own || customer {
                snapshot::rebuild_polar_customer(conn, catalog, &grant.customer_id, now).await?;
            }
            own || customer
        }
        Object::Order(order, raw) => {
            let customer = upsert_embedded_customer(conn, raw).await?;
            let own = db::orders::upsert(conn, order, raw).await?;
            if customer {
                snapshot::rebuild_polar_customer(conn, catalog, &order.customer_id, now).await?;
            }
            own || customer
        }
        Object::Refund(refund, raw) => db::refunds::upsert(conn, refund, raw).await?,
        Object::Checkout(checkout, raw) => db::checkouts::upsert(conn, checkout, raw).await?,
    };
    Ok(if changed {
        Applied::Changed
    } else {
        Applied::Stale
    })
}

/// Stores the customer embedded in `raw` (when it is a full customer); returns whether the
/// stored customer changed.
async fn upsert_embedded_customer(
    conn: &mut PgConnection,
    raw: &Value,
) -> Result<bool, sqlx::Error> {
    match embedded::<polar::Customer>(raw, "customer") {
        Some((customer, raw)) => db::customers::upsert(conn, &customer, raw).await,
        None => Ok(false),
    }
}

fn embedded<'a, T: DeserializeOwned>(raw: &'a Value, field: &str) -> Option<(T, &'a Value)> {
    let value = raw.get(field).filter(|value| value.is_object())?;
    T::deserialize(value).ok().map(|view| (view, value))
}

/// Rebuilds every snapshot that depends on `product_id` (its metadata picks the plan).
async fn rebuild_subscribers(
    conn: &mut PgConnection,
    catalog: &Catalog,
    product_id: &str,
    now: DateTime<Utc>,
) -> Result<(), SnapshotError> {
    for external_id in db::products::subscriber_external_ids(conn, product_id).await? {
        snapshot::rebuild(conn, catalog, &external_id, now).await?;
    }
    Ok(())
}
