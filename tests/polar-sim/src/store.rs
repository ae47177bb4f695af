//! The simulator's whole state: one organization's objects and the simulated clock.
//!
//! Everything lives behind one mutex (see `Sim`), so an operation and the webhooks it emits see
//! one consistent picture. Lookups here accept the references people type: a UUID, a customer's
//! `external_id`, or a product's plan key (its `plan` metadata) or name.

use std::collections::{BTreeMap, HashMap, HashSet};

use uuid::Uuid;

use crate::clock::SimClock;
use crate::error::SimError;
use crate::model::{
    Benefit, BenefitGrant, Checkout, Customer, CustomerMeter, CustomerSession, Meter, Order,
    Product, Refund, Subscription, UsageEvent,
};

#[derive(Debug)]
pub struct State {
    pub clock: SimClock,
    pub organization_id: Uuid,
    /// Where the simulator is reachable, for checkout and portal URLs.
    pub base_url: String,
    pub products: BTreeMap<Uuid, Product>,
    pub benefits: BTreeMap<Uuid, Benefit>,
    pub meters: BTreeMap<Uuid, Meter>,
    pub customers: BTreeMap<Uuid, Customer>,
    /// Live customers by `external_id` (a deleted customer's id is free for reuse, as in Polar).
    external_ids: HashMap<String, Uuid>,
    /// Customers by lower-cased email; entries may be stale and are checked on use.
    emails: HashMap<String, Uuid>,
    pub subscriptions: BTreeMap<Uuid, Subscription>,
    pub orders: BTreeMap<Uuid, Order>,
    pub refunds: BTreeMap<Uuid, Refund>,
    pub grants: BTreeMap<Uuid, BenefitGrant>,
    /// Grant ids by subscription, so lifecycle steps need not scan every grant.
    grants_by_subscription: HashMap<Uuid, Vec<Uuid>>,
    pub checkouts: BTreeMap<Uuid, Checkout>,
    pub sessions: BTreeMap<Uuid, CustomerSession>,
    pub customer_meters: BTreeMap<Uuid, CustomerMeter>,
    pub usage_events: Vec<UsageEvent>,
    /// `external_id`s of ingested events: Polar skips repeats per organization.
    pub usage_external_ids: HashSet<String>,
    /// Products an order or a subscription has referenced: Polar no longer lets them be deleted
    /// (`Product.is_deletable`).
    pub used_products: HashSet<Uuid>,
    /// Proration lines of `prorate` product changes, by subscription, billed with its next
    /// renewal order: `(label, amount, is_proration)`.
    pub pending_prorations: HashMap<Uuid, Vec<(String, i64, bool)>>,
    invoice_seq: u64,
}

impl State {
    pub fn new(clock: SimClock, base_url: String) -> Self {
        Self {
            clock,
            organization_id: Uuid::new_v4(),
            base_url,
            products: BTreeMap::new(),
            benefits: BTreeMap::new(),
            meters: BTreeMap::new(),
            customers: BTreeMap::new(),
            external_ids: HashMap::new(),
            emails: HashMap::new(),
            subscriptions: BTreeMap::new(),
            orders: BTreeMap::new(),
            refunds: BTreeMap::new(),
            grants: BTreeMap::new(),
            grants_by_subscription: HashMap::new(),
            checkouts: BTreeMap::new(),
            sessions: BTreeMap::new(),
            customer_meters: BTreeMap::new(),
            usage_events: Vec::new(),
            usage_external_ids: HashSet::new(),
            used_products: HashSet::new(),
            pending_prorations: HashMap::new(),
            invoice_seq: 0,
        }
    }

    /// The next invoice number, Polar style (`SIM-0001`).
    pub fn next_invoice_number(&mut self) -> String {
        self.invoice_seq += 1;
        format!("SIM-{:04}", self.invoice_seq)
    }

    /// A live (not deleted) customer by id.
    pub fn customer(&self, id: Uuid) -> Result<&Customer, SimError> {
        self.customers
            .get(&id)
            .filter(|c| c.deleted_at.is_none())
            .ok_or_else(|| SimError::not_found_id("customer", id))
    }

    /// A live customer by its `external_id`.
    pub fn customer_by_external_id(&self, external_id: &str) -> Option<&Customer> {
        self.external_ids
            .get(external_id)
            .and_then(|id| self.customers.get(id))
            .filter(|c| c.deleted_at.is_none())
    }

    /// Whether a live customer other than `except` has this email (case-insensitive).
    pub fn email_taken(&self, email: &str, except: Option<Uuid>) -> bool {
        self.emails
            .get(&email.to_lowercase())
            .and_then(|id| self.customers.get(id))
            .is_some_and(|c| {
                c.deleted_at.is_none()
                    && Some(c.id) != except
                    && c.email.eq_ignore_ascii_case(email)
            })
    }

    /// Keeps the `external_id` and email indexes in step with a customer after a change.
    pub fn index_customer(&mut self, id: Uuid) {
        let Some(c) = self.customers.get(&id) else {
            return;
        };
        if c.deleted_at.is_none() {
            self.emails.insert(c.email.to_lowercase(), id);
        }
        if let Some(ext) = c.external_id.clone() {
            if c.deleted_at.is_none() {
                self.external_ids.insert(ext, id);
            } else if self.external_ids.get(&ext) == Some(&id) {
                self.external_ids.remove(&ext);
            }
        }
    }

    /// A live customer by UUID or `external_id`.
    pub fn resolve_customer(&self, reference: &str) -> Result<Uuid, SimError> {
        if let Ok(id) = Uuid::parse_str(reference)
            && let Ok(c) = self.customer(id)
        {
            return Ok(c.id);
        }
        self.customer_by_external_id(reference)
            .map(|c| c.id)
            .ok_or_else(|| SimError::not_found("customer", reference))
    }

    /// A product by UUID, `plan` metadata value, or name (case-insensitive).
    pub fn resolve_product(&self, reference: &str) -> Result<Uuid, SimError> {
        if let Ok(id) = Uuid::parse_str(reference)
            && self.products.contains_key(&id)
        {
            return Ok(id);
        }
        let by_plan = self.products.values().find(|p| {
            !p.is_archived && p.metadata.get("plan").and_then(|v| v.as_str()) == Some(reference)
        });
        by_plan
            .or_else(|| {
                self.products
                    .values()
                    .find(|p| p.name.eq_ignore_ascii_case(reference))
            })
            .map(|p| p.id)
            .ok_or_else(|| SimError::not_found("product", reference))
    }

    pub fn product(&self, id: Uuid) -> Result<&Product, SimError> {
        self.products
            .get(&id)
            .ok_or_else(|| SimError::not_found_id("product", id))
    }

    pub fn subscription(&self, id: Uuid) -> Result<&Subscription, SimError> {
        self.subscriptions
            .get(&id)
            .ok_or_else(|| SimError::not_found_id("subscription", id))
    }

    pub fn subscription_mut(&mut self, id: Uuid) -> Result<&mut Subscription, SimError> {
        self.subscriptions
            .get_mut(&id)
            .ok_or_else(|| SimError::not_found_id("subscription", id))
    }

    pub fn order(&self, id: Uuid) -> Result<&Order, SimError> {
        self.orders
            .get(&id)
            .ok_or_else(|| SimError::not_found_id("order", id))
    }

    /// A subscription by UUID, or the most recent one that has not ended of a customer
    /// (given by UUID or `external_id`).
    pub fn resolve_subscription(&self, reference: &str) -> Result<Uuid, SimError> {
        if let Ok(id) = Uuid::parse_str(reference)
            && self.subscriptions.contains_key(&id)
        {
            return Ok(id);
        }
        let customer = self
            .resolve_customer(reference)
            .map_err(|_| SimError::not_found("subscription", reference))?;
        self.subscriptions
            .values()
            .filter(|s| s.customer_id == customer && !s.status.is_revoked())
            .max_by_key(|s| s.created_at)
            .map(|s| s.id)
            .ok_or_else(|| SimError::not_found("subscription", format!("of customer {reference}")))
    }

    /// An order by UUID, or the latest order of a customer or of a subscription.
    pub fn resolve_order(&self, reference: &str) -> Result<Uuid, SimError> {
        if let Ok(id) = Uuid::parse_str(reference) {
            if self.orders.contains_key(&id) {
                return Ok(id);
            }
            if self.subscriptions.contains_key(&id) {
                return self.latest_order(|o| o.subscription_id == Some(id), reference);
            }
        }
        let customer = self
            .resolve_customer(reference)
            .map_err(|_| SimError::not_found("order", reference))?;
        self.latest_order(|o| o.customer_id == customer, reference)
    }

    fn latest_order(
        &self,
        keep: impl Fn(&Order) -> bool,
        reference: &str,
    ) -> Result<Uuid, SimError> {
        self.orders
            .values()
            .filter(|o| keep(o))
            .max_by_key(|o| o.created_at)
            .map(|o| o.id)
            .ok_or_else(|| SimError::not_found("order", format!("of {reference}")))
    }

    /// Adds a grant.
    pub fn insert_grant(&mut self, grant: BenefitGrant) {
        if let Some(sub) = grant.subscription_id {
            self.grants_by_subscription
                .entry(sub)
                .or_default()
                .push(grant.id);
        }
        self.grants.insert(grant.id, grant);
    }

    /// The ids of a subscription's grants.
    pub fn grants_of(&self, subscription_id: Uuid) -> Vec<Uuid> {
        self.grants_by_subscription
            .get(&subscription_id)
            .cloned()
            .unwrap_or_default()
    }

    /// The customer's `external_id`, kept on deleted customers too (as Polar's payloads do).
    pub fn external_id_of(&self, customer_id: Uuid) -> Option<&str> {
        self.customers
            .get(&customer_id)
            .and_then(|c| c.external_id.as_deref())
    }
}
