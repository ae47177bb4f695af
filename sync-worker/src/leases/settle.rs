//! Settling leases: by their holder (`POST /v1/leases/{id}/settle`) or, once expired, as fully
//! used.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{LeaseError, Refusal, refused};
use crate::db::metered_customers::{self, Changed};
use crate::db::usage_counters::{Increment, Period};
use crate::db::usage_events::NewEvent;
use crate::db::{self, leases::Lease};

/// Who settled a lease.
const BY_HOLDER: &str = "holder";
const BY_EXPIRY: &str = "expiry";

/// A settled lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = Settlement)]
pub(crate) struct Settled {
    #[schema(value_type = String, format = "uuid")]
    pub(crate) id: Uuid,
    pub(crate) customer: String,
    pub(crate) feature: String,
    pub(crate) granted: i64,
    pub(crate) used: i64,
    /// Units given back to the period's budget.
    pub(crate) returned: i64,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub(crate) settled_at: Option<DateTime<Utc>>,
    /// `holder` (a settle call) or `expiry` (settled as fully used once expired).
    pub(crate) settled_by: Option<String>,
    /// The lease was settled before: this is that settlement, and nothing was counted now.
    pub(crate) duplicate: bool,
}

impl Settled {
    fn of(lease: Lease, duplicate: bool) -> Self {
        let used = lease.used.unwrap_or(lease.granted);
        Self {
            id: lease.id,
            customer: lease.customer,
            feature: lease.feature,
            granted: lease.granted,
            used,
            returned: lease.granted - used,
            settled_at: lease.settled_at,
            settled_by: lease.settled_by,
            duplicate,
        }
    }
}

/// Settles lease `id` with the `used` units its holder spent (module docs, step 2).
pub(crate) async fn settle(
    pool: &PgPool,
    id: Uuid,
    used: u64,
    now: DateTime<Utc>,
) -> Result<Settled, LeaseError> {
    let mut tx = pool.begin().await?;
    let Some(found) = db::leases::find(&mut tx, id).await? else {
        return Err(refused(
            Refusal::UnknownLease,
            format!("no lease `{id}` was granted"),
        ));
    };
    if found.settled_at.is_some() {
        return Ok(Settled::of(found, true));
    }
    let used = i64::try_from(used).unwrap_or(i64::MAX);
    if used > found.granted {
        return Err(refused(
            Refusal::InvalidUsed,
            format!(
                "`used` is {used}, but lease `{id}` granted {} units",
                found.granted
            ),
        ));
    }
    let period = found.period();
    db::usage_counters::lock(&mut tx, &found.customer, &found.feature, period, now).await?;
    let Some(lease) = db::leases::lock(&mut tx, id).await? else {
        return Err(refused(
            Refusal::UnknownLease,
            format!("no lease `{id}` was granted"),
        ));
    };
    if lease.settled_at.is_some() {
        // Settled by a concurrent call or by expiry between the two reads.
        return Ok(Settled::of(lease, true));
    }
    let settled = close(&mut tx, &lease, used, BY_HOLDER, now).await?;
    tx.commit().await?;
    Ok(Settled::of(settled, false))
}

/// Settles up to `limit` expired leases as fully used, each in its own transaction; returns
/// how many it settled.
pub(crate) async fn settle_expired(
    pool: &PgPool,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<u64, LeaseError> {
    let mut conn = pool.acquire().await?;
    let ids = db::leases::expired(&mut conn, now, limit).await?;
    drop(conn);
    let mut settled = 0;
    for id in ids {
        let mut tx = pool.begin().await?;
        let Some(found) = db::leases::find(&mut tx, id).await? else {
            continue;
        };
        db::usage_counters::lock(
            &mut tx,
            &found.customer,
            &found.feature,
            found.period(),
            now,
        )
        .await?;
        // Another replica, the holder or a grant may have settled it meanwhile.
        let Some(lease) = db::leases::lock(&mut tx, id).await? else {
            continue;
        };
        if lease.settled_at.is_none() && lease.expires_at <= now {
            close(&mut tx, &lease, lease.granted, BY_EXPIRY, now).await?;
            tx.commit().await?;
            settled += 1;
        }
    }
    Ok(settled)
}

/// Settles, as fully used, the expired open leases of a counter whose lock the caller holds;
/// returns how many.
pub(crate) async fn expired_of(
    conn: &mut PgConnection,
    customer: &str,
    feature: &str,
    period: Period,
    now: DateTime<Utc>,
) -> Result<usize, LeaseError> {
    let expired = db::leases::expired_on(conn, customer, feature, period.start, now).await?;
    for lease in &expired {
        close(conn, lease, lease.granted, BY_EXPIRY, now).await?;
    }
    Ok(expired.len())
}

/// Marks a locked open lease settled and counts its `used` units: the counter, one usage
/// event (`lease:<id>`, so the monthly report sees them), and the snapshot's lag mark.
async fn close(
    conn: &mut PgConnection,
    lease: &Lease,
    used: i64,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Lease, LeaseError> {
    let settled = db::leases::settle(conn, lease.id, used, by, now).await?;
    if used == 0 {
        return Ok(settled);
    }
    let event_id = format!("lease:{}", lease.id);
    let event = NewEvent {
        customer: &lease.customer,
        event_id: &event_id,
        feature: &lease.feature,
        amount: used,
        occurred_at: within(lease.period(), now),
        period_start: lease.period_start,
    };
    db::usage_events::insert_new(conn, std::slice::from_ref(&event), now).await?;
    db::usage_counters::add(
        conn,
        &[Increment {
            customer: lease.customer.clone(),
            feature: lease.feature.clone(),
            period: lease.period(),
            units: used,
        }],
        now,
    )
    .await?;
    let changed = Changed {
        customer: lease.customer.clone(),
        urgent: false,
    };
    metered_customers::mark(conn, std::slice::from_ref(&changed), now).await?;
    Ok(settled)
}

/// When the settled units occurred, for reports: now, or the period's last millisecond when
/// the lease is settled after its period ended.
fn within(period: Period, now: DateTime<Utc>) -> DateTime<Utc> {
    match period.end {
        Some(end) if now >= end => end - Duration::milliseconds(1),
        _ => now,
    }
}
