//! The support view of one customer, read across tables in one statement: the Polar
//! customer, subscriptions, last orders, the current snapshot, the counters of the customer,
//! grants, adjustments, recent webhooks and audit entries — one round trip, not one per section.

use serde::Deserialize;
use serde_json::Value;
use sqlx::PgConnection;
use sqlx::types::Json;

/// How many rows of each list the view shows.
pub(crate) const RECENT: i64 = 20;
/// How many of the newest deliveries are searched for the customer's webhooks (they have no
/// customer column; the view looks for the Polar customer id in their payloads).
pub(crate) const WEBHOOKS_SCANNED: i64 = 2_000;

/// The sections of the view, as stored.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Sections {
    /// `{polar_id, email, name, created_at, deleted_at}` of each Polar customer with that
    /// external id.
    pub(crate) polar: Vec<Value>,
    pub(crate) subscriptions: Vec<Value>,
    pub(crate) orders: Vec<Value>,
    /// The current snapshot, if one was ever built.
    pub(crate) snapshot: Option<Value>,
    /// `{feature, period_start, period_end, used}` of every counter, newest period first.
    pub(crate) counters: Vec<Value>,
    pub(crate) gauges: Vec<Value>,
    pub(crate) grants: Vec<Value>,
    pub(crate) adjustments: Vec<Value>,
    pub(crate) webhooks: Vec<Value>,
    pub(crate) audit: Vec<Value>,
    /// Whether a metered-usage row exists (a free user tollgate has counted).
    pub(crate) metered: bool,
}

pub(crate) async fn load(conn: &mut PgConnection, customer: &str) -> Result<Sections, sqlx::Error> {
    let Json(sections): Json<Sections> = sqlx::query_scalar(
        "WITH polar AS (
             SELECT id, email, raw, deleted_at FROM customers WHERE external_id = $1
         )
         SELECT jsonb_build_object(
           'polar', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                         'polar_id', id, 'email', email, 'name', raw -> 'name',
                         'created_at', raw -> 'created_at', 'deleted_at', deleted_at)
                         ORDER BY id), '[]') FROM polar),
           'subscriptions', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                         'id', s.id, 'status', s.status, 'product_id', s.product_id,
                         'product', p.name, 'amount', s.raw -> 'amount',
                         'currency', s.raw -> 'currency',
                         'current_period_start', s.raw -> 'current_period_start',
                         'current_period_end', s.raw -> 'current_period_end',
                         'cancel_at_period_end', s.raw -> 'cancel_at_period_end',
                         'started_at', s.raw -> 'started_at')
                         ORDER BY s.version_at DESC), '[]')
                 FROM subscriptions s JOIN polar c ON c.id = s.customer_id
                 LEFT JOIN products p ON p.id = s.product_id),
           'orders', (SELECT coalesce(jsonb_agg(o.row ORDER BY o.at DESC), '[]') FROM (
                 SELECT (o.raw ->> 'created_at')::timestamptz AS at, jsonb_build_object(
                         'id', o.id, 'created_at', o.raw -> 'created_at', 'status', o.status,
                         'billing_reason', o.billing_reason, 'amount', o.total_amount,
                         'currency', o.currency, 'refunded_amount', o.refunded_amount,
                         'subscription_id', o.subscription_id) AS row
                 FROM orders o JOIN polar c ON c.id = o.customer_id
                 ORDER BY (o.raw ->> 'created_at')::timestamptz DESC LIMIT $2) o),
           'snapshot', (SELECT e.snapshot FROM entitlement_snapshots e WHERE e.customer = $1
                        ORDER BY e.revision DESC LIMIT 1),
           'counters', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                         'feature', u.feature, 'period_start', u.period_start,
                         'period_end', u.period_end, 'used', u.used)
                         ORDER BY u.period_start DESC, u.feature), '[]')
                 FROM usage_counters u WHERE u.customer = $1),
           'gauges', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                         'feature', g.feature, 'level', g.level, 'updated_at', g.updated_at)
                         ORDER BY g.feature), '[]')
                 FROM usage_gauges g WHERE g.customer = $1),
           'grants', (SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.id DESC), '[]') FROM (
                 SELECT id, customer, feature, kind, units, expires_at, reason, created_at,
                        created_by, ended_at, ended_by
                 FROM grants WHERE customer = $1 ORDER BY id DESC LIMIT $2) t),
           'adjustments', (SELECT coalesce(jsonb_agg(to_jsonb(a) ORDER BY a.id DESC), '[]') FROM (
                 SELECT id, customer, feature, period_start, delta, applied, used_after, reason,
                        created_at, created_by
                 FROM usage_adjustments WHERE customer = $1 ORDER BY id DESC LIMIT $2) a),
           'webhooks', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                         'webhook_id', w.webhook_id, 'type', w.event_type, 'status', w.status,
                         'received_at', w.received_at, 'last_error', w.last_error)
                         ORDER BY w.id DESC), '[]') FROM (
                 SELECT w.* FROM (SELECT id, webhook_id, event_type, status, received_at,
                                         last_error, payload
                                  FROM webhook_events ORDER BY id DESC LIMIT $3) w
                 WHERE EXISTS (SELECT 1 FROM polar c
                               WHERE strpos(w.payload, '\"' || c.id || '\"') > 0)
                    OR strpos(w.payload, '\"external_id\":\"' || $1 || '\"') > 0
                 ORDER BY w.id DESC LIMIT $2) w),
           'audit', (SELECT coalesce(jsonb_agg(to_jsonb(l) ORDER BY l.at DESC, l.id DESC), '[]') FROM (
                 SELECT id, at, actor, role, action, subject, customer, before, after, reason,
                        request_id, details
                 FROM audit_log WHERE customer = $1 ORDER BY at DESC, id DESC LIMIT $2) l),
           'metered', EXISTS (SELECT 1 FROM metered_customers WHERE customer = $1)
         )",
    )
    .bind(customer)
    .bind(RECENT)
    .bind(WEBHOOKS_SCANNED)
    .fetch_one(conn)
    .await?;
    Ok(sections)
}
