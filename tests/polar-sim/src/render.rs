//! Polar's JSON shapes for the simulator's objects: the OpenAPI contract 2026-04/2026-10 plus
//! the fields the newest official SDKs require (`sdk-models.json` lists each one and why).
//!
//! The same rendering serves API responses and webhook `data`, so both always agree. Nested
//! objects (a subscription's customer and product, an order's subscription) are rendered from
//! the current state at the moment of rendering, which is what Polar does.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::clock::{polar_time, polar_time_opt};
use crate::model::{
    Benefit, BenefitGrant, Checkout, Customer, CustomerMeter, CustomerSession, Meter, Order,
    Product, Refund, Subscription,
};
use crate::store::State;

pub fn customer(st: &State, c: &Customer) -> Value {
    json!({
        "id": c.id,
        "created_at": polar_time(c.created_at),
        "modified_at": polar_time_opt(c.modified_at),
        "metadata": c.metadata,
        "external_id": c.external_id,
        "email": c.email,
        "email_verified": false,
        "type": "individual",
        "name": c.name,
        "billing_name": c.name,
        "billing_address": null,
        "tax_id": null,
        "locale": "en",
        "organization_id": st.organization_id,
        "default_payment_method_id": null,
        "deleted_at": polar_time_opt(c.deleted_at),
        "first_user_event_at": null,
        "avatar_url": null,
    })
}

fn customer_by_id(st: &State, id: Uuid) -> Value {
    st.customers
        .get(&id)
        .map_or(Value::Null, |c| customer(st, c))
}

pub fn price(p: &Product) -> Value {
    let mut v = json!({
        "created_at": polar_time(p.price.created_at),
        "modified_at": null,
        "id": p.price.id,
        "source": "catalog",
        "amount_type": "fixed",
        "price_currency": p.price.currency,
        "tax_behavior": null,
        "is_archived": false,
        "product_id": p.id,
    });
    let extra = match p.price.seats {
        None => json!({ "price_amount": p.price.amount }),
        // One volume tier, in both of Polar's shapes: `seat_tiers` (2026-04 and 2026-10, and
        // every version of the TypeScript SDK) and `tiers` with `minimum_units`/`maximum_units`
        // (the Python SDK's 2027-01), so that a client of any version loads it.
        Some(limits) => json!({
            "amount_type": "seat_based",
            "seat_tiers": {
                "seat_tier_type": "volume",
                "tiers": [{
                    "min_seats": limits.minimum,
                    "max_seats": limits.maximum,
                    "price_per_seat": p.price.amount,
                }],
                "minimum_seats": limits.minimum,
                "maximum_seats": limits.maximum,
            },
            "tiers": {
                "type": "volume",
                "tiers": [{ "bound": limits.maximum, "unit_amount": p.price.amount.to_string() }],
            },
            "minimum_units": limits.minimum,
            "maximum_units": limits.maximum,
        }),
    };
    if let (Value::Object(map), Value::Object(extra)) = (&mut v, extra) {
        map.extend(extra);
    }
    v
}

pub fn benefit(st: &State, b: &Benefit) -> Value {
    json!({
        "id": b.id,
        "created_at": polar_time(b.created_at),
        "modified_at": polar_time_opt(b.modified_at),
        "type": "feature_flag",
        "description": b.description,
        "selectable": true,
        "deletable": true,
        "is_deleted": false,
        "organization_id": st.organization_id,
        "metadata": b.metadata,
        "visibility": "public",
        "properties": {},
        "visibility_configurable": true,
    })
}

/// The product fields shared by `Product`, `OrderProduct` and `CheckoutProduct`.
fn product_base(st: &State, p: &Product) -> serde_json::Map<String, Value> {
    let recurring = p.recurring_interval.map(|i| i.as_str());
    let base = json!({
        "id": p.id,
        "created_at": polar_time(p.created_at),
        "modified_at": polar_time_opt(p.modified_at),
        "trial_interval": p.trial_days.map(|_| "day"),
        "trial_interval_count": p.trial_days,
        "name": p.name,
        "description": p.description,
        "visibility": "public",
        "recurring_interval": recurring,
        "recurring_interval_count": recurring.map(|_| 1),
        "meter_interval": null,
        "meter_interval_count": null,
        "is_recurring": recurring.is_some(),
        "is_archived": p.is_archived,
        "organization_id": st.organization_id,
        "metadata": p.metadata,
    });
    match base {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

pub fn product(st: &State, p: &Product) -> Value {
    let mut map = product_base(st, p);
    let benefits: Vec<Value> = p
        .benefit_ids
        .iter()
        .filter_map(|id| st.benefits.get(id))
        .map(|b| benefit(st, b))
        .collect();
    map.insert(
        "is_deletable".into(),
        Value::Bool(!st.used_products.contains(&p.id)),
    );
    map.insert("prices".into(), json!([price(p)]));
    map.insert("benefits".into(), Value::Array(benefits));
    map.insert("medias".into(), json!([]));
    map.insert("attached_custom_fields".into(), json!([]));
    Value::Object(map)
}

fn product_by_id(st: &State, id: Uuid) -> Value {
    st.products.get(&id).map_or(Value::Null, |p| product(st, p))
}

/// `CheckoutProduct`: benefits in their public form (no metadata).
fn checkout_product(st: &State, p: &Product) -> Value {
    let mut map = product_base(st, p);
    map.remove("metadata");
    let benefits: Vec<Value> = p
        .benefit_ids
        .iter()
        .filter_map(|id| st.benefits.get(id))
        .map(|b| {
            json!({
                "id": b.id,
                "created_at": polar_time(b.created_at),
                "modified_at": polar_time_opt(b.modified_at),
                "type": "feature_flag",
                "description": b.description,
                "selectable": true,
                "deletable": true,
                "is_deleted": false,
                "organization_id": st.organization_id,
            })
        })
        .collect();
    map.insert("prices".into(), json!([price(p)]));
    map.insert("benefits".into(), Value::Array(benefits));
    map.insert("medias".into(), json!([]));
    Value::Object(map)
}

/// The subscription fields without nested objects (`OrderSubscription`).
pub fn subscription_flat(s: &Subscription) -> serde_json::Map<String, Value> {
    let v = json!({
        "metadata": s.metadata,
        "created_at": polar_time(s.created_at),
        "modified_at": polar_time(s.modified_at),
        "id": s.id,
        "amount": s.amount,
        "currency": s.currency,
        "recurring_interval": s.interval.as_str(),
        "recurring_interval_count": 1,
        "status": s.status.as_str(),
        "current_period_start": polar_time(s.current_period_start),
        "current_period_end": polar_time(s.current_period_end),
        "current_meter_period_start": null,
        "current_meter_period_end": null,
        "trial_start": polar_time_opt(s.trial_start),
        "trial_end": polar_time_opt(s.trial_end),
        "cancel_at_period_end": s.cancel_at_period_end,
        "canceled_at": polar_time_opt(s.canceled_at),
        "started_at": polar_time_opt(s.started_at),
        "ends_at": polar_time_opt(s.ends_at),
        "ended_at": polar_time_opt(s.ended_at),
        "past_due_at": polar_time_opt(s.past_due_at),
        "pause_at_period_end": false,
        "paused_at": null,
        "resumes_at": null,
        "customer_id": s.customer_id,
        "product_id": s.product_id,
        "discount_id": s.discount.as_ref().map(|d| d.id),
        "checkout_id": s.checkout_id,
        "seats": s.seats,
        "units": s.seats,
        "customer_cancellation_reason": s.cancellation_reason,
        "customer_cancellation_comment": s.cancellation_comment,
    });
    match v {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

pub fn subscription(st: &State, s: &Subscription) -> Value {
    let mut map = subscription_flat(s);
    let prices = st
        .products
        .get(&s.product_id)
        .map(price)
        .into_iter()
        .collect::<Vec<_>>();
    let pending = s.pending_update.as_ref().map_or(Value::Null, |u| {
        json!({
            "id": u.id,
            "created_at": polar_time(u.created_at),
            "modified_at": null,
            "applies_at": polar_time(u.applies_at),
            "product_id": u.product_id,
            "seats": u.seats,
            "units": u.seats,
        })
    });
    map.insert("custom_field_data".into(), json!({}));
    map.insert("customer".into(), customer_by_id(st, s.customer_id));
    map.insert("product".into(), product_by_id(st, s.product_id));
    map.insert(
        "discount".into(),
        s.discount
            .as_ref()
            .map_or(Value::Null, |d| discount(st, d, &s.currency)),
    );
    map.insert("prices".into(), Value::Array(prices));
    map.insert("meters".into(), json!([]));
    map.insert("pending_update".into(), pending);
    Value::Object(map)
}

pub fn order(st: &State, o: &Order) -> Value {
    let subtotal = o.subtotal();
    let paid = o.status != crate::model::OrderStatus::Pending;
    let customer = st.customers.get(&o.customer_id);
    let product = st.products.get(&o.product_id);
    let items: Vec<Value> = o
        .items
        .iter()
        .map(|i| {
            json!({
                "created_at": polar_time(o.created_at),
                "modified_at": null,
                "id": i.id,
                "label": i.label,
                "amount": i.amount,
                "tax_amount": 0,
                "proration": i.proration,
                "product_price_id": i.price_id,
                "start_timestamp": i.period.map(|(start, _)| polar_time(start)),
                "end_timestamp": i.period.map(|(_, end)| polar_time(end)),
            })
        })
        .collect();
    let subscription = o
        .subscription_id
        .and_then(|id| st.subscriptions.get(&id))
        .map_or(Value::Null, |s| Value::Object(subscription_flat(s)));
    json!({
        "id": o.id,
        "created_at": polar_time(o.created_at),
        "modified_at": polar_time(o.modified_at),
        "status": o.status.as_str(),
        "paid": paid,
        "subtotal_amount": subtotal,
        "discount_amount": 0,
        "net_amount": subtotal,
        "tax_amount": 0,
        "total_amount": subtotal,
        "applied_balance_amount": 0,
        "due_amount": subtotal.max(0),
        "refunded_amount": o.refunded_amount,
        "refunded_tax_amount": 0,
        "currency": o.currency,
        "billing_reason": o.billing_reason.as_str(),
        "billing_name": o.billing_name,
        "billing_address": null,
        "invoice_number": o.invoice_number,
        "is_invoice_generated": paid,
        "receipt_number": null,
        "seats": o.seats,
        "units": o.seats,
        "customer_id": o.customer_id,
        "product_id": o.product_id,
        "discount_id": null,
        "subscription_id": o.subscription_id,
        "checkout_id": o.checkout_id,
        "next_payment_attempt_at": polar_time_opt(o.next_payment_attempt_at),
        "metadata": o.metadata,
        "custom_field_data": {},
        "platform_fee_amount": 0,
        "platform_fee_currency": null,
        "customer": customer.map_or(Value::Null, |c| self::customer(st, c)),
        "product": product.map_or(Value::Null, |p| Value::Object(product_base(st, p))),
        "discount": null,
        "subscription": subscription,
        "items": items,
        "description": product.map_or_else(|| "Order".to_owned(), |p| p.name.clone()),
        "refundable_amount": (subtotal - o.refunded_amount).max(0),
        "refundable_tax_amount": 0,
    })
}

pub fn refund(st: &State, r: &Refund) -> Value {
    json!({
        "created_at": polar_time(r.created_at),
        "modified_at": polar_time(r.modified_at),
        "id": r.id,
        "metadata": r.metadata,
        "status": "succeeded",
        "reason": r.reason,
        "amount": r.amount,
        "tax_amount": 0,
        "currency": r.currency,
        "organization_id": st.organization_id,
        "order_id": r.order_id,
        "subscription_id": r.subscription_id,
        "customer_id": r.customer_id,
        "revoke_benefits": r.revoke_benefits,
        "dispute": null,
    })
}

/// A benefit grant; the same shape serves `BenefitGrant` (API) and `BenefitGrantWebhook`.
pub fn grant(st: &State, g: &BenefitGrant) -> Value {
    json!({
        "created_at": polar_time(g.created_at),
        "modified_at": polar_time(g.modified_at),
        "id": g.id,
        "granted_at": polar_time_opt(g.granted_at),
        "is_granted": g.is_granted(),
        "revoked_at": polar_time_opt(g.revoked_at),
        "is_revoked": g.revoked_at.is_some(),
        "subscription_id": g.subscription_id,
        "order_id": g.order_id,
        "customer_id": g.customer_id,
        "member_id": null,
        "benefit_id": g.benefit_id,
        "error": null,
        "customer": customer_by_id(st, g.customer_id),
        "member": null,
        "benefit": st.benefits.get(&g.benefit_id).map_or(Value::Null, |b| benefit(st, b)),
        "properties": {},
        "previous_properties": null,
    })
}

pub fn meter(st: &State, m: &Meter) -> Value {
    json!({
        "metadata": {},
        "created_at": polar_time(m.created_at),
        "modified_at": null,
        "id": m.id,
        "name": m.name,
        "unit": "scalar",
        "filter": {
            "conjunction": "and",
            "clauses": [{ "property": "name", "operator": "eq", "value": m.event_name }],
        },
        "aggregation": { "func": "count" },
        "organization_id": st.organization_id,
        "archived_at": null,
    })
}

pub fn customer_meter(st: &State, cm: &CustomerMeter) -> Value {
    json!({
        "id": cm.id,
        "created_at": polar_time(cm.created_at),
        "modified_at": polar_time(cm.modified_at),
        "customer_id": cm.customer_id,
        "meter_id": cm.meter_id,
        "consumed_units": cm.consumed_units,
        "credited_units": 0,
        "balance": -(i64::try_from(cm.consumed_units).unwrap_or(i64::MAX)),
        "customer": customer_by_id(st, cm.customer_id),
        "meter": st.meters.get(&cm.meter_id).map_or(Value::Null, |m| meter(st, m)),
    })
}

/// `CustomerState`: the customer with its active subscriptions, granted benefits and meters.
pub fn customer_state(st: &State, c: &Customer) -> Value {
    let mut subs: Vec<&Subscription> = st
        .subscriptions
        .values()
        .filter(|s| s.customer_id == c.id && s.status.is_active())
        .collect();
    subs.sort_by_key(|s| s.created_at);
    let active_subscriptions: Vec<Value> = subs
        .into_iter()
        .map(|s| {
            json!({
                "id": s.id,
                "created_at": polar_time(s.created_at),
                "modified_at": polar_time(s.modified_at),
                "custom_field_data": {},
                "metadata": s.metadata,
                "status": s.status.as_str(),
                "amount": s.amount,
                "currency": s.currency,
                "recurring_interval": s.interval.as_str(),
                "current_period_start": polar_time(s.current_period_start),
                "current_period_end": polar_time(s.current_period_end),
                "trial_start": polar_time_opt(s.trial_start),
                "trial_end": polar_time_opt(s.trial_end),
                "cancel_at_period_end": s.cancel_at_period_end,
                "canceled_at": polar_time_opt(s.canceled_at),
                "started_at": polar_time_opt(s.started_at),
                "ends_at": polar_time_opt(s.ends_at),
                "product_id": s.product_id,
                "discount_id": null,
                "seats": s.seats,
                "units": s.seats,
                "meters": [],
            })
        })
        .collect();
    let mut grants: Vec<&BenefitGrant> = st
        .grants
        .values()
        .filter(|g| g.customer_id == c.id && g.is_granted())
        .collect();
    grants.sort_by_key(|g| g.created_at);
    let granted_benefits: Vec<Value> = grants
        .into_iter()
        .filter_map(|g| {
            let b = st.benefits.get(&g.benefit_id)?;
            Some(json!({
                "id": g.id,
                "created_at": polar_time(g.created_at),
                "modified_at": polar_time(g.modified_at),
                "granted_at": polar_time_opt(g.granted_at),
                "benefit_id": g.benefit_id,
                "benefit_type": "feature_flag",
                "benefit_metadata": b.metadata,
                "properties": {},
            }))
        })
        .collect();
    let active_meters: Vec<Value> = st
        .customer_meters
        .values()
        .filter(|m| m.customer_id == c.id)
        .map(|m| {
            json!({
                "id": m.id,
                "created_at": polar_time(m.created_at),
                "modified_at": polar_time(m.modified_at),
                "meter_id": m.meter_id,
                "consumed_units": m.consumed_units,
                "credited_units": 0,
                "balance": -(i64::try_from(m.consumed_units).unwrap_or(i64::MAX)),
            })
        })
        .collect();
    let mut v = customer(st, c);
    if let Value::Object(map) = &mut v {
        map.insert(
            "active_subscriptions".into(),
            Value::Array(active_subscriptions),
        );
        map.insert("granted_benefits".into(), Value::Array(granted_benefits));
        map.insert("active_meters".into(), Value::Array(active_meters));
    }
    v
}

pub fn checkout(st: &State, ch: &Checkout) -> Value {
    let selected = st.products.get(&ch.product_id);
    let limits = selected.and_then(|p| p.price.seats);
    let seats = limits.map(|l| ch.seats.unwrap_or(l.minimum));
    let amount = selected.map_or(0, |p| p.price.total(seats));
    let currency = selected.map_or_else(|| "usd".to_owned(), |p| p.price.currency.clone());
    let products: Vec<&Product> = ch
        .product_ids
        .iter()
        .filter_map(|id| st.products.get(id))
        .collect();
    let mut prices = serde_json::Map::new();
    for p in &products {
        prices.insert(p.id.to_string(), json!([price(p)]));
    }
    let trial = ch
        .trial_days
        .or_else(|| selected.and_then(|p| p.trial_days))
        .filter(|_| ch.allow_trial);
    json!({
        "id": ch.id,
        "created_at": polar_time(ch.created_at),
        "modified_at": polar_time_opt(ch.modified_at),
        "custom_field_data": {},
        "payment_processor": "stripe",
        "status": ch.status.as_str(),
        "client_secret": ch.client_secret,
        "url": format!("{}/checkout/{}", st.base_url, ch.client_secret),
        "expires_at": polar_time(ch.expires_at),
        "success_url": ch.success_url,
        "return_url": ch.return_url,
        "embed_origin": null,
        "amount": amount,
        "seats": seats,
        "min_seats": limits.map(|l| l.minimum),
        "max_seats": limits.and_then(|l| l.maximum),
        "units": seats,
        "min_units": limits.map(|l| l.minimum),
        "max_units": limits.and_then(|l| l.maximum),
        "discount_amount": 0,
        "net_amount": amount,
        "tax_amount": null,
        "tax_behavior": null,
        "total_amount": amount,
        "currency": currency,
        "allow_trial": ch.allow_trial,
        "active_trial_interval": trial.map(|_| "day"),
        "active_trial_interval_count": trial,
        "trial_end": null,
        "organization_id": st.organization_id,
        "product_id": ch.product_id,
        "product_price_id": selected.map(|p| p.price.id),
        "discount_id": null,
        "allow_discount_codes": true,
        "require_billing_address": false,
        "is_discount_applicable": true,
        "is_free_product_price": amount == 0,
        "is_payment_required": amount > 0,
        "is_payment_setup_required": amount > 0,
        "is_payment_form_required": amount > 0,
        "customer_id": ch.customer_id,
        "is_business_customer": false,
        "customer_name": ch.customer_name,
        "customer_email": ch.customer_email,
        "customer_ip_address": null,
        "customer_billing_name": ch.customer_name,
        "customer_billing_address": null,
        "customer_tax_id": null,
        "locale": "en",
        "payment_method_type": null,
        "payment_processor_metadata": {},
        "billing_address_fields": {
            "country": "required",
            "state": "disabled",
            "city": "disabled",
            "postal_code": "disabled",
            "line1": "disabled",
            "line2": "disabled",
        },
        "trial_interval": ch.trial_days.map(|_| "day"),
        "trial_interval_count": ch.trial_days,
        "metadata": ch.metadata,
        "external_customer_id": ch.external_customer_id,
        "products": products.iter().map(|p| checkout_product(st, p)).collect::<Vec<_>>(),
        "product": selected.map_or(Value::Null, |p| checkout_product(st, p)),
        "product_price": selected.map_or(Value::Null, price),
        "prices": prices,
        "discount": null,
        "subscription_id": ch.subscription_id,
        "attached_custom_fields": [],
        "customer_metadata": ch.customer_metadata,
    })
}

pub fn customer_session(st: &State, s: &CustomerSession) -> Value {
    json!({
        "created_at": polar_time(s.created_at),
        "modified_at": null,
        "id": s.id,
        "token": s.token,
        "expires_at": polar_time(s.expires_at),
        "return_url": s.return_url,
        "customer_portal_url": format!("{}/portal?customer_session_token={}", st.base_url, s.token),
        "customer_id": s.customer_id,
        "customer": customer_by_id(st, s.customer_id),
    })
}

/// A subscription's discount (Polar's `SubscriptionDiscount`).
pub fn discount(st: &State, d: &crate::model::Discount, currency: &str) -> Value {
    use crate::model::{DiscountDuration, DiscountOff};
    let mut v = json!({
        "duration": match d.duration {
            DiscountDuration::Once => "once",
            DiscountDuration::Forever => "forever",
            DiscountDuration::Repeating => "repeating",
        },
        "created_at": polar_time(d.created_at),
        "modified_at": null,
        "id": d.id,
        "metadata": {},
        "name": d.name,
        "code": null,
        "starts_at": null,
        "ends_at": null,
        "max_redemptions": null,
        "max_redemptions_per_customer": null,
        "redemptions_count": 1,
        "organization_id": st.organization_id,
    });
    if let Value::Object(map) = &mut v {
        if d.duration == DiscountDuration::Repeating {
            map.insert("duration_in_months".into(), json!(d.duration_in_months));
        }
        match d.off {
            DiscountOff::Percentage { basis_points } => {
                map.insert("type".into(), json!("percentage"));
                map.insert("basis_points".into(), json!(basis_points));
            }
            DiscountOff::Fixed { amount } => {
                map.insert("type".into(), json!("fixed"));
                map.insert("amount".into(), json!(amount));
                map.insert("currency".into(), json!(currency));
                map.insert("amounts".into(), json!({ currency: amount }));
            }
        }
    }
    v
}
