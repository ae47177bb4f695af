//! Checkout sessions: create, get, list.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::error::ApiError;
use super::query::{Params, SortKey, list as paginate};
use super::{body, check_metadata, created, path_uuid};
use crate::lifecycle::checkouts::{self, NewCheckout};
use crate::render;
use crate::sim::Shared;

pub async fn create(State(sim): State<Arc<Shared>>, bytes: Bytes) -> Result<Response, ApiError> {
    let raw: serde_json::Map<String, Value> = body(&bytes)?;
    if !raw.contains_key("products") {
        return Err(ApiError::invalid(
            &["body", "products"],
            "Field required",
            "missing",
            Value::Null,
        ));
    }
    let new: NewCheckout = serde_json::from_value(Value::Object(raw))
        .map_err(|e| ApiError::invalid(&["body"], e.to_string(), "value_error", Value::Null))?;
    check_metadata("metadata", &new.metadata)?;
    check_metadata("customer_metadata", &new.customer_metadata)?;
    for (field, url) in [
        ("success_url", &new.success_url),
        ("return_url", &new.return_url),
    ] {
        if let Some(u) = url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return Err(ApiError::invalid(
                &["body", field],
                "Input should be a valid URL",
                "url_parsing",
                json!(u),
            ));
        }
    }
    let id = sim.apply(false, |st, em| checkouts::create_checkout(st, em, new))?;
    sim.read(|st| st.checkouts.get(&id).map(|c| render::checkout(st, c)))
        .map(created)
        .ok_or(ApiError::NotFound)
}

pub async fn get(
    State(sim): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = path_uuid(&id)?;
    sim.read(|st| st.checkouts.get(&id).map(|c| Json(render::checkout(st, c))))
        .ok_or(ApiError::NotFound)
}

pub async fn list(
    State(sim): State<Arc<Shared>>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let q = Params(q);
    let page = q.page()?;
    let products = q.uuids("product_id")?;
    let customers = q.uuids("customer_id")?;
    let externals = q.strings("external_customer_id");
    let statuses = q.strings("status");
    let sorting = q.sorting(&["created_at", "expires_at", "status"], "-created_at")?;
    Ok(Json(sim.read(|st| {
        let items = st
            .checkouts
            .values()
            .filter(|c| products.is_empty() || products.contains(&c.product_id))
            .filter(|c| {
                customers.is_empty() || c.customer_id.is_some_and(|id| customers.contains(&id))
            })
            .filter(|c| {
                externals.is_empty()
                    || c.external_customer_id
                        .as_ref()
                        .is_some_and(|x| externals.contains(x))
            })
            .filter(|c| statuses.is_empty() || statuses.iter().any(|s| s == c.status.as_str()))
            .collect();
        paginate(
            items,
            &sorting,
            |c, field| match field {
                "expires_at" => SortKey::Time(c.expires_at),
                "status" => SortKey::Text(c.status.as_str().to_owned()),
                _ => SortKey::Time(c.created_at),
            },
            |c| (c.created_at, c.id),
            page,
            |c| render::checkout(st, c),
        )
    })))
}
