//! The engine's view of many customers at once, read in two queries.
//!
//! Ingesting a batch needs, for every customer in it, the periods and limits the engine gives
//! at `now`; those depend on the customer's subscriptions and grants only. Reading them for all
//! the batch's customers at once (`= ANY($1)`) keeps a batch at a fixed number of round trips
//! however many customers it names.

use crate::snapshot::{self, SnapshotError};
use serde_json::Value;
use sqlx::PgConnection;
use std::collections::HashMap;
use tollgate_gate::Account;

/// The accounts (subscriptions and held grants, no usage) of `customers`, by external id.
/// Customers Polar does not know get an empty account: the default plan.
pub async fn load(
    conn: &mut PgConnection,
    customers: &[String],
) -> Result<HashMap<String, Account>, SnapshotError> {
    let subscriptions: Vec<(String, Value, Option<Value>)> = sqlx::query_as(
        "SELECT c.external_id, s.raw, p.raw
         FROM subscriptions s
         JOIN customers c ON c.id = s.customer_id
         LEFT JOIN products p ON p.id = s.product_id
         WHERE c.external_id = ANY($1) AND c.deleted_at IS NULL
         ORDER BY c.external_id, s.id",
    )
    .bind(customers)
    .fetch_all(&mut *conn)
    .await?;
    let grants: Vec<(String, Value)> = sqlx::query_as(
        "SELECT c.external_id, g.raw
         FROM benefit_grants g JOIN customers c ON c.id = g.customer_id
         WHERE c.external_id = ANY($1) AND c.deleted_at IS NULL
           AND g.is_granted AND NOT g.is_revoked
         ORDER BY c.external_id, g.id",
    )
    .bind(customers)
    .fetch_all(&mut *conn)
    .await?;

    let mut subscriptions_of: HashMap<String, Vec<(Value, Option<Value>)>> = HashMap::new();
    for (customer, subscription, product) in subscriptions {
        subscriptions_of
            .entry(customer)
            .or_default()
            .push((subscription, product));
    }
    let mut grants_of: HashMap<String, Vec<Value>> = HashMap::new();
    for (customer, grant) in grants {
        grants_of.entry(customer).or_default().push(grant);
    }
    customers
        .iter()
        .map(|customer| {
            let account = snapshot::base_account(
                customer,
                subscriptions_of.remove(customer).unwrap_or_default(),
                grants_of
                    .get(customer)
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
            )?;
            Ok((customer.clone(), account))
        })
        .collect()
}

/// The account (subscriptions and held grants, no usage) of one customer.
pub async fn load_one(conn: &mut PgConnection, customer: &str) -> Result<Account, SnapshotError> {
    let customers = [customer.to_owned()];
    match load(conn, &customers).await?.remove(customer) {
        Some(account) => Ok(account),
        None => snapshot::base_account(customer, Vec::new(), &[]),
    }
}
