//! Scenarios: the lifecycle steps a test or a developer drives, as one serializable request.
//!
//! The same [`Scenario`] is accepted by `SimHandle::run`, by `POST /_sim/scenarios` and by the
//! `polar-sim scenario ...` commands. References are forgiving: a customer is its UUID or
//! `external_id`; a product its UUID, plan key (`premium`) or name; a subscription its UUID or
//! its customer (whose latest subscription that has not ended is meant); an order its UUID, its
//! subscription or its customer (the latest order). With `"silent": true` the state changes and
//! no webhook is sent: drift between Polar and its consumers.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::error::SimError;
use crate::lifecycle::catalog::{self, ProductPatch};
use crate::lifecycle::subscriptions::{self, Drift, Payment, Proration};
use crate::lifecycle::{Emitter, billing, checkouts, customers, discounts, usage};
use crate::model::{DiscountDuration, DiscountOff, Interval, Metadata, SubscriptionStatus};
use crate::render;
use crate::store::State;

/// One step, with whether it sends webhooks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Scenario {
    #[serde(flatten)]
    pub action: Action,
    /// Change the state without sending any webhook.
    #[serde(default)]
    pub silent: bool,
}

impl From<Action> for Scenario {
    fn from(action: Action) -> Self {
        Self {
            action,
            silent: false,
        }
    }
}

impl Scenario {
    /// The same step without webhooks.
    pub fn silent(action: Action) -> Self {
        Self {
            action,
            silent: true,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Action {
    /// A new recurring product with a feature-flag benefit carrying its metadata.
    CreateProduct {
        name: String,
        price_amount: i64,
        #[serde(default = "monthly")]
        interval: Interval,
        #[serde(default)]
        metadata: Metadata,
    },
    /// Changes a product (name, description, metadata, archived, price).
    UpdateProduct {
        product: String,
        #[serde(flatten)]
        patch: ProductPatch,
    },
    CreateCustomer {
        external_id: Option<String>,
        email: Option<String>,
        name: Option<String>,
        #[serde(default)]
        metadata: Metadata,
    },
    UpdateCustomer {
        customer: String,
        email: Option<String>,
        name: Option<String>,
        metadata: Option<Metadata>,
    },
    DeleteCustomer {
        customer: String,
    },
    /// Buys a product through a checkout (creating the customer by `external_id` if unknown).
    Subscribe {
        customer: String,
        product: String,
        /// Start with a trial of this many days (no charge until it ends).
        trial_days: Option<u32>,
        /// Skip the checkout (as if created through the API); default false.
        #[serde(default)]
        direct: bool,
    },
    /// Opens a checkout (as `POST /v1/checkouts/` would) and leaves it for the buyer.
    OpenCheckout {
        product: String,
        /// The buyer's `external_id`, linked when the checkout completes.
        external_customer_id: Option<String>,
    },
    /// Completes an open checkout as if the buyer paid.
    CompleteCheckout {
        checkout: Uuid,
        product: Option<String>,
    },
    /// Changes the product (upgrade or downgrade).
    ChangeProduct {
        subscription: String,
        product: String,
        #[serde(default)]
        proration: Proration,
    },
    /// Changes the seats of a seat-based subscription.
    UpdateSeats {
        subscription: String,
        seats: u32,
        #[serde(default)]
        proration: Proration,
    },
    /// Cancels at the end of the period.
    Cancel {
        subscription: String,
        reason: Option<String>,
        comment: Option<String>,
    },
    /// Removes a scheduled cancellation.
    Uncancel {
        subscription: String,
    },
    /// Puts a discount on the subscription from its next invoice on (a percentage in basis
    /// points, or a fixed amount), `forever`, `once` or `repeating` for some months.
    ApplyDiscount {
        subscription: String,
        #[serde(flatten)]
        off: DiscountOff,
        #[serde(default)]
        duration: DiscountDuration,
        duration_in_months: Option<u32>,
    },
    /// The renewal payment fails: a new period starts and the subscription goes past_due.
    FailPayment {
        subscription: String,
    },
    /// The past-due payment finally succeeds.
    Recover {
        subscription: String,
    },
    /// Ends the subscription now.
    Revoke {
        subscription: String,
    },
    /// Refunds an order (all of it unless `amount`).
    Refund {
        order: String,
        amount: Option<i64>,
        reason: Option<String>,
        #[serde(default)]
        revoke_benefits: bool,
    },
    /// The subscription reaches its period end now (renews, or ends if canceled).
    Cycle {
        subscription: String,
        #[serde(default)]
        payment: Payment,
    },
    /// Moves the simulated clock forward, renewing and ending subscriptions on the way.
    Advance {
        #[serde(default)]
        days: i64,
        #[serde(default)]
        hours: i64,
        #[serde(default)]
        seconds: i64,
        /// An absolute target instead of a duration.
        to: Option<DateTime<Utc>>,
    },
    /// Sends usage events for a customer.
    Usage {
        customer: String,
        event: String,
        #[serde(default = "one")]
        count: u32,
    },
    /// Adds `customers` customers (`{prefix}{n}`), each with an active subscription to
    /// `product`, as state Polar already had: never sends webhooks. For benchmarks.
    Populate {
        customers: u32,
        product: String,
        #[serde(default = "bulk_prefix")]
        prefix: String,
    },
    /// Changes a subscription's facts directly, never with a webhook.
    DriftSubscription {
        subscription: String,
        status: Option<SubscriptionStatus>,
        product: Option<String>,
        cancel_at_period_end: Option<bool>,
        current_period_end: Option<DateTime<Utc>>,
    },
}

fn one() -> u32 {
    1
}

fn monthly() -> Interval {
    Interval::Month
}

fn bulk_prefix() -> String {
    "user_bulk_".to_owned()
}

/// What a scenario did: its main object (as Polar renders it) and the webhooks it emitted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    pub object: Value,
    pub events: Vec<String>,
}

/// The object a step is about, rendered after the step.
enum Subject {
    Customer(Uuid),
    Subscription(Uuid),
    Refund(Uuid),
    Checkout(Uuid),
    Product(Uuid),
    Clock,
    Usage(Uuid),
    Count(u32),
}

pub(crate) fn run(st: &mut State, em: &mut Emitter, action: Action) -> Result<Value, SimError> {
    let subject = apply(st, em, action)?;
    Ok(match subject {
        Subject::Customer(id) => st
            .customers
            .get(&id)
            .map_or(Value::Null, |c| render::customer(st, c)),
        Subject::Subscription(id) => st
            .subscriptions
            .get(&id)
            .map_or(Value::Null, |s| render::subscription(st, s)),
        Subject::Refund(id) => st
            .refunds
            .get(&id)
            .map_or(Value::Null, |r| render::refund(st, r)),
        Subject::Product(id) => st
            .products
            .get(&id)
            .map_or(Value::Null, |p| render::product(st, p)),
        Subject::Checkout(id) => st
            .checkouts
            .get(&id)
            .map_or(Value::Null, |c| render::checkout(st, c)),
        Subject::Usage(id) => st
            .customers
            .get(&id)
            .map_or(Value::Null, |c| render::customer_state(st, c)),
        Subject::Count(n) => serde_json::json!({ "created": n }),
        Subject::Clock => serde_json::json!({ "now": crate::clock::polar_time(st.clock.now()) }),
    })
}

fn apply(st: &mut State, em: &mut Emitter, action: Action) -> Result<Subject, SimError> {
    match action {
        Action::CreateProduct {
            name,
            price_amount,
            interval,
            metadata,
        } => {
            let new = catalog::recurring(&name, price_amount, interval, metadata);
            catalog::create_product(st, em, new).map(Subject::Product)
        }
        Action::UpdateProduct { product, patch } => {
            let id = st.resolve_product(&product)?;
            catalog::update_product(st, em, id, patch).map(|()| Subject::Product(id))
        }
        Action::CreateCustomer {
            external_id,
            email,
            name,
            metadata,
        } => {
            let new = customers::NewCustomer {
                external_id,
                email,
                name,
                metadata,
            };
            customers::create(st, em, new).map(Subject::Customer)
        }
        Action::UpdateCustomer {
            customer,
            email,
            name,
            metadata,
        } => {
            let id = st.resolve_customer(&customer)?;
            let patch = customers::CustomerPatch {
                email,
                name,
                metadata,
                external_id: None,
            };
            customers::update(st, em, id, patch).map(|()| Subject::Customer(id))
        }
        Action::DeleteCustomer { customer } => {
            let id = st.resolve_customer(&customer)?;
            customers::delete(st, em, id).map(|()| Subject::Customer(id))
        }
        Action::Subscribe {
            customer,
            product,
            trial_days,
            direct,
        } => {
            let product_id = st.resolve_product(&product)?;
            let known = st.resolve_customer(&customer).ok();
            if direct {
                let customer_id = match known {
                    Some(id) => id,
                    None => customers::create(st, em, new_customer(&customer))?,
                };
                let start = subscriptions::Start {
                    customer_id,
                    product_id,
                    trial_days,
                    checkout_id: None,
                    metadata: Metadata::new(),
                    seats: None,
                };
                return subscriptions::start(st, em, start).map(Subject::Subscription);
            }
            let checkout = checkouts::NewCheckout {
                products: vec![product_id],
                customer_id: known,
                external_customer_id: if known.is_none() {
                    Some(customer.clone())
                } else {
                    None
                },
                allow_trial: trial_days.is_some(),
                trial_interval: trial_days.map(|_| "day".to_owned()),
                trial_interval_count: trial_days,
                ..checkouts::NewCheckout::default()
            };
            let checkout_id = checkouts::create_checkout(st, em, checkout)?;
            checkouts::complete_checkout(st, em, checkout_id, None).map(Subject::Subscription)
        }
        Action::OpenCheckout {
            product,
            external_customer_id,
        } => {
            let product_id = st.resolve_product(&product)?;
            let new = checkouts::NewCheckout {
                products: vec![product_id],
                external_customer_id,
                ..checkouts::NewCheckout::default()
            };
            checkouts::create_checkout(st, em, new).map(Subject::Checkout)
        }
        Action::CompleteCheckout { checkout, product } => {
            let product = product.map(|p| st.resolve_product(&p)).transpose()?;
            checkouts::complete_checkout(st, em, checkout, product).map(Subject::Subscription)
        }
        Action::ChangeProduct {
            subscription,
            product,
            proration,
        } => {
            let id = st.resolve_subscription(&subscription)?;
            let product_id = st.resolve_product(&product)?;
            subscriptions::change_product(st, em, id, product_id, proration)
                .map(|()| Subject::Subscription(id))
        }
        Action::UpdateSeats {
            subscription,
            seats,
            proration,
        } => {
            let id = st.resolve_subscription(&subscription)?;
            crate::lifecycle::seats::update_seats(st, em, id, seats, proration)
                .map(|()| Subject::Subscription(id))
        }
        Action::Cancel {
            subscription,
            reason,
            comment,
        } => {
            let id = st.resolve_subscription(&subscription)?;
            subscriptions::set_cancel_at_period_end(st, em, id, true, reason, comment)
                .map(|()| Subject::Subscription(id))
        }
        Action::Uncancel { subscription } => {
            let id = st.resolve_subscription(&subscription)?;
            subscriptions::set_cancel_at_period_end(st, em, id, false, None, None)
                .map(|()| Subject::Subscription(id))
        }
        Action::FailPayment { subscription } => {
            let id = st.resolve_subscription(&subscription)?;
            subscriptions::cycle(st, em, id, Payment::Fails).map(|()| Subject::Subscription(id))
        }
        Action::ApplyDiscount {
            subscription,
            off,
            duration,
            duration_in_months,
        } => {
            let id = st.resolve_subscription(&subscription)?;
            let new = discounts::NewDiscount {
                off,
                duration,
                duration_in_months,
            };
            discounts::apply(st, em, id, new).map(|()| Subject::Subscription(id))
        }
        Action::Recover { subscription } => {
            let id = st.resolve_subscription(&subscription)?;
            subscriptions::recover(st, em, id).map(|()| Subject::Subscription(id))
        }
        Action::Revoke { subscription } => {
            let id = st.resolve_subscription(&subscription)?;
            subscriptions::revoke(st, em, id, None).map(|()| Subject::Subscription(id))
        }
        Action::Refund {
            order,
            amount,
            reason,
            revoke_benefits,
        } => {
            let order_id = st.resolve_order(&order)?;
            let req = billing::RefundRequest {
                order_id,
                amount,
                reason: reason.unwrap_or_else(|| "customer_request".to_owned()),
                revoke_benefits,
                metadata: Metadata::new(),
            };
            billing::refund(st, em, req).map(Subject::Refund)
        }
        Action::Cycle {
            subscription,
            payment,
        } => {
            let id = st.resolve_subscription(&subscription)?;
            subscriptions::cycle(st, em, id, payment).map(|()| Subject::Subscription(id))
        }
        Action::Advance {
            days,
            hours,
            seconds,
            to,
        } => {
            let target = match to {
                Some(t) => t,
                None => {
                    let by = Duration::try_days(days)
                        .zip(Duration::try_hours(hours))
                        .zip(Duration::try_seconds(seconds))
                        .map(|((d, h), s)| d + h + s)
                        .ok_or_else(|| SimError::invalid("days", "duration out of range"))?;
                    st.clock.now() + by
                }
            };
            subscriptions::advance_clock(st, em, target).map(|_| Subject::Clock)
        }
        Action::Usage {
            customer,
            event,
            count,
        } => {
            let id = st.resolve_customer(&customer)?;
            let events = (0..count)
                .map(|_| usage::NewEvent {
                    name: event.clone(),
                    timestamp: None,
                    customer_id: Some(id),
                    external_customer_id: None,
                    external_id: None,
                    metadata: serde_json::Map::new(),
                })
                .collect();
            usage::ingest(st, em, events).map(|_| Subject::Usage(id))
        }
        Action::Populate {
            customers: count,
            product,
            prefix,
        } => {
            let product_id = st.resolve_product(&product)?;
            let quiet = &mut Emitter::silent();
            for n in 0..count {
                let customer_id =
                    customers::create(st, quiet, new_customer(&format!("{prefix}{n}")))?;
                let start = subscriptions::Start {
                    customer_id,
                    product_id,
                    trial_days: None,
                    checkout_id: None,
                    metadata: Metadata::new(),
                    seats: None,
                };
                subscriptions::start(st, quiet, start)?;
            }
            Ok(Subject::Count(count))
        }
        Action::DriftSubscription {
            subscription,
            status,
            product,
            cancel_at_period_end,
            current_period_end,
        } => {
            let id = st.resolve_subscription(&subscription)?;
            let product_id = product.map(|p| st.resolve_product(&p)).transpose()?;
            let drift = Drift {
                status,
                product_id,
                cancel_at_period_end,
                current_period_end,
            };
            subscriptions::drift(st, id, drift).map(|()| Subject::Subscription(id))
        }
    }
}

fn new_customer(reference: &str) -> customers::NewCustomer {
    customers::NewCustomer {
        external_id: Some(reference.to_owned()),
        ..customers::NewCustomer::default()
    }
}
