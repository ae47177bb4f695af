//! Products, benefits, benefit grants and meters.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde_json::Value;

use super::error::ApiError;
use super::path_uuid;
use super::query::{Params, SortKey, list, metadata_matches};
use crate::render;
use crate::sim::Shared;

type Q = Query<Vec<(String, String)>>;

pub async fn list_products(
    State(sim): State<Arc<Shared>>,
    Query(q): Q,
) -> Result<Json<Value>, ApiError> {
    let q = Params(q);
    let page = q.page()?;
    let ids = q.uuids("id")?;
    let benefit_ids = q.uuids("benefit_id")?;
    let text = q.string("query").map(|s| s.to_lowercase());
    let archived = q.bool("is_archived")?;
    let recurring = q.bool("is_recurring")?;
    let meta = q.metadata();
    let sorting = q.sorting(&["created_at", "name", "price_amount"], "-created_at")?;
    Ok(Json(sim.read(|st| {
        let items = st
            .products
            .values()
            .filter(|p| ids.is_empty() || ids.contains(&p.id))
            .filter(|p| {
                benefit_ids.is_empty() || p.benefit_ids.iter().any(|b| benefit_ids.contains(b))
            })
            .filter(|p| {
                text.as_ref()
                    .is_none_or(|t| p.name.to_lowercase().contains(t))
            })
            .filter(|p| archived.is_none_or(|a| p.is_archived == a))
            .filter(|p| recurring.is_none_or(|r| p.recurring_interval.is_some() == r))
            .filter(|p| metadata_matches(&p.metadata, &meta))
            .collect();
        list(
            items,
            &sorting,
            |p, field| match field {
                "name" => SortKey::Text(p.name.clone()),
                "price_amount" => SortKey::Int(p.price.amount),
                _ => SortKey::Time(p.created_at),
            },
            |p| (p.created_at, p.id),
            page,
            |p| render::product(st, p),
        )
    })))
}

pub async fn get_product(
    State(sim): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = path_uuid(&id)?;
    sim.read(|st| st.products.get(&id).map(|p| Json(render::product(st, p))))
        .ok_or(ApiError::NotFound)
}

pub async fn list_benefits(
    State(sim): State<Arc<Shared>>,
    Query(q): Q,
) -> Result<Json<Value>, ApiError> {
    let q = Params(q);
    let page = q.page()?;
    let ids = q.uuids("id")?;
    let exclude = q.uuids("exclude_id")?;
    let types = q.strings("type");
    let text = q.string("query").map(|s| s.to_lowercase());
    let meta = q.metadata();
    let sorting = q.sorting(
        &["created_at", "description", "type", "user_order"],
        "-created_at",
    )?;
    Ok(Json(sim.read(|st| {
        let items = st
            .benefits
            .values()
            .filter(|b| ids.is_empty() || ids.contains(&b.id))
            .filter(|b| !exclude.contains(&b.id))
            .filter(|_| types.is_empty() || types.iter().any(|t| t == "feature_flag"))
            .filter(|b| {
                text.as_ref()
                    .is_none_or(|t| b.description.to_lowercase().contains(t))
            })
            .filter(|b| metadata_matches(&b.metadata, &meta))
            .collect();
        list(
            items,
            &sorting,
            |b, field| match field {
                "description" => SortKey::Text(b.description.clone()),
                "type" => SortKey::Text("feature_flag".into()),
                _ => SortKey::Time(b.created_at),
            },
            |b| (b.created_at, b.id),
            page,
            |b| render::benefit(st, b),
        )
    })))
}

pub async fn get_benefit(
    State(sim): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = path_uuid(&id)?;
    sim.read(|st| st.benefits.get(&id).map(|b| Json(render::benefit(st, b))))
        .ok_or(ApiError::NotFound)
}

pub async fn list_grants(
    State(sim): State<Arc<Shared>>,
    Query(q): Q,
) -> Result<Json<Value>, ApiError> {
    let q = Params(q);
    let page = q.page()?;
    let customers = q.uuids("customer_id")?;
    let externals = q.strings("external_customer_id");
    let granted = q.bool("is_granted")?;
    let sorting = q.sorting(&["created_at", "granted_at", "revoked_at"], "-created_at")?;
    Ok(Json(sim.read(|st| {
        let items = st
            .grants
            .values()
            .filter(|g| customers.is_empty() || customers.contains(&g.customer_id))
            .filter(|g| {
                externals.is_empty()
                    || st
                        .external_id_of(g.customer_id)
                        .is_some_and(|x| externals.iter().any(|e| e == x))
            })
            .filter(|g| granted.is_none_or(|want| g.is_granted() == want))
            .collect();
        list(
            items,
            &sorting,
            |g, field| match field {
                "granted_at" => g.granted_at.into(),
                "revoked_at" => g.revoked_at.into(),
                _ => SortKey::Time(g.created_at),
            },
            |g| (g.created_at, g.id),
            page,
            |g| render::grant(st, g),
        )
    })))
}

pub async fn list_meters(
    State(sim): State<Arc<Shared>>,
    Query(q): Q,
) -> Result<Json<Value>, ApiError> {
    let q = Params(q);
    let page = q.page()?;
    let sorting = q.sorting(&["created_at", "name"], "name")?;
    Ok(Json(sim.read(|st| {
        list(
            st.meters.values().collect(),
            &sorting,
            |m, field| match field {
                "name" => SortKey::Text(m.name.clone()),
                _ => SortKey::Time(m.created_at),
            },
            |m| (m.created_at, m.id),
            page,
            |m| render::meter(st, m),
        )
    })))
}

pub async fn get_meter(
    State(sim): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = path_uuid(&id)?;
    sim.read(|st| st.meters.get(&id).map(|m| Json(render::meter(st, m))))
        .ok_or(ApiError::NotFound)
}
