//! Seat-based subscriptions: seats bought at checkout and changed by a subscription update.

use polar_sim::{Action, Proration};
use serde_json::{Value, json};

use super::support::{Api, demo_sim};

/// The demo's per-seat product: 8.00 USD per seat a month, 1 to 50 seats.
const PER_SEAT: i64 = 800;

async fn team_seats(api: &Api) -> Value {
    let page = api.ok("/v1/products/?metadata[plan]=team_seats").await;
    page["items"][0].clone()
}

#[tokio::test]
async fn a_checkout_sells_seats_and_an_update_changes_them_with_proration() {
    let sim = demo_sim().await;
    let api = Api::new(&sim);
    let product = team_seats(&api).await;
    let price = &product["prices"][0];
    assert_eq!(price["amount_type"], "seat_based");
    assert_eq!(price["seat_tiers"]["tiers"][0]["price_per_seat"], PER_SEAT);
    assert_eq!(
        (&price["minimum_units"], &price["maximum_units"]),
        (&json!(1), &json!(50))
    );

    let (status, checkout) = api
        .post(
            "/v1/checkouts/",
            json!({"products": [product["id"]], "external_customer_id": "user_team", "units": 3}),
        )
        .await;
    assert_eq!(status.as_u16(), 201, "{checkout}");
    assert_eq!(
        (&checkout["units"], &checkout["seats"]),
        (&json!(3), &json!(3))
    );
    assert_eq!(checkout["amount"], 3 * PER_SEAT);
    let id = checkout["id"].as_str().unwrap().parse().unwrap();
    let sub = sim
        .run(Action::CompleteCheckout {
            checkout: id,
            product: None,
        })
        .unwrap()
        .object;
    assert_eq!(
        (&sub["units"], &sub["amount"]),
        (&json!(3), &json!(3 * PER_SEAT))
    );
    let sub_id = sub["id"].as_str().unwrap();

    let (status, more) = api
        .patch(
            &format!("/v1/subscriptions/{sub_id}"),
            json!({"seats": 5, "proration_behavior": "invoice"}),
        )
        .await;
    assert_eq!(status.as_u16(), 200, "{more}");
    assert_eq!((&more["seats"], &more["units"]), (&json!(5), &json!(5)));
    assert_eq!(more["amount"], 5 * PER_SEAT);
    let orders = api
        .ok(&format!(
            "/v1/orders/?subscription_id={sub_id}&sorting=created_at"
        ))
        .await;
    let [first, prorated] = orders["items"].as_array().unwrap().as_slice() else {
        panic!("two orders: {orders}");
    };
    assert_eq!(
        (&first["units"], &first["total_amount"]),
        (&json!(3), &json!(3 * PER_SEAT))
    );
    assert_eq!(prorated["billing_reason"], "subscription_update");
    assert_eq!(prorated["units"], 5);
    // Two more seats for the whole period, bought at its very start.
    let due = prorated["total_amount"].as_i64().unwrap();
    assert!((2 * PER_SEAT - 1..=2 * PER_SEAT).contains(&due), "{due}");
    assert_eq!(prorated["items"][0]["proration"], true);
    assert_eq!(
        prorated["items"][0]["end_timestamp"],
        more["current_period_end"]
    );

    let (_, later) = api
        .patch(
            &format!("/v1/subscriptions/{sub_id}"),
            json!({"units": 2, "proration_behavior": "next_period"}),
        )
        .await;
    assert_eq!(
        (&later["units"], &later["pending_update"]["units"]),
        (&json!(5), &json!(2))
    );
    let renewed = sim
        .run(Action::Cycle {
            subscription: sub_id.into(),
            payment: polar_sim::Payment::Succeeds,
        })
        .unwrap()
        .object;
    assert_eq!(
        (&renewed["units"], &renewed["amount"]),
        (&json!(2), &json!(2 * PER_SEAT))
    );
    assert_eq!(renewed["pending_update"], Value::Null);
}

#[tokio::test]
async fn seat_changes_outside_the_price_limits_or_on_other_products_are_refused() {
    let sim = demo_sim().await;
    let api = Api::new(&sim);
    let product = team_seats(&api).await;
    let (status, _) = api
        .post(
            "/v1/checkouts/",
            json!({"products": [product["id"]], "seats": 51}),
        )
        .await;
    assert_eq!(status.as_u16(), 422);

    let alice = api
        .ok("/v1/subscriptions/?external_customer_id=user_alice")
        .await;
    let alice_id = alice["items"][0]["id"].as_str().unwrap();
    let (status, _) = api
        .patch(
            &format!("/v1/subscriptions/{alice_id}"),
            json!({"seats": 2}),
        )
        .await;
    assert_eq!(status.as_u16(), 422, "Premium is not seat-based");

    let sub = sim
        .run(Action::Subscribe {
            customer: "user_team".into(),
            product: "team_seats".into(),
            trial_days: None,
            direct: false,
        })
        .unwrap()
        .object;
    assert_eq!(
        sub["seats"], 1,
        "a purchase naming no seats buys the minimum"
    );
    let err = sim
        .run(Action::UpdateSeats {
            subscription: "user_team".into(),
            seats: 0,
            proration: Proration::Invoice,
        })
        .unwrap_err();
    assert!(err.to_string().contains("seats"), "{err}");
}
