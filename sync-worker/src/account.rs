//! A customer's account — the engine's input — from what is stored.
//!
//! The engine (`tollgate_gate::build_snapshot`) is the only implementation of the plan and
//! status rules; this module only gathers its input: the customer's subscriptions, each with
//! the newest stored version of its product, the held benefit grants that name a tollgate
//! feature, and the live grants made in tollgate (`POST /v1/admin/grants`). Usage and gauge levels are filled in by the usage module's counts.

use crate::db;
use serde_json::{Map, Value};
use sqlx::PgConnection;
use tollgate_gate::{Account, Grant, GrantAmount};

/// A benefit with this metadata key adds to the named feature's limit while its grant is held.
pub(crate) const GRANT_FEATURE_KEY: &str = "tollgate_feature";
/// How much the benefit adds: a number, `"unlimited"`, or `true` (the default, for booleans).
pub(crate) const GRANT_AMOUNT_KEY: &str = "tollgate_amount";

/// The accounts (subscriptions and held grants, no usage) of `customers`, in the order given.
/// Customers Polar does not know get an empty account: the default plan.
pub(crate) async fn load(
    conn: &mut PgConnection,
    customers: &[&str],
) -> Result<Vec<Account>, sqlx::Error> {
    let rows = db::accounts::load(conn, customers).await?;
    Ok(rows.into_iter().map(of).collect())
}

/// The account of one customer.
pub(crate) async fn load_one(
    conn: &mut PgConnection,
    customer: &str,
) -> Result<Account, sqlx::Error> {
    let mut accounts = load(conn, &[customer]).await?;
    Ok(accounts.pop().unwrap_or_else(|| of(empty(customer))))
}

fn empty(customer: &str) -> db::accounts::Row {
    db::accounts::Row {
        customer: customer.to_owned(),
        subscriptions: Vec::new(),
        benefits: Vec::new(),
        grants: Vec::new(),
    }
}

/// The engine's account of a stored row.
fn of(row: db::accounts::Row) -> Account {
    Account {
        customer: row.customer,
        subscriptions: row.subscriptions,
        usage: Default::default(),
        gauges: Default::default(),
        grants: row
            .benefits
            .iter()
            .filter_map(grant_of)
            .chain(row.grants.into_iter().map(|held| Grant {
                feature: held.feature,
                amount: held.amount,
                expires_at: held.expires_at.map(tollgate_gate::Timestamp::from),
            }))
            .collect(),
        revision: 0,
    }
}

/// The engine grant a held benefit gives, when its metadata names a feature
/// (`tollgate_feature`, optional `tollgate_amount`). Polar's benefit grants have no expiry of
/// their own: the grant lasts while Polar holds it.
fn grant_of(metadata: &Map<String, Value>) -> Option<Grant> {
    let feature = metadata.get(GRANT_FEATURE_KEY)?.as_str()?;
    let amount = match metadata.get(GRANT_AMOUNT_KEY) {
        None | Some(Value::Bool(true)) => GrantAmount::Enabled,
        Some(Value::Number(n)) => GrantAmount::Units(n.as_u64()?),
        Some(Value::String(s)) if s == "unlimited" => GrantAmount::Unlimited,
        Some(Value::String(s)) => GrantAmount::Units(s.trim().parse().ok()?),
        Some(_) => return None,
    };
    Some(Grant {
        feature: feature.to_owned(),
        amount,
        expires_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn grant(metadata: Value) -> Option<GrantAmount> {
        let Value::Object(metadata) = metadata else {
            return None;
        };
        grant_of(&metadata).map(|grant| grant.amount)
    }

    #[test]
    fn tagged_benefits_become_grants() {
        assert_eq!(grant(json!({})), None);
        assert_eq!(
            grant(json!({"tollgate_feature": "api_calls", "tollgate_amount": 5000})),
            Some(GrantAmount::Units(5000))
        );
        assert_eq!(
            grant(json!({"tollgate_feature": "api_calls", "tollgate_amount": "5000"})),
            Some(GrantAmount::Units(5000))
        );
        assert_eq!(
            grant(json!({"tollgate_feature": "seats", "tollgate_amount": "unlimited"})),
            Some(GrantAmount::Unlimited)
        );
        assert_eq!(
            grant(json!({"tollgate_feature": "priority_support"})),
            Some(GrantAmount::Enabled)
        );
        assert_eq!(
            grant(json!({"tollgate_feature": "x", "tollgate_amount": -3})),
            None
        );
    }
}
