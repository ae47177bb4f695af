//! Orders and refunds.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::error::ApiError;
use super::query::{Params, SortKey, list as paginate, metadata_matches};
use super::{body, check_metadata, created, path_uuid};
use crate::lifecycle::billing::{self, REFUND_REASONS, RefundRequest};
use crate::model::{Metadata, OrderStatus};
use crate::render;
use crate::sim::Shared;

const ORDER_STATUSES: &[&str] = &[
    "draft",
    "pending",
    "paid",
    "refunded",
    "partially_refunded",
    "void",
];

pub async fn list(
    State(sim): State<Arc<Shared>>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let q = Params(q);
    let page = q.page()?;
    let products = q.uuids("product_id")?;
    let customers = q.uuids("customer_id")?;
    let externals = q.strings("external_customer_id");
    let subscriptions = q.uuids("subscription_id")?;
    let checkouts = q.uuids("checkout_id")?;
    let statuses = q.strings("status");
    if let Some(bad) = statuses
        .iter()
        .find(|s| !ORDER_STATUSES.contains(&s.as_str()))
    {
        return Err(ApiError::invalid(
            &["query", "status", "0"],
            format!("Input should be {}", ORDER_STATUSES.join(", ")),
            "enum",
            json!(bad),
        ));
    }
    let billing_type = q.strings("product_billing_type");
    let created_after = q.datetime("created_after")?;
    let created_before = q.datetime("created_before")?;
    let meta = q.metadata();
    let sorting = q.sorting(
        &[
            "created_at",
            "status",
            "invoice_number",
            "amount",
            "net_amount",
            "customer",
            "product",
            "discount",
            "subscription",
        ],
        "-created_at",
    )?;
    Ok(Json(sim.read(|st| {
        let items = st
            .orders
            .values()
            .filter(|o| products.is_empty() || products.contains(&o.product_id))
            .filter(|o| customers.is_empty() || customers.contains(&o.customer_id))
            .filter(|o| {
                externals.is_empty()
                    || st
                        .external_id_of(o.customer_id)
                        .is_some_and(|x| externals.iter().any(|e| e == x))
            })
            .filter(|o| {
                subscriptions.is_empty()
                    || o.subscription_id
                        .is_some_and(|s| subscriptions.contains(&s))
            })
            .filter(|o| {
                checkouts.is_empty() || o.checkout_id.is_some_and(|c| checkouts.contains(&c))
            })
            .filter(|o| statuses.is_empty() || statuses.iter().any(|s| s == o.status.as_str()))
            .filter(|o| {
                let kind = if o.subscription_id.is_some() {
                    "recurring"
                } else {
                    "one_time"
                };
                billing_type.is_empty() || billing_type.iter().any(|b| b == kind)
            })
            .filter(|o| created_after.is_none_or(|t| o.created_at > t))
            .filter(|o| created_before.is_none_or(|t| o.created_at < t))
            .filter(|o| metadata_matches(&o.metadata, &meta))
            .collect();
        paginate(
            items,
            &sorting,
            |o, field| match field {
                "status" => SortKey::Text(o.status.as_str().to_owned()),
                "invoice_number" => SortKey::Text(o.invoice_number.clone()),
                "amount" | "net_amount" => SortKey::Int(o.subtotal()),
                "customer" => SortKey::Text(
                    st.customers
                        .get(&o.customer_id)
                        .map(|c| c.email.clone())
                        .unwrap_or_default(),
                ),
                "product" => SortKey::Text(
                    st.products
                        .get(&o.product_id)
                        .map(|p| p.name.clone())
                        .unwrap_or_default(),
                ),
                "subscription" => o
                    .subscription_id
                    .map_or(SortKey::Null, |s| SortKey::Text(s.to_string())),
                "discount" => SortKey::Null,
                _ => SortKey::Time(o.created_at),
            },
            |o| (o.created_at, o.id),
            page,
            |o| render::order(st, o),
        )
    })))
}

pub async fn get(
    State(sim): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = path_uuid(&id)?;
    sim.read(|st| st.orders.get(&id).map(|o| Json(render::order(st, o))))
        .ok_or(ApiError::NotFound)
}

pub async fn list_refunds(
    State(sim): State<Arc<Shared>>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let q = Params(q);
    let page = q.page()?;
    let ids = q.uuids("id")?;
    let orders = q.uuids("order_id")?;
    let subscriptions = q.uuids("subscription_id")?;
    let customers = q.uuids("customer_id")?;
    let externals = q.strings("external_customer_id");
    let succeeded = q.bool("succeeded")?;
    let sorting = q.sorting(&["created_at", "amount"], "-created_at")?;
    Ok(Json(sim.read(|st| {
        let items = st
            .refunds
            .values()
            .filter(|r| ids.is_empty() || ids.contains(&r.id))
            .filter(|r| orders.is_empty() || orders.contains(&r.order_id))
            .filter(|r| {
                subscriptions.is_empty()
                    || r.subscription_id
                        .is_some_and(|s| subscriptions.contains(&s))
            })
            .filter(|r| customers.is_empty() || customers.contains(&r.customer_id))
            .filter(|r| {
                externals.is_empty()
                    || st
                        .external_id_of(r.customer_id)
                        .is_some_and(|x| externals.iter().any(|e| e == x))
            })
            // Every simulated refund succeeds.
            .filter(|_| succeeded.is_none_or(|s| s))
            .collect();
        paginate(
            items,
            &sorting,
            |r, field| match field {
                "amount" => SortKey::Int(r.amount),
                _ => SortKey::Time(r.created_at),
            },
            |r| (r.created_at, r.id),
            page,
            |r| render::refund(st, r),
        )
    })))
}

#[derive(Debug, Deserialize)]
struct RefundBody {
    order_id: Option<String>,
    reason: Option<String>,
    amount: Option<i64>,
    #[serde(default)]
    revoke_benefits: bool,
    #[serde(default)]
    metadata: Metadata,
}

pub async fn create_refund(
    State(sim): State<Arc<Shared>>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let b: RefundBody = body(&bytes)?;
    let missing =
        |f: &str| ApiError::invalid(&["body", f], "Field required", "missing", Value::Null);
    let raw_order = b.order_id.ok_or_else(|| missing("order_id"))?;
    let reason = b.reason.ok_or_else(|| missing("reason"))?;
    let amount = b.amount.ok_or_else(|| missing("amount"))?;
    let order_id = Uuid::parse_str(&raw_order).map_err(|_| {
        ApiError::invalid(
            &["body", "order_id"],
            "Input should be a valid UUID",
            "uuid_parsing",
            json!(raw_order),
        )
    })?;
    if !REFUND_REASONS.contains(&reason.as_str()) {
        return Err(ApiError::invalid(
            &["body", "reason"],
            format!("Input should be {}", REFUND_REASONS.join(", ")),
            "enum",
            json!(reason),
        ));
    }
    if amount <= 0 {
        return Err(ApiError::invalid(
            &["body", "amount"],
            "Input should be greater than 0",
            "greater_than",
            json!(amount),
        ));
    }
    check_metadata("metadata", &b.metadata)?;
    let order_status = sim.read(|st| st.orders.get(&order_id).map(|o| o.status));
    match order_status {
        None => {
            return Err(ApiError::invalid(
                &["body", "order_id"],
                "Order does not exist.",
                "value_error",
                json!(raw_order),
            ));
        }
        Some(OrderStatus::Pending) => {
            return Err(ApiError::invalid(
                &["body", "order_id"],
                "Order is not paid.",
                "value_error",
                json!(raw_order),
            ));
        }
        Some(_) => {}
    }
    let req = RefundRequest {
        order_id,
        amount: Some(amount),
        reason,
        revoke_benefits: b.revoke_benefits,
        metadata: b.metadata,
    };
    let id = sim.apply(false, |st, em| billing::refund(st, em, req))?;
    sim.read(|st| st.refunds.get(&id).map(|r| render::refund(st, r)))
        .map(created)
        .ok_or(ApiError::NotFound)
}
