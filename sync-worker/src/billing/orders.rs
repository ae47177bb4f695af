//! Invoice history from PostgreSQL: a customer's orders, newest first, in pages linked by an
//! opaque cursor (the position of the last order of the page: its `created_at` and id).

use super::{Billing, BillingError, check_customer, field};
use crate::db;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

/// The default and largest page.
pub(crate) const DEFAULT_LIMIT: i64 = 20;
pub(crate) const MAX_LIMIT: i64 = 100;

#[derive(Debug, Clone, Default)]
pub(crate) struct OrdersQuery {
    /// The `next` of the previous page.
    pub(crate) cursor: Option<String>,
    pub(crate) limit: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct OrderPage {
    pub(crate) items: Vec<Value>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    pub(crate) next: Option<String>,
}

fn encode(created_at: DateTime<Utc>, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{id}", created_at.to_rfc3339()))
}

fn decode(cursor: &str) -> Option<(DateTime<Utc>, String)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let (at, id) = text.split_once('|')?;
    Some((
        DateTime::parse_from_rfc3339(at).ok()?.to_utc(),
        id.to_owned(),
    ))
}

fn item(row: &db::orders::HistoryRow) -> Value {
    let product = field(&row.raw, "product");
    json!({
        "id": row.id,
        "created_at": row.created_at,
        "status": row.status,
        "billing_reason": field(&row.raw, "billing_reason"),
        "product": if product.is_null() {
            Value::Null
        } else {
            json!({ "id": field(product, "id"), "name": field(product, "name") })
        },
        "subscription_id": field(&row.raw, "subscription_id"),
        "amount": row.total_amount,
        "tax_amount": field(&row.raw, "tax_amount").as_i64().unwrap_or(0),
        "currency": row.currency,
        "refunded_amount": row.refunded_amount,
    })
}

impl Billing {
    /// `GET /v1/customers/{c}/orders`.
    pub(crate) async fn orders(
        &self,
        customer: &str,
        query: &OrdersQuery,
    ) -> Result<OrderPage, BillingError> {
        check_customer(customer)?;
        let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(BillingError::InvalidRequest(format!(
                "`limit` must be between 1 and {MAX_LIMIT}"
            )));
        }
        let after = match &query.cursor {
            None => None,
            Some(cursor) => Some(decode(cursor).ok_or_else(|| {
                BillingError::InvalidRequest(
                    "`cursor` is not one this API gave (pass the `next` of the previous page)"
                        .to_owned(),
                )
            })?),
        };
        let mut conn = self.pool.acquire().await?;
        if db::customers::live_by_external_id(&mut conn, customer)
            .await?
            .is_none()
        {
            return Err(BillingError::UnknownCustomer(customer.to_owned()));
        }
        let mut rows = db::orders::history(
            &mut conn,
            customer,
            after.as_ref().map(|(at, id)| (*at, id.as_str())),
            limit + 1,
        )
        .await?;
        let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next = more
            .then(|| rows.last().map(|last| encode(last.created_at, &last.id)))
            .flatten();
        Ok(OrderPage {
            items: rows.iter().map(item).collect(),
            next,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_strangers_are_refused() {
        let at = DateTime::parse_from_rfc3339("2026-12-01T10:00:00.123456Z")
            .unwrap()
            .to_utc();
        assert_eq!(decode(&encode(at, "abc")), Some((at, "abc".to_owned())));
        assert_eq!(decode("not a cursor"), None);
    }
}
