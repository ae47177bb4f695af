//! What Polar's API shows of an object is what the last webhook about it carried. A change
//! that neither advances `modified_at` nor sends a webhook would be drift no consumer could
//! ever see, so the simulator makes none.

use std::collections::BTreeMap;

use polar_sim::{Action, Payment};
use serde_json::Value;

use super::support::{Api, demo_sim};

/// Fields that embed a related object as it is now: Polar renders them afresh on every read,
/// so they are not the object's own facts.
const RELATIONS: [&str; 3] = ["customer", "subscription", "product"];

#[tokio::test]
async fn the_api_shows_each_object_as_its_last_webhook_carried_it() {
    let sim = demo_sim().await;
    let user = "user_consistent";
    for action in [
        Action::Subscribe {
            customer: user.into(),
            product: "premium".into(),
            trial_days: None,
            direct: false,
        },
        // A rename after an order was paid: the order keeps the name it was billed under.
        Action::UpdateCustomer {
            customer: user.into(),
            email: None,
            name: Some("Renamed Later".into()),
            metadata: None,
        },
        Action::Refund {
            order: user.into(),
            amount: Some(500),
            reason: None,
            revoke_benefits: false,
        },
        Action::Cycle {
            subscription: user.into(),
            payment: Payment::Succeeds,
        },
        // The failed renewal's order carries its retry date from its first webhook on.
        Action::FailPayment {
            subscription: user.into(),
        },
    ] {
        sim.run(action).unwrap();
    }

    let mut last_sent: BTreeMap<String, Value> = BTreeMap::new();
    for event in sim.webhook_events() {
        let mut body: Value = serde_json::from_str(&event.body).unwrap();
        if let Some(id) = body["data"]["id"].as_str() {
            last_sent.insert(id.to_owned(), body["data"].take());
        }
    }
    let api = Api::new(&sim);
    let mut compared = BTreeMap::new();
    for resource in ["orders", "subscriptions", "refunds", "benefit-grants"] {
        let listed = api
            .ok(&format!(
                "/v1/{resource}/?external_customer_id={user}&limit=100"
            ))
            .await;
        for object in listed["items"].as_array().unwrap() {
            let id = object["id"].as_str().unwrap();
            let sent = &last_sent[id];
            for (field, value) in object.as_object().unwrap() {
                if !RELATIONS.contains(&field.as_str()) {
                    assert_eq!(&sent[field], value, "{resource} {id}: {field}");
                }
            }
            *compared.entry(resource).or_insert(0) += 1;
        }
    }
    assert_eq!(compared["orders"], 3, "{compared:?}");
    assert_eq!(compared["subscriptions"], 1);
    assert_eq!(compared["refunds"], 1);
}
