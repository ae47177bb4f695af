//! Check and consume in one step: `POST /v1/check` with `"consume": true`.
//!
//! The algorithm, in one transaction:
//!
//! 1. With an `event_id`, look for the key first: a retried call gets the answer the first call
//!    got, and counts nothing again.
//! 2. Lock the counter of the feature's current period (`INSERT … ON CONFLICT DO UPDATE …
//!    RETURNING`, which creates it at zero and holds its row lock until commit).
//! 3. Let the engine decide on that fresh count (the customer's snapshot, built once, with the
//!    count as usage not yet in it).
//! 4. Only when allowed: store the key (with the answer), add the units, queue billed overage,
//!    and mark the snapshot as lagging.
//!
//! Concurrent calls for one counter run steps 2–4 one after another, each deciding on the count
//! the previous one left, so a `block` feature can never be pushed past its limit. On an exact
//! feature the count judged in step 3 includes the units of the edge's open leases
//! (`crate::leases`), which take the same lock: the app's calls and the edge share one budget.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use sqlx::PgPool;
use tollgate_gate::{Catalog, FeatureType, Timestamp, metered_periods};

use super::UsageError;
use super::counts::{self, Period, to_unit};
use super::levels::{FeatureJudge, Judge, Level};
use super::overage::{self, Overage};
use crate::account;
use crate::db::metered_customers::{self, Changed};
use crate::db::{self, usage_events::NewEvent};

/// A request to check and consume.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Consume {
    pub(crate) customer: String,
    pub(crate) feature: String,
    pub(crate) amount: u64,
    /// The caller's id for this use: a retry with the same id counts once.
    pub(crate) event_id: Option<String>,
    pub(crate) properties: Option<Map<String, Value>>,
}

/// What became of a request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Consumed {
    /// Decided now: the engine's Decision JSON plus `"consumed"`.
    Decided {
        answer: Value,
        changed: Option<Changed>,
    },
    /// The same `event_id` was consumed before: its answer, with `"duplicate": true`.
    Replayed(Value),
    /// The feature is not metered (a gauge or a boolean): nothing to consume.
    NotMetered,
    /// The `event_id` was already used by a usage event that was not a `consume` call.
    IdTaken,
}

/// Checks `request` at `now` and counts it when allowed.
pub(crate) async fn consume(
    pool: &PgPool,
    catalog: &Catalog,
    request: &Consume,
    now: DateTime<Utc>,
) -> Result<Consumed, UsageError> {
    let at = Timestamp::from(now);
    let mut tx = pool.begin().await?;
    if let Some(id) = &request.event_id
        && let Some(found) = stored_answer(&mut tx, &request.customer, id).await?
    {
        tx.commit().await?;
        return Ok(found);
    }
    let account = account::load_one(&mut tx, &request.customer).await?;
    let judges = Judge::new(catalog, &account, at)?;
    let period = match catalog.feature(&request.feature).map(|f| f.kind) {
        None => {
            // Unknown to the catalog: the engine's refusal says so.
            let answer = answer(&judges.feature(&request.feature, 0), request.amount, false)?;
            tx.commit().await?;
            return Ok(Consumed::Decided {
                answer,
                changed: None,
            });
        }
        Some(FeatureType::Metered) => metered_periods(catalog, &account, at)
            .get(&request.feature)
            .map(counts::stored),
        Some(_) => None,
    };
    let Some(period) = period else {
        return Ok(Consumed::NotMetered);
    };
    let mut used =
        db::usage_counters::lock(&mut tx, &request.customer, &request.feature, period, now).await?;
    if catalog.feature(&request.feature).is_some_and(|f| f.exact) {
        // The edge's open leases are spent budget: the app and the edge share one limit.
        let leased =
            db::leases::open_units(&mut tx, &request.customer, &request.feature, period.start)
                .await?;
        used = used.saturating_add(leased);
    }
    let judge = judges.feature(&request.feature, to_unit(used));
    let decision = judge.decide(request.amount);
    if !decision.allowed || request.amount == 0 {
        let answer = answer(&judge, request.amount, false)?;
        tx.commit().await?;
        return Ok(Consumed::Decided {
            answer,
            changed: None,
        });
    }
    let answer = answer(&judge, request.amount, true)?;
    let event_id = request
        .event_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    if !insert_key(&mut tx, request, &event_id, period, &answer, now).await? {
        // A concurrent call with the same id won: answer as it did.
        drop(tx);
        let mut conn = pool.acquire().await?;
        return Ok(stored_answer(&mut conn, &request.customer, &event_id)
            .await?
            .unwrap_or(Consumed::IdTaken));
    }
    let units = i64::try_from(request.amount).unwrap_or(i64::MAX);
    db::usage_counters::add(
        &mut tx,
        &[counts::Increment {
            customer: request.customer.clone(),
            feature: request.feature.clone(),
            period,
            units,
        }],
        now,
    )
    .await?;
    let billed = judge.billed(&decision);
    if billed > 0 {
        overage::enqueue(
            &mut tx,
            &[Overage {
                customer: request.customer.clone(),
                feature: request.feature.clone(),
                event_id,
                units: billed,
                occurred_at: now,
                properties: request.properties.clone(),
            }],
            now,
        )
        .await?;
    }
    let changed = Changed {
        customer: request.customer.clone(),
        urgent: Level::of(&decision) > Level::of(&judge.decide(0)),
    };
    metered_customers::mark(&mut tx, std::slice::from_ref(&changed), now).await?;
    tx.commit().await?;
    Ok(Consumed::Decided {
        answer,
        changed: Some(changed),
    })
}

/// The engine's decision for `amount`, with whether it was counted.
fn answer(judge: &FeatureJudge<'_>, amount: u64, consumed: bool) -> Result<Value, UsageError> {
    let mut answer = serde_json::to_value(judge.decide(amount))?;
    if let Some(fields) = answer.as_object_mut() {
        fields.insert("consumed".to_owned(), json!(consumed));
    }
    Ok(answer)
}

async fn stored_answer(
    conn: &mut sqlx::PgConnection,
    customer: &str,
    event_id: &str,
) -> Result<Option<Consumed>, sqlx::Error> {
    let found = db::usage_events::answer_of(conn, customer, event_id).await?;
    Ok(found.map(|answer| match answer {
        Some(mut answer) => {
            if let Some(fields) = answer.as_object_mut() {
                fields.insert("duplicate".to_owned(), json!(true));
            }
            Consumed::Replayed(answer)
        }
        None => Consumed::IdTaken,
    }))
}

async fn insert_key(
    conn: &mut sqlx::PgConnection,
    request: &Consume,
    event_id: &str,
    period: Period,
    answer: &Value,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let event = NewEvent {
        customer: &request.customer,
        event_id,
        feature: &request.feature,
        amount: i64::try_from(request.amount).unwrap_or(i64::MAX),
        occurred_at: now,
        period_start: period.start,
    };
    db::usage_events::insert_answered(conn, &event, answer).await
}
