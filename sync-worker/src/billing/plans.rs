//! Which Polar product sells a plan, and which subscription gives a customer the plan they
//! are on now: what checkouts and plan changes start from.

use super::{Billing, BillingError, field, id_of};
use crate::account;
use crate::db;

use serde_json::Value;
use sqlx::PgConnection;
use std::collections::HashMap;
use tollgate_gate::{Plan, Timestamp, build_snapshot};

/// The customer's entitling subscription, as the engine sees it now.
#[derive(Debug, Clone)]
pub(super) struct Holding {
    /// The effective plan's key.
    pub(super) plan: String,
    /// The subscription that entitles it (Polar's object), unless on the default plan.
    pub(super) subscription: Option<Value>,
}

impl Billing {
    /// The Polar product that sells `plan`: the first of its `polar_products`, else a product
    /// (not archived) whose metadata has every pair of its `polar_metadata`.
    pub(super) async fn product_of(
        &self,
        conn: &mut PgConnection,
        plan: &Plan,
    ) -> Result<String, BillingError> {
        if let Some(product) = plan.polar_products.first() {
            return Ok(product.clone());
        }
        let not_for_sale = |why: &str| {
            BillingError::PlanNotForSale(format!("plan `{}` is not for sale: {why}", plan.key))
        };
        if plan.key == self.catalog.default_plan().key {
            return Err(not_for_sale("it is the default plan, held without paying"));
        }
        if plan.polar_metadata.is_empty() {
            return Err(not_for_sale("the catalog names no Polar product for it"));
        }
        let products = db::products::live(conn).await?;
        products
            .into_iter()
            .find(|product| plan.sells(product))
            .map(|product| product.id)
            .ok_or_else(|| {
                not_for_sale("no Polar product known to tollgate has its metadata (run `tollgate sync products`?)")
            })
    }

    /// The customer's effective plan now and the subscription that gives it.
    pub(super) async fn holding(
        &self,
        conn: &mut PgConnection,
        customer: &str,
    ) -> Result<Holding, BillingError> {
        let account = account::load_one(conn, customer).await?;
        let raws: HashMap<String, Value> = db::subscriptions::raw_of_customer(conn, customer)
            .await?
            .into_iter()
            .map(|subscription| (id_of(&subscription), subscription))
            .collect();
        let now = Timestamp::from(self.clock.now());
        let built = build_snapshot(&self.catalog, &account, now);
        let plan = built.plan.key.clone();
        let subscription = built
            .subscriptions
            .iter()
            .filter(|s| s.plan.as_deref() == Some(plan.as_str()) && s.ended_at.is_none())
            .filter_map(|s| raws.get(&s.id).map(|raw| (s.current_period_start, raw)))
            .filter(|(_, raw)| {
                matches!(
                    field(raw, "status").as_str(),
                    Some("active" | "trialing" | "past_due")
                )
            })
            .max_by_key(|(start, _)| *start)
            .map(|(_, raw)| raw.clone());
        Ok(Holding { plan, subscription })
    }
}
