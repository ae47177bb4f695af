//! Subscriptions: list, get, update (product change, seats, cancel, uncancel, revoke) and revoke.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use serde_json::{Value, json};
use uuid::Uuid;

use super::error::ApiError;
use super::query::{Params, SortKey, list as paginate, metadata_matches};
use super::{body, path_uuid};
use crate::lifecycle::seats;
use crate::lifecycle::subscriptions::{self, Proration};
use crate::render;
use crate::sim::Shared;

const STATUSES: &[&str] = &[
    "incomplete",
    "incomplete_expired",
    "trialing",
    "active",
    "past_due",
    "canceled",
    "unpaid",
    "paused",
];
const CANCELLATION_REASONS: &[&str] = &[
    "customer_service",
    "low_quality",
    "missing_features",
    "switched_service",
    "too_complex",
    "too_expensive",
    "unused",
    "other",
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
    let active = q.bool("active")?;
    let statuses = q.strings("status");
    if let Some(bad) = statuses.iter().find(|s| !STATUSES.contains(&s.as_str())) {
        return Err(ApiError::invalid(
            &["query", "status", "0"],
            format!("Input should be {}", STATUSES.join(", ")),
            "enum",
            json!(bad),
        ));
    }
    let cancel_at_period_end = q.bool("cancel_at_period_end")?;
    let reasons = q.strings("customer_cancellation_reason");
    let started_after = q.datetime("started_after")?;
    let started_before = q.datetime("started_before")?;
    let canceled_after = q.datetime("canceled_at_after")?;
    let canceled_before = q.datetime("canceled_at_before")?;
    let meta = q.metadata();
    let sorting = q.sorting(
        &[
            "customer",
            "status",
            "started_at",
            "current_period_end",
            "ended_at",
            "ends_at",
            "amount",
            "product",
            "discount",
        ],
        "-started_at",
    )?;
    Ok(Json(sim.read(|st| {
        let items = st
            .subscriptions
            .values()
            .filter(|s| products.is_empty() || products.contains(&s.product_id))
            .filter(|s| customers.is_empty() || customers.contains(&s.customer_id))
            .filter(|s| {
                externals.is_empty()
                    || st
                        .external_id_of(s.customer_id)
                        .is_some_and(|x| externals.iter().any(|e| e == x))
            })
            // Polar: true = trialing/active, false = canceled/unpaid; other statuses in neither.
            .filter(|s| {
                active.is_none_or(|a| {
                    if a {
                        s.status.is_active()
                    } else {
                        s.status.is_revoked()
                    }
                })
            })
            .filter(|s| statuses.is_empty() || statuses.iter().any(|x| x == s.status.as_str()))
            .filter(|s| cancel_at_period_end.is_none_or(|c| s.cancel_at_period_end == c))
            .filter(|s| {
                reasons.is_empty()
                    || s.cancellation_reason
                        .as_ref()
                        .is_some_and(|r| reasons.contains(r))
            })
            .filter(|s| started_after.is_none_or(|t| s.started_at.is_some_and(|x| x > t)))
            .filter(|s| started_before.is_none_or(|t| s.started_at.is_some_and(|x| x < t)))
            .filter(|s| canceled_after.is_none_or(|t| s.canceled_at.is_some_and(|x| x > t)))
            .filter(|s| canceled_before.is_none_or(|t| s.canceled_at.is_some_and(|x| x < t)))
            .filter(|s| metadata_matches(&s.metadata, &meta))
            .collect();
        paginate(
            items,
            &sorting,
            |s, field| match field {
                "customer" => SortKey::Text(
                    st.customers
                        .get(&s.customer_id)
                        .map(|c| c.email.clone())
                        .unwrap_or_default(),
                ),
                "status" => SortKey::Text(s.status.as_str().to_owned()),
                "current_period_end" => SortKey::Time(s.current_period_end),
                "ended_at" => s.ended_at.into(),
                "ends_at" => s.ends_at.into(),
                "amount" => SortKey::Int(s.amount),
                "product" => SortKey::Text(
                    st.products
                        .get(&s.product_id)
                        .map(|p| p.name.clone())
                        .unwrap_or_default(),
                ),
                "discount" => SortKey::Null,
                _ => s.started_at.into(),
            },
            |s| (s.created_at, s.id),
            page,
            |s| render::subscription(st, s),
        )
    })))
}

fn render_sub(sim: &Shared, id: Uuid) -> Result<Json<Value>, ApiError> {
    sim.read(|st| {
        st.subscriptions
            .get(&id)
            .map(|s| Json(render::subscription(st, s)))
    })
    .ok_or(ApiError::NotFound)
}

fn exists(sim: &Shared, id: Uuid) -> Result<(), ApiError> {
    if sim.read(|st| st.subscriptions.contains_key(&id)) {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

pub async fn get(
    State(sim): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    render_sub(&sim, path_uuid(&id)?)
}

/// `PATCH /v1/subscriptions/{id}`: one of Polar's `SubscriptionUpdate` variants.
pub async fn update(
    State(sim): State<Arc<Shared>>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    let id = path_uuid(&id)?;
    exists(&sim, id)?;
    let b: serde_json::Map<String, Value> = body(&bytes)?;
    let reason = optional_enum(&b, "customer_cancellation_reason", CANCELLATION_REASONS)?;
    let comment = b
        .get("customer_cancellation_comment")
        .and_then(Value::as_str)
        .map(str::to_owned);

    if let Some(product) = b.get("product_id").filter(|v| !v.is_null()) {
        let raw = product.as_str().unwrap_or_default();
        let product_id = Uuid::parse_str(raw).map_err(|_| {
            ApiError::invalid(
                &["body", "product_id"],
                "Input should be a valid UUID",
                "uuid_parsing",
                product.clone(),
            )
        })?;
        if !sim.read(|st| st.products.contains_key(&product_id)) {
            return Err(ApiError::invalid(
                &["body", "product_id"],
                "Product does not exist.",
                "value_error",
                product.clone(),
            ));
        }
        let proration = proration(&sim, &b)?;
        sim.apply(false, |st, em| {
            subscriptions::change_product(st, em, id, product_id, proration)
        })?;
    } else if let Some((field, count)) = ["seats", "units"]
        .into_iter()
        .find_map(|f| b.get(f).map(|v| (f, v)))
    {
        // `SubscriptionUpdateSeats` and its newer twin `SubscriptionUpdateUnits`.
        let seats = count
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                ApiError::invalid(
                    &["body", field],
                    "Input should be a positive integer",
                    "int_type",
                    count.clone(),
                )
            })?;
        let proration = proration(&sim, &b)?;
        sim.apply(false, |st, em| {
            seats::update_seats(st, em, id, seats, proration)
        })?;
    } else if let Some(flag) = b.get("cancel_at_period_end") {
        let cancel = flag.as_bool().ok_or_else(|| {
            ApiError::invalid(
                &["body", "cancel_at_period_end"],
                "Input should be a valid boolean",
                "bool_type",
                flag.clone(),
            )
        })?;
        sim.apply(false, |st, em| {
            subscriptions::set_cancel_at_period_end(st, em, id, cancel, reason, comment)
        })?;
    } else if let Some(revoke) = b.get("revoke") {
        if revoke != &Value::Bool(true) {
            return Err(ApiError::invalid(
                &["body", "revoke"],
                "Input should be True",
                "literal_error",
                revoke.clone(),
            ));
        }
        sim.apply(false, |st, em| subscriptions::revoke(st, em, id, reason))?;
    } else {
        let field = b
            .keys()
            .next()
            .cloned()
            .unwrap_or_else(|| "body".to_owned());
        return Err(ApiError::invalid(
            &["body", &field],
            "the simulator supports product_id, seats, units, cancel_at_period_end and revoke updates",
            "value_error",
            Value::Object(b),
        ));
    }
    render_sub(&sim, id)
}

fn proration(sim: &Shared, b: &serde_json::Map<String, Value>) -> Result<Proration, ApiError> {
    Ok(
        match optional_enum(
            b,
            "proration_behavior",
            &["invoice", "prorate", "next_period", "reset"],
        )? {
            Some(p) => serde_json::from_value::<Proration>(Value::String(p)).unwrap_or_default(),
            None => sim.default_proration(),
        },
    )
}

fn optional_enum(
    b: &serde_json::Map<String, Value>,
    field: &str,
    allowed: &[&str],
) -> Result<Option<String>, ApiError> {
    match b.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(Some(s.clone())),
        Some(other) => Err(ApiError::invalid(
            &["body", field],
            format!("Input should be {}", allowed.join(", ")),
            "enum",
            other.clone(),
        )),
    }
}

/// `DELETE /v1/subscriptions/{id}`: revoke now.
pub async fn revoke(
    State(sim): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = path_uuid(&id)?;
    exists(&sim, id)?;
    sim.apply(false, |st, em| subscriptions::revoke(st, em, id, None))?;
    render_sub(&sim, id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SubscriptionStatus;

    #[test]
    fn status_list_matches_the_model() {
        for s in STATUSES {
            let parsed: Result<SubscriptionStatus, _> = serde_json::from_value(json!(s));
            assert!(parsed.is_ok(), "{s}");
        }
    }
}
