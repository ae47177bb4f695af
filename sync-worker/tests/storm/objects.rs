//! Polar's objects as Polar's API lists them (the truth) and as tollgate stored them, and
//! where the two differ.

use polar_sim::SimHandle;
use serde_json::Value;
use sqlx::PgPool;
use std::collections::BTreeMap;

/// Each resource: its name, Polar's list path and tollgate's table.
const RESOURCES: [(&str, &str, &str); 7] = [
    ("products", "/v1/products/", "products"),
    ("customers", "/v1/customers/", "customers"),
    ("subscriptions", "/v1/subscriptions/", "subscriptions"),
    ("orders", "/v1/orders/", "orders"),
    ("refunds", "/v1/refunds/", "refunds"),
    ("benefit grants", "/v1/benefit-grants/", "benefit_grants"),
    ("checkouts", "/v1/checkouts/", "checkouts"),
];

/// Fields that embed a related object as it is now (Polar renders them afresh on every read):
/// each is compared as an object of its own resource, not as a copy inside another.
const RELATIONS: [&str; 3] = ["customer", "subscription", "product"];

/// Objects by resource, then by id.
#[derive(Debug, Default)]
pub struct Objects(pub BTreeMap<&'static str, BTreeMap<String, Value>>);

impl Objects {
    /// Every object Polar's API lists, page by page.
    pub async fn in_polar(sim: &SimHandle) -> Self {
        let client = reqwest::Client::new();
        let mut objects = Self::default();
        for (resource, path, _) in RESOURCES {
            let listed = objects.0.entry(resource).or_default();
            for page in 1.. {
                let answer: Value = client
                    .get(format!("{}{path}", sim.base_url()))
                    .query(&[("page", page), ("limit", 100)])
                    .bearer_auth(sim.access_token())
                    .send()
                    .await
                    .unwrap()
                    .error_for_status()
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                for item in answer["items"].as_array().unwrap() {
                    listed.insert(item["id"].as_str().unwrap().to_owned(), item.clone());
                }
                if page >= answer["pagination"]["max_page"].as_u64().unwrap() {
                    break;
                }
            }
        }
        objects
    }

    /// Every object tollgate stored.
    pub async fn in_database(pool: &PgPool) -> Self {
        let mut objects = Self::default();
        for (resource, _, table) in RESOURCES {
            let rows: Vec<(String, Value)> =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT id, raw FROM {table}")))
                    .fetch_all(pool)
                    .await
                    .unwrap();
            objects.0.insert(resource, rows.into_iter().collect());
        }
        objects
    }

    pub fn of(&self, resource: &str) -> &BTreeMap<String, Value> {
        &self.0[resource]
    }

    /// How many objects of each resource, e.g. `1000 customers, 1432 subscriptions`.
    pub fn counts(&self) -> String {
        let counts: Vec<String> = self
            .0
            .iter()
            .map(|(resource, objects)| format!("{} {resource}", objects.len()))
            .collect();
        counts.join(", ")
    }

    /// Where `stored` differs from these objects (the truth): an object missing or extra, or
    /// a field of Polar's object with another value. Polar's `customer.state_changed` stores a
    /// customer with more fields than the customer object, so only Polar's fields count.
    pub fn differences(&self, stored: &Objects) -> Vec<String> {
        let mut differences = Vec::new();
        for (resource, truth) in &self.0 {
            let stored = stored.of(resource);
            for (id, object) in truth {
                let Some(kept) = stored.get(id) else {
                    differences.push(format!("{resource} {id}: never stored"));
                    continue;
                };
                for (field, value) in object.as_object().unwrap() {
                    if !RELATIONS.contains(&field.as_str()) && kept.get(field) != Some(value) {
                        differences.push(format!(
                            "{resource} {id}: {field} is {} in Polar, {} stored",
                            value,
                            kept.get(field).unwrap_or(&Value::Null)
                        ));
                    }
                }
            }
            for id in stored.keys().filter(|id| !truth.contains_key(*id)) {
                differences.push(format!("{resource} {id}: stored, unknown to Polar"));
            }
        }
        differences
    }
}
