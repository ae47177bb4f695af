//! Customers (by id and by `external_id`), customer state and customer portal sessions.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::error::ApiError;
use super::query::{Params, SortKey, metadata_matches};
use super::{body, check_metadata, created, path_uuid};
use crate::lifecycle::{checkouts, customers};
use crate::model::Metadata;
use crate::render;
use crate::sim::Shared;
use crate::store::State as SimState;

pub async fn list(
    State(sim): State<Arc<Shared>>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let q = Params(q);
    let page = q.page()?;
    let email = q.string("email").map(|e| e.to_lowercase());
    let text = q.string("query").map(|s| s.to_lowercase());
    let active = q.bool("active")?;
    let meta = q.metadata();
    let sorting = q.sorting(&["created_at", "email", "name"], "-created_at")?;
    Ok(Json(sim.read(|st| {
        let items = st
            .customers
            .values()
            .filter(|c| c.deleted_at.is_none())
            .filter(|c| email.as_ref().is_none_or(|e| c.email.to_lowercase() == *e))
            .filter(|c| {
                text.as_ref().is_none_or(|t| {
                    c.email.to_lowercase().contains(t)
                        || c.name
                            .as_ref()
                            .is_some_and(|n| n.to_lowercase().contains(t))
                        || c.external_id
                            .as_ref()
                            .is_some_and(|x| x.to_lowercase().contains(t))
                })
            })
            .filter(|c| active.is_none_or(|want| has_billable_subscription(st, c.id) == want))
            .filter(|c| metadata_matches(&c.metadata, &meta))
            .collect();
        super::query::list(
            items,
            &sorting,
            |c, field| match field {
                "email" => SortKey::Text(c.email.clone()),
                "name" => c.name.clone().map_or(SortKey::Null, SortKey::Text),
                _ => SortKey::Time(c.created_at),
            },
            |c| (c.created_at, c.id),
            page,
            |c| render::customer(st, c),
        )
    })))
}

/// Polar's `active` customer filter: at least one trialing, active or past-due subscription.
fn has_billable_subscription(st: &SimState, customer: Uuid) -> bool {
    st.subscriptions.values().any(|s| {
        s.customer_id == customer
            && (s.status.is_active() || s.status == crate::model::SubscriptionStatus::PastDue)
    })
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    email: Option<String>,
    external_id: Option<String>,
    name: Option<String>,
    #[serde(default)]
    metadata: Metadata,
}

pub async fn create(State(sim): State<Arc<Shared>>, bytes: Bytes) -> Result<Response, ApiError> {
    let b: CreateBody = body(&bytes)?;
    let Some(email) = b.email else {
        return Err(ApiError::invalid(
            &["body", "email"],
            "Field required",
            "missing",
            Value::Null,
        ));
    };
    check_metadata("metadata", &b.metadata)?;
    let new = customers::NewCustomer {
        external_id: b.external_id,
        email: Some(email),
        name: b.name,
        metadata: b.metadata,
    };
    let id = sim.apply(false, |st, em| customers::create(st, em, new))?;
    Ok(created(render_customer(&sim, id)?))
}

fn render_customer(sim: &Shared, id: Uuid) -> Result<Value, ApiError> {
    sim.read(|st| {
        st.customer(id)
            .map(|c| render::customer(st, c))
            .map_err(|_| ApiError::NotFound)
    })
}

fn by_external(sim: &Shared, external_id: &str) -> Result<Uuid, ApiError> {
    sim.read(|st| st.customer_by_external_id(external_id).map(|c| c.id))
        .ok_or(ApiError::NotFound)
}

pub async fn get(
    State(sim): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    render_customer(&sim, path_uuid(&id)?).map(Json)
}

pub async fn get_external(
    State(sim): State<Arc<Shared>>,
    Path(ext): Path<String>,
) -> Result<Json<Value>, ApiError> {
    render_customer(&sim, by_external(&sim, &ext)?).map(Json)
}

#[derive(Debug, Deserialize)]
struct UpdateBody {
    email: Option<String>,
    name: Option<String>,
    metadata: Option<Metadata>,
    external_id: Option<String>,
}

fn update_customer(
    sim: &Shared,
    id: Uuid,
    bytes: &Bytes,
    allow_external_id: bool,
) -> Result<Json<Value>, ApiError> {
    let b: UpdateBody = body(bytes)?;
    if let Some(meta) = &b.metadata {
        check_metadata("metadata", meta)?;
    }
    let patch = customers::CustomerPatch {
        email: b.email,
        name: b.name,
        metadata: b.metadata,
        external_id: if allow_external_id {
            b.external_id
        } else {
            None
        },
    };
    sim.read(|st| st.customer(id).map(|_| ()).map_err(|_| ApiError::NotFound))?;
    sim.apply(false, |st, em| customers::update(st, em, id, patch))?;
    render_customer(sim, id).map(Json)
}

pub async fn update(
    State(sim): State<Arc<Shared>>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    update_customer(&sim, path_uuid(&id)?, &bytes, true)
}

pub async fn update_external(
    State(sim): State<Arc<Shared>>,
    Path(ext): Path<String>,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    update_customer(&sim, by_external(&sim, &ext)?, &bytes, false)
}

fn delete_customer(sim: &Shared, id: Uuid) -> Result<Response, ApiError> {
    sim.read(|st| st.customer(id).map(|_| ()).map_err(|_| ApiError::NotFound))?;
    sim.apply(false, |st, em| customers::delete(st, em, id))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn delete(
    State(sim): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    delete_customer(&sim, path_uuid(&id)?)
}

pub async fn delete_external(
    State(sim): State<Arc<Shared>>,
    Path(ext): Path<String>,
) -> Result<Response, ApiError> {
    delete_customer(&sim, by_external(&sim, &ext)?)
}

fn state_of(sim: &Shared, id: Uuid) -> Result<Json<Value>, ApiError> {
    sim.read(|st| {
        st.customer(id)
            .map(|c| Json(render::customer_state(st, c)))
            .map_err(|_| ApiError::NotFound)
    })
}

pub async fn state(
    State(sim): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state_of(&sim, path_uuid(&id)?)
}

pub async fn state_external(
    State(sim): State<Arc<Shared>>,
    Path(ext): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state_of(&sim, by_external(&sim, &ext)?)
}

#[derive(Debug, Deserialize)]
struct SessionBody {
    customer_id: Option<String>,
    external_customer_id: Option<String>,
    return_url: Option<String>,
}

pub async fn create_session(
    State(sim): State<Arc<Shared>>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let b: SessionBody = body(&bytes)?;
    let customer = match (&b.customer_id, &b.external_customer_id) {
        (Some(raw), _) => {
            let id = Uuid::parse_str(raw).map_err(|_| {
                ApiError::invalid(
                    &["body", "customer_id"],
                    "Input should be a valid UUID",
                    "uuid_parsing",
                    json!(raw),
                )
            })?;
            sim.read(|st| st.customer(id).map(|c| c.id).ok())
                .ok_or_else(|| {
                    ApiError::invalid(
                        &["body", "customer_id"],
                        "Customer does not exist.",
                        "value_error",
                        json!(raw),
                    )
                })?
        }
        (None, Some(ext)) => sim
            .read(|st| st.customer_by_external_id(ext).map(|c| c.id))
            .ok_or_else(|| {
                ApiError::invalid(
                    &["body", "external_customer_id"],
                    "Customer does not exist.",
                    "value_error",
                    json!(ext),
                )
            })?,
        (None, None) => {
            return Err(ApiError::invalid(
                &["body", "customer_id"],
                "Field required",
                "missing",
                Value::Null,
            ));
        }
    };
    let id = sim.apply(false, |st, _| {
        checkouts::create_session(st, customer, b.return_url)
    })?;
    let session = sim.read(|st| {
        st.sessions
            .get(&id)
            .map(|s| render::customer_session(st, s))
    });
    session.map(created).ok_or(ApiError::NotFound)
}
