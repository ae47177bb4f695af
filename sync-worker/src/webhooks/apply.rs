//! Applying Polar events to the database.
//!
//! Each event carries a full snapshot of its object (and, for subscriptions, orders and grants,
//! the customer and product it belongs to). Each object is upserted under the newer-version
//! rule of [`crate::db`], so applying an old, duplicate or reordered event is harmless. When an
//! object that feeds the engine (customer, product, subscription, benefit grant) changed, the
//! customers it concerns are noted in [`Affected`]; their snapshots are rebuilt once, after
//! every event of a batch is applied. Orders, refunds and checkouts are billing history:
//! stored, but no rule reads them.

use crate::db::{self, webhook_events::Status};
use crate::polar::{self, Event, Object};
use crate::snapshot::{self, SnapshotError};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use sqlx::PgConnection;
use std::collections::BTreeSet;
use tollgate_gate::Catalog;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ApplyError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
}

/// The customers whose snapshots applied events may have changed.
#[derive(Debug, Default)]
pub(crate) struct Affected {
    /// Polar customer ids.
    customers: BTreeSet<String>,
    /// Products whose change concerns every subscriber (their metadata picks the plan).
    products: BTreeSet<String>,
}

impl Affected {
    /// Rebuilds the snapshot of every affected customer that has an external id, once each.
    pub(crate) async fn rebuild(
        self,
        conn: &mut PgConnection,
        catalog: &Catalog,
        now: DateTime<Utc>,
    ) -> Result<(), SnapshotError> {
        if self.customers.is_empty() && self.products.is_empty() {
            return Ok(());
        }
        let customers = self.customers.into_iter().collect::<Vec<_>>();
        let mut external_ids = db::customers::external_ids(conn, &customers)
            .await?
            .into_iter()
            .collect::<BTreeSet<_>>();
        for product in &self.products {
            external_ids.extend(db::products::subscriber_external_ids(conn, product).await?);
        }
        snapshot::rebuild_many(conn, catalog, &external_ids, now).await?;
        Ok(())
    }
}

/// Applies `event` and rebuilds the snapshots it affects, inside the caller's transaction.
pub(crate) async fn apply_and_rebuild(
    conn: &mut PgConnection,
    catalog: &Catalog,
    event: &Event,
    now: DateTime<Utc>,
) -> Result<Status, ApplyError> {
    let mut affected = Affected::default();
    let applied = apply(conn, event, &mut affected).await?;
    affected.rebuild(conn, catalog, now).await?;
    Ok(applied)
}

/// Applies `event` inside the caller's transaction, noting in `affected` whose snapshots to
/// rebuild. The status says what it did: `Applied` (a stored object changed), `Stale`
/// (everything it carries was already stored in this or a newer version) or `Ignored` (a type
/// tollgate does not apply).
pub(crate) async fn apply(
    conn: &mut PgConnection,
    event: &Event,
    affected: &mut Affected,
) -> Result<Status, sqlx::Error> {
    let Some(object) = &event.object else {
        return Ok(Status::Ignored);
    };
    let changed = match object {
        Object::Subscription(subscription, raw) => {
            let embedded = Embedded::of(raw);
            let customer = embedded.customer();
            let product = embedded.product();
            let changed = db::subscriptions::upsert_with_embedded(
                conn,
                subscription,
                raw,
                customer.as_ref().map(|(view, raw)| (view, *raw)),
                product.as_ref().map(|(view, raw)| (view, *raw)),
            )
            .await?;
            if let Some((product, _)) = product.as_ref().filter(|_| changed.product) {
                affected.products.insert(product.version.id.clone());
            }
            if changed.subscription || changed.customer {
                affected.customers.insert(subscription.customer_id.clone());
            }
            changed.subscription || changed.customer || changed.product
        }
        Object::Customer(customer, raw) => {
            let changed = db::customers::upsert(conn, customer, raw).await?;
            if changed {
                affected.customers.insert(customer.version.id.clone());
            }
            changed
        }
        Object::Product(product, raw) => {
            let changed = db::products::upsert(conn, product, raw).await?;
            if changed {
                affected.products.insert(product.version.id.clone());
            }
            changed
        }
        Object::BenefitGrant(grant, raw) => {
            let customer = upsert_embedded_customer(conn, raw).await?;
            let own = db::benefit_grants::upsert(conn, grant, raw).await?;
            if own || customer {
                affected.customers.insert(grant.customer_id.clone());
            }
            own || customer
        }
        Object::Order(order, raw) => {
            let customer = upsert_embedded_customer(conn, raw).await?;
            let own = db::orders::upsert(conn, order, raw).await?;
            if customer {
                affected.customers.insert(order.customer_id.clone());
            }
            own || customer
        }
        Object::Refund(refund, raw) => db::refunds::upsert(conn, refund, raw).await?,
        Object::Checkout(checkout, raw) => db::checkouts::upsert(conn, checkout, raw).await?,
    };
    Ok(if changed {
        Status::Applied
    } else {
        Status::Stale
    })
}

/// Stores the customer embedded in `raw` (when it is a full customer); returns whether the
/// stored customer changed.
async fn upsert_embedded_customer(
    conn: &mut PgConnection,
    raw: &RawValue,
) -> Result<bool, sqlx::Error> {
    match Embedded::of(raw).customer() {
        Some((customer, raw)) => db::customers::upsert(conn, &customer, raw).await,
        None => Ok(false),
    }
}

/// The ids of the full customer and product embedded in `raw`, as [`apply`] reads them.
#[cfg(feature = "fuzzing")]
pub(crate) fn embedded_ids(raw: &RawValue) -> (Option<String>, Option<String>) {
    let embedded = Embedded::of(raw);
    (
        embedded.customer().map(|(customer, _)| customer.version.id),
        embedded.product().map(|(product, _)| product.version.id),
    )
}

/// The objects Polar embeds in a subscription, order or grant, as their JSON text.
#[derive(Debug, Default, Deserialize)]
struct Embedded<'a> {
    #[serde(borrow, default)]
    customer: Option<&'a RawValue>,
    #[serde(borrow, default)]
    product: Option<&'a RawValue>,
}

impl<'a> Embedded<'a> {
    fn of(raw: &'a RawValue) -> Self {
        serde_json::from_str(raw.get()).unwrap_or_default()
    }

    /// The embedded customer, when it is a full one.
    fn customer(&self) -> Option<(polar::Customer, &'a RawValue)> {
        full(self.customer)
    }

    /// The embedded product, when it is a full one.
    fn product(&self) -> Option<(polar::Product, &'a RawValue)> {
        full(self.product)
    }
}

/// The view of an embedded object and its text, when it is a full object.
fn full<T: polar::View>(raw: Option<&RawValue>) -> Option<(T, &RawValue)> {
    let raw = raw.filter(|raw| polar::is_object(raw))?;
    polar::view::<T>(raw).ok().map(|view| (view, raw))
}
