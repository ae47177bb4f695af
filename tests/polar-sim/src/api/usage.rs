//! Event ingestion and customer meters.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::query::{Params, SortKey, list as paginate};
use super::{body, path_uuid};
use crate::lifecycle::usage::{self, NewEvent};
use crate::render;
use crate::sim::Shared;

#[derive(Debug, Deserialize)]
struct IngestBody {
    events: Option<Vec<Value>>,
}

pub async fn ingest(State(sim): State<Arc<Shared>>, bytes: Bytes) -> Result<Json<Value>, ApiError> {
    let b: IngestBody = body(&bytes)?;
    let raw = b.events.ok_or_else(|| {
        ApiError::invalid(
            &["body", "events"],
            "Field required",
            "missing",
            Value::Null,
        )
    })?;
    let mut events = Vec::with_capacity(raw.len());
    for (i, e) in raw.into_iter().enumerate() {
        let idx = i.to_string();
        let parsed: NewEvent = serde_json::from_value(e.clone()).map_err(|err| {
            ApiError::invalid(&["body", "events", &idx], err.to_string(), "value_error", e)
        })?;
        events.push(parsed);
    }
    let out = sim.apply(false, |st, em| usage::ingest(st, em, events))?;
    Ok(Json(
        json!({ "inserted": out.inserted, "duplicates": out.duplicates }),
    ))
}

pub async fn list_customer_meters(
    State(sim): State<Arc<Shared>>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let q = Params(q);
    let page = q.page()?;
    let customers = q.uuids("customer_id")?;
    let externals = q.strings("external_customer_id");
    let meters = q.uuids("meter_id")?;
    let sorting = q.sorting(
        &[
            "created_at",
            "modified_at",
            "customer_id",
            "meter_id",
            "consumed_units",
            "balance",
        ],
        "-modified_at",
    )?;
    Ok(Json(sim.read(|st| {
        let items = st
            .customer_meters
            .values()
            .filter(|m| customers.is_empty() || customers.contains(&m.customer_id))
            .filter(|m| {
                externals.is_empty()
                    || st
                        .external_id_of(m.customer_id)
                        .is_some_and(|x| externals.iter().any(|e| e == x))
            })
            .filter(|m| meters.is_empty() || meters.contains(&m.meter_id))
            .collect();
        paginate(
            items,
            &sorting,
            |m, field| match field {
                "created_at" => SortKey::Time(m.created_at),
                "customer_id" => SortKey::Text(m.customer_id.to_string()),
                "meter_id" => SortKey::Text(m.meter_id.to_string()),
                "consumed_units" => {
                    SortKey::Int(i64::try_from(m.consumed_units).unwrap_or(i64::MAX))
                }
                "balance" => SortKey::Int(-i64::try_from(m.consumed_units).unwrap_or(i64::MAX)),
                _ => SortKey::Time(m.modified_at),
            },
            |m| (m.created_at, m.id),
            page,
            |m| render::customer_meter(st, m),
        )
    })))
}

pub async fn get_customer_meter(
    State(sim): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = path_uuid(&id)?;
    sim.read(|st| {
        st.customer_meters
            .get(&id)
            .map(|m| Json(render::customer_meter(st, m)))
    })
    .ok_or(ApiError::NotFound)
}
