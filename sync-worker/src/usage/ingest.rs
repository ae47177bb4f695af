//! Batch ingestion: every event counted once, counters updated in the same transaction.
//!
//! The algorithm, for one batch:
//!
//! 1. Validate each event on its own ([`super::event::validate`]); drop repeats of an
//!    (customer, id) within the batch (they are duplicates of the first).
//! 2. Read the accounts of the batch's customers in one query and ask the engine for the
//!    period every metered feature counts in at `now` (`metered_periods`). An event stamped before
//!    its feature's current period is refused.
//! 3. In one transaction:
//!    - insert the de-duplication keys with one `INSERT … SELECT FROM unnest(…) ON CONFLICT DO
//!      NOTHING RETURNING`: the returned keys are the events counted now, the others were
//!      counted by an earlier or concurrent delivery of the same batch;
//!    - add the new events to their counters with one aggregated upsert that returns each count
//!      after the addition;
//!    - ask the engine what each addition did (soft limit or limit crossed, billed overage),
//!      queue billed overage per event, and mark the customers' snapshots as lagging.
//!
//! Keys and counter rows are written in sorted order, so concurrent batches lock rows in one
//! global order and never deadlock. A crash before the commit leaves nothing; after it, a
//! retried batch finds every key and adds nothing.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use tollgate_gate::{Account, Catalog, MeteredPeriods, Timestamp, metered_periods};

use super::UsageError;
use super::counts::{self, Increment, Period};
use super::event::{RejectCode, Rejection, UsageEvent, validate};
use super::levels::Judge;
use super::overage::{self, Overage};
use crate::account;
use crate::db::metered_customers::{self, Changed};
use crate::db::{self, usage_events::NewEvent};

/// The answer to a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = UsageReceipt)]
pub struct Receipt {
    /// Events counted by this request.
    pub accepted: u64,
    /// Events already counted (an earlier delivery, or a repeat within the batch).
    pub duplicates: u64,
    /// Events refused, by index in the batch.
    pub rejected: Vec<Rejection>,
    /// Customers whose snapshots lag their usage now (not part of the JSON answer).
    #[serde(skip)]
    pub changed: Vec<Changed>,
}

/// Validates and ingests a batch of raw events at `now`.
pub(crate) async fn ingest_raw(
    pool: &PgPool,
    catalog: &Catalog,
    raw: &[Value],
    now: DateTime<Utc>,
) -> Result<Receipt, UsageError> {
    let mut rejected = Vec::new();
    let mut events = Vec::with_capacity(raw.len());
    for (index, value) in raw.iter().enumerate() {
        match validate(index, value, catalog, now) {
            Ok(event) => events.push((index, event)),
            Err(rejection) => rejected.push(rejection),
        }
    }
    let mut receipt = ingest(pool, catalog, events, now).await?;
    receipt.rejected.extend(rejected);
    receipt.rejected.sort_by_key(|r| r.index);
    crate::metrics::usage_ingested(receipt.accepted, receipt.duplicates);
    for rejection in &receipt.rejected {
        crate::metrics::usage_rejected(rejection.code.as_str());
    }
    Ok(receipt)
}

/// Ingests valid events (each with its index in the batch) at `now`.
pub async fn ingest(
    pool: &PgPool,
    catalog: &Catalog,
    events: Vec<(usize, UsageEvent)>,
    now: DateTime<Utc>,
) -> Result<Receipt, UsageError> {
    let mut receipt = Receipt::default();
    let mut seen = HashSet::with_capacity(events.len());
    let mut unique = Vec::with_capacity(events.len());
    for (index, event) in events {
        if seen.insert((event.customer.clone(), event.id.clone())) {
            unique.push((index, event));
        } else {
            receipt.duplicates += 1;
        }
    }
    drop(seen);
    if unique.is_empty() {
        return Ok(receipt);
    }

    let mut customers: Vec<String> = unique.iter().map(|(_, e)| e.customer.clone()).collect();
    customers.sort_unstable();
    customers.dedup();
    let at = Timestamp::from(now);
    let mut conn = pool.acquire().await?;
    let ids: Vec<&str> = customers.iter().map(String::as_str).collect();
    let accounts: HashMap<String, Account> = account::load(&mut conn, &ids)
        .await?
        .into_iter()
        .map(|account| (account.customer.clone(), account))
        .collect();
    drop(conn);
    let periods: HashMap<&str, MeteredPeriods<'_>> = accounts
        .iter()
        .map(|(customer, account)| (customer.as_str(), metered_periods(catalog, account, at)))
        .collect();

    let mut counted = Vec::with_capacity(unique.len());
    for (index, event) in unique {
        let period = periods
            .get(event.customer.as_str())
            .and_then(|periods| periods.get(&event.feature))
            .map(counts::stored);
        let Some(period) = period else {
            receipt.rejected.push(Rejection::new(
                index,
                RejectCode::NotMetered,
                format!("event {index}: feature `{}` is not metered", event.feature),
            ));
            continue;
        };
        if event.timestamp < period.start {
            receipt.rejected.push(Rejection::new(
                index,
                RejectCode::TimestampBeforePeriod,
                format!(
                    "event {index}: `timestamp` {} is before the current period of `{}`, which started {}",
                    event.timestamp.to_rfc3339(),
                    event.feature,
                    period.start.to_rfc3339()
                ),
            ));
            continue;
        }
        counted.push((event, period));
    }
    drop(periods);
    counted.sort_unstable_by(|(a, _), (b, _)| {
        (a.customer.as_str(), a.id.as_str()).cmp(&(b.customer.as_str(), b.id.as_str()))
    });

    let mut tx = pool.begin().await?;
    let inserted = insert_keys(&mut tx, &counted, now).await?;
    let new: Vec<&(UsageEvent, Period)> = counted
        .iter()
        .zip(&inserted)
        .filter_map(|(event, new)| new.then_some(event))
        .collect();
    receipt.accepted = new.len() as u64;
    receipt.duplicates += (counted.len() - new.len()) as u64;

    // One increment per (customer, feature, period). Its events are ordered by time: the
    // earliest fit under the limit, the latest carry the overage.
    let mut groups: BTreeMap<(&str, &str, Period), Vec<&UsageEvent>> = BTreeMap::new();
    for (event, period) in &new {
        groups
            .entry((event.customer.as_str(), event.feature.as_str(), *period))
            .or_default()
            .push(event);
    }
    for events in groups.values_mut() {
        events.sort_by(|a, b| (a.timestamp, &a.id).cmp(&(b.timestamp, &b.id)));
    }
    let increments: Vec<Increment> = groups
        .iter()
        .map(|((customer, feature, period), events)| Increment {
            customer: (*customer).to_owned(),
            feature: (*feature).to_owned(),
            period: *period,
            units: events
                .iter()
                .fold(0i64, |sum, e| sum.saturating_add(e.amount as i64)),
        })
        .collect();
    let after = db::usage_counters::add(&mut tx, &increments, now).await?;

    let mut changed: BTreeMap<&str, bool> = BTreeMap::new();
    let mut judges: HashMap<&str, Judge> = HashMap::new();
    let mut overages = Vec::new();
    for ((increment, used_after), ((customer, feature, _), events)) in
        increments.iter().zip(after).zip(&groups)
    {
        let before = u64::try_from(used_after.saturating_sub(increment.units)).unwrap_or(0);
        let units = u64::try_from(increment.units).unwrap_or(0);
        let Some(account) = accounts.get(*customer) else {
            continue;
        };
        let judge = match judges.entry(customer) {
            Entry::Occupied(judge) => judge.into_mut(),
            Entry::Vacant(entry) => entry.insert(Judge::new(catalog, account, at)?),
        };
        let judge = judge.feature(feature, before);
        let effect = judge.effect(units);
        *changed.entry(customer).or_default() |= effect.crossed();
        if effect.billed_overage > 0 {
            let shares = judge.split(events.iter().map(|e| e.amount));
            for (event, units) in events.iter().zip(shares) {
                if units > 0 {
                    overages.push(Overage {
                        customer: event.customer.clone(),
                        feature: event.feature.clone(),
                        event_id: event.id.clone(),
                        units,
                        occurred_at: event.timestamp,
                        properties: event.properties.clone(),
                    });
                }
            }
        }
    }
    overage::enqueue(&mut tx, &overages, now).await?;
    receipt.changed = changed
        .into_iter()
        .map(|(customer, urgent)| Changed {
            customer: customer.to_owned(),
            urgent,
        })
        .collect();
    metered_customers::mark(&mut tx, &receipt.changed, now).await?;
    tx.commit().await?;
    Ok(receipt)
}

/// Inserts the de-duplication keys of `events` (sorted by customer and id); returns, for
/// each event, whether its key is new.
async fn insert_keys(
    conn: &mut sqlx::PgConnection,
    events: &[(UsageEvent, Period)],
    now: DateTime<Utc>,
) -> Result<Vec<bool>, sqlx::Error> {
    let new_events: Vec<NewEvent<'_>> = events
        .iter()
        .map(|(e, period)| NewEvent {
            customer: &e.customer,
            event_id: &e.id,
            feature: &e.feature,
            amount: e.amount as i64,
            occurred_at: e.timestamp,
            period_start: period.start,
        })
        .collect();
    let mut inserted = db::usage_events::insert_new(conn, &new_events, now).await?;
    // Both lists sorted the same way: one merge pass, no hashing of 10 000 keys.
    inserted.sort_unstable();
    let mut returned = inserted.iter().peekable();
    Ok(events
        .iter()
        .map(|(event, _)| {
            let key = (event.customer.as_str(), event.id.as_str());
            while returned
                .peek()
                .is_some_and(|(c, i)| (c.as_str(), i.as_str()) < key)
            {
                returned.next();
            }
            returned
                .peek()
                .is_some_and(|(c, i)| (c.as_str(), i.as_str()) == key)
        })
        .collect())
}
