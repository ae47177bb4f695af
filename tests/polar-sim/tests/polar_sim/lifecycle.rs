//! Lifecycles: the state Polar would hold and the webhooks it would send, in its order.

use chrono::{DateTime, Duration, Utc};
use polar_sim::{Action, Payment, Proration, Scenario, SimHandle, SubscriptionStatus};
use serde_json::Value;

use super::support::{Api, demo_sim};

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .to_utc()
}

fn run(sim: &SimHandle, action: Action) -> (Value, Vec<String>) {
    let out = sim.run(action).unwrap();
    (out.object, out.events)
}

fn cancel(subscription: &str) -> Action {
    Action::Cancel {
        subscription: subscription.into(),
        reason: None,
        comment: None,
    }
}

#[tokio::test]
async fn buying_through_a_checkout_sends_polars_sequence() {
    let sim = demo_sim().await;
    let (sub, events) = run(
        &sim,
        Action::Subscribe {
            customer: "user_new".into(),
            product: "premium".into(),
            trial_days: None,
            direct: false,
        },
    );
    assert_eq!(
        events,
        [
            "checkout.created",
            "checkout.updated",
            "customer.created",
            "subscription.created",
            "subscription.active",
            "order.created",
            "order.updated",
            "order.paid",
            "benefit_grant.created",
            "checkout.updated",
            "customer.state_changed",
        ]
    );
    assert_eq!(sub["status"], "active");
    assert_eq!(sub["customer"]["external_id"], "user_new");
    assert_eq!(sub["product"]["metadata"]["plan"], "premium");
    assert_eq!(time(&sub["current_period_start"]), sim.now());
    assert_eq!(
        time(&sub["current_period_end"]),
        sim.now()
            .checked_add_months(chrono::Months::new(1))
            .unwrap()
    );
    assert!(sub["checkout_id"].is_string());

    let api = Api::new(&sim);
    let state = api.ok("/v1/customers/external/user_new/state").await;
    assert_eq!(state["active_subscriptions"][0]["id"], sub["id"]);
    assert_eq!(
        state["granted_benefits"][0]["benefit_metadata"]["plan"],
        "premium"
    );
    let order = &api.ok("/v1/orders/?external_customer_id=user_new").await["items"][0];
    assert_eq!(order["status"], "paid");
    assert_eq!(order["billing_reason"], "subscription_create");
    assert_eq!(order["total_amount"], 1900);
}

#[tokio::test]
async fn a_cancellation_waits_for_the_period_end_and_can_be_undone() {
    let sim = demo_sim().await;
    let (sub, events) = run(&sim, cancel("user_alice"));
    assert_eq!(
        events,
        [
            "subscription.updated",
            "subscription.canceled",
            "customer.state_changed"
        ]
    );
    assert_eq!(
        sub["status"], "active",
        "still entitled until the period end"
    );
    assert_eq!(sub["cancel_at_period_end"], true);
    assert_eq!(sub["ends_at"], sub["current_period_end"]);

    let (sub, events) = run(
        &sim,
        Action::Uncancel {
            subscription: "user_alice".into(),
        },
    );
    assert_eq!(
        events,
        [
            "subscription.updated",
            "subscription.uncanceled",
            "customer.state_changed"
        ]
    );
    assert_eq!(sub["cancel_at_period_end"], false);
    assert!(sub["ends_at"].is_null());

    let err = sim
        .run(Action::Uncancel {
            subscription: "user_alice".into(),
        })
        .unwrap_err();
    assert_eq!(err.code(), "not_canceled");

    run(&sim, cancel("user_alice"));
    let end = time(&sub["current_period_end"]);
    let out = sim.advance(end - sim.now() + Duration::hours(1)).unwrap();
    let alice_ended = out
        .events
        .windows(2)
        .any(|w| w == ["subscription.updated", "subscription.revoked"]);
    assert!(alice_ended, "{:?}", out.events);
    let api = Api::new(&sim);
    let ended = api
        .ok(&format!(
            "/v1/subscriptions/{}",
            sub["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(ended["status"], "canceled");
    assert_eq!(time(&ended["ended_at"]), end);
    let state = api.ok("/v1/customers/external/user_alice/state").await;
    assert_eq!(state["active_subscriptions"].as_array().unwrap().len(), 0);
    assert_eq!(state["granted_benefits"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn advancing_the_clock_renews_each_subscription_at_its_period_end() {
    let sim = demo_sim().await;
    let api = Api::new(&sim);
    let before = api
        .ok("/v1/subscriptions/?external_customer_id=user_alice")
        .await["items"][0]
        .clone();
    let out = sim.advance(Duration::days(31)).unwrap();
    let renewal = [
        "subscription.cycled",
        "subscription.updated",
        "order.created",
        "order.updated",
        "order.paid",
    ];
    assert!(
        out.events.windows(5).any(|w| w == renewal),
        "{:?}",
        out.events
    );
    let after = api
        .ok(&format!(
            "/v1/subscriptions/{}",
            before["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(after["current_period_start"], before["current_period_end"]);
    assert!(time(&after["modified_at"]) > time(&before["modified_at"]));
    let orders = api.ok("/v1/orders/?external_customer_id=user_alice").await;
    assert_eq!(orders["items"][0]["billing_reason"], "subscription_cycle");
    assert_eq!(orders["pagination"]["total_count"], 2);

    // Bob had cancelled: his subscription ended instead of renewing; Carol's trial converted.
    let bob = api
        .ok("/v1/subscriptions/?external_customer_id=user_bob")
        .await;
    assert_eq!(bob["items"][0]["status"], "canceled");
    let carol = api
        .ok("/v1/subscriptions/?external_customer_id=user_carol")
        .await;
    assert_eq!(carol["items"][0]["status"], "active");
    // Erin is past due: Polar's dunning, not the clock, decides her fate.
    let erin = api
        .ok("/v1/subscriptions/?external_customer_id=user_erin")
        .await;
    assert_eq!(erin["items"][0]["status"], "past_due");
}

#[tokio::test]
async fn a_failed_renewal_goes_past_due_and_recovers() {
    let sim = demo_sim().await;
    let (sub, events) = run(
        &sim,
        Action::FailPayment {
            subscription: "user_alice".into(),
        },
    );
    assert_eq!(
        events,
        [
            "subscription.cycled",
            "subscription.updated",
            "order.created",
            "subscription.updated",
            "subscription.past_due",
            "customer.state_changed"
        ]
    );
    assert_eq!(sub["status"], "past_due");
    assert_eq!(time(&sub["past_due_at"]), sim.now());
    let api = Api::new(&sim);
    let order = &api.ok("/v1/orders/?external_customer_id=user_alice").await["items"][0];
    assert_eq!(order["status"], "pending");
    assert!(order["next_payment_attempt_at"].is_string());
    let state = api.ok("/v1/customers/external/user_alice/state").await;
    assert_eq!(
        state["active_subscriptions"].as_array().unwrap().len(),
        0,
        "past_due is not in the active set"
    );

    let err = sim
        .run(Action::Cycle {
            subscription: "user_alice".into(),
            payment: Payment::Succeeds,
        })
        .unwrap_err();
    assert_eq!(err.code(), "past_due");

    let (sub, events) = run(
        &sim,
        Action::Recover {
            subscription: "user_alice".into(),
        },
    );
    assert_eq!(
        events,
        [
            "order.updated",
            "order.paid",
            "subscription.updated",
            "subscription.active",
            "customer.state_changed"
        ]
    );
    assert_eq!(sub["status"], "active");
    assert!(sub["past_due_at"].is_null());
}

#[tokio::test]
async fn a_trial_charges_nothing_until_it_converts() {
    let sim = demo_sim().await;
    let (sub, events) = run(
        &sim,
        Action::Subscribe {
            customer: "user_t".into(),
            product: "premium".into(),
            trial_days: Some(7),
            direct: true,
        },
    );
    assert!(
        !events.iter().any(|e| e.starts_with("order.")),
        "{events:?}"
    );
    assert_eq!(sub["status"], "trialing");
    assert_eq!(time(&sub["trial_end"]), sim.now() + Duration::days(7));
    assert_eq!(sub["current_period_end"], sub["trial_end"]);

    sim.advance(Duration::days(8)).unwrap();
    let api = Api::new(&sim);
    let now = api
        .ok(&format!(
            "/v1/subscriptions/{}",
            sub["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(now["status"], "active");
    let order = &api.ok("/v1/orders/?external_customer_id=user_t").await["items"][0];
    assert_eq!(order["billing_reason"], "subscription_cycle");
    assert_eq!(order["status"], "paid");
}

#[tokio::test]
async fn revoking_ends_access_at_once() {
    let sim = demo_sim().await;
    let (sub, events) = run(
        &sim,
        Action::Revoke {
            subscription: "user_alice".into(),
        },
    );
    assert_eq!(
        events,
        [
            "subscription.updated",
            "subscription.canceled",
            "subscription.revoked",
            "benefit_grant.revoked",
            "customer.state_changed"
        ]
    );
    assert_eq!(sub["status"], "canceled");
    assert_eq!(time(&sub["ended_at"]), sim.now());
    let err = sim
        .run(Action::Revoke {
            subscription: sub["id"].as_str().unwrap().into(),
        })
        .unwrap_err();
    assert_eq!(err.code(), "AlreadyCanceledSubscription");
}

#[tokio::test]
async fn an_upgrade_swaps_benefits_and_a_downgrade_can_wait() {
    let sim = demo_sim().await;
    let (sub, events) = run(
        &sim,
        Action::ChangeProduct {
            subscription: "user_alice".into(),
            product: "premium_plus".into(),
            proration: Proration::Prorate,
        },
    );
    assert_eq!(
        events,
        [
            "subscription.updated",
            "benefit_grant.revoked",
            "benefit_grant.created",
            "customer.state_changed"
        ]
    );
    assert_eq!(sub["product"]["metadata"]["plan"], "premium_plus");

    let (sub, events) = run(
        &sim,
        Action::ChangeProduct {
            subscription: "user_alice".into(),
            product: "premium".into(),
            proration: Proration::NextPeriod,
        },
    );
    assert_eq!(events, ["subscription.updated", "customer.state_changed"]);
    assert_eq!(sub["product"]["metadata"]["plan"], "premium_plus");
    sim.advance(Duration::days(31)).unwrap();
    let api = Api::new(&sim);
    let renewed = api
        .ok(&format!(
            "/v1/subscriptions/{}",
            sub["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(renewed["product"]["metadata"]["plan"], "premium");
    assert!(renewed["pending_update"].is_null());
    assert_eq!(renewed["amount"], 1900);
}

#[tokio::test]
async fn a_refund_with_revoked_benefits_ends_the_subscription() {
    let sim = demo_sim().await;
    let (refund, events) = run(
        &sim,
        Action::Refund {
            order: "user_alice".into(),
            amount: None,
            reason: None,
            revoke_benefits: true,
        },
    );
    assert_eq!(
        &events[..3],
        ["refund.created", "order.updated", "order.refunded"]
    );
    assert!(events.contains(&"subscription.revoked".to_owned()));
    assert_eq!(refund["amount"], 1900);
    let api = Api::new(&sim);
    let order = api
        .ok(&format!(
            "/v1/orders/{}",
            refund["order_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(order["status"], "refunded");
    assert_eq!(order["refundable_amount"], 0);
    let err = sim
        .run(Action::Refund {
            order: refund["order_id"].as_str().unwrap().into(),
            amount: None,
            reason: None,
            revoke_benefits: false,
        })
        .unwrap_err();
    assert_eq!(err.code(), "RefundedAlready");
}

#[tokio::test]
async fn drift_changes_polar_without_any_webhook() {
    let sim = demo_sim().await;
    let api = Api::new(&sim);
    let before = api
        .ok("/v1/subscriptions/?external_customer_id=user_alice")
        .await["items"][0]
        .clone();
    let out = sim
        .drift(Action::DriftSubscription {
            subscription: "user_alice".into(),
            status: Some(SubscriptionStatus::Canceled),
            product: None,
            cancel_at_period_end: None,
            current_period_end: None,
        })
        .unwrap();
    assert!(out.events.is_empty());
    let after = api
        .ok(&format!(
            "/v1/subscriptions/{}",
            before["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(after["status"], "canceled");
    assert!(
        time(&after["modified_at"]) > time(&before["modified_at"]),
        "the change is visible to reconciliation"
    );

    let out = sim
        .run(Scenario::silent(Action::DeleteCustomer {
            customer: "user_dave".into(),
        }))
        .unwrap();
    assert!(out.events.is_empty());
    assert_eq!(
        api.get("/v1/customers/external/user_dave").await.0.as_u16(),
        404
    );
    assert!(
        sim.webhook_events().is_empty(),
        "no drift step queued a webhook"
    );
}

#[tokio::test]
async fn refused_steps_change_nothing() {
    let sim = demo_sim().await;
    let api = Api::new(&sim);
    let before = api.ok("/v1/subscriptions/?limit=100").await;
    let bad = [
        Action::Subscribe {
            customer: "user_alice".into(),
            product: "no-such-plan".into(),
            trial_days: None,
            direct: false,
        },
        Action::Cancel {
            subscription: "user_nobody".into(),
            reason: None,
            comment: None,
        },
        Action::Recover {
            subscription: "user_alice".into(),
        },
        Action::Advance {
            days: -1,
            hours: 0,
            seconds: 0,
            to: None,
        },
    ];
    for action in bad {
        assert!(sim.run(action).is_err());
    }
    assert_eq!(api.ok("/v1/subscriptions/?limit=100").await, before);
    assert!(sim.webhook_events().is_empty());
}

#[tokio::test]
async fn a_silent_product_change_is_visible_only_through_the_api() {
    let sim = demo_sim().await;
    let api = Api::new(&sim);
    let before = api.ok("/v1/products/?metadata[plan]=premium").await["items"][0].clone();
    let mut metadata = serde_json::Map::new();
    metadata.insert("plan".into(), "premium_v2".into());
    let out = sim
        .drift(Action::UpdateProduct {
            product: "premium".into(),
            patch: polar_sim::lifecycle::catalog::ProductPatch {
                metadata: Some(metadata),
                ..Default::default()
            },
        })
        .unwrap();
    assert!(out.events.is_empty());
    let after = api
        .ok(&format!("/v1/products/{}", before["id"].as_str().unwrap()))
        .await;
    assert_eq!(after["metadata"]["plan"], "premium_v2");
    assert!(after["modified_at"].is_string());
    assert!(sim.webhook_events().is_empty());

    let (_, events) = run(
        &sim,
        Action::UpdateProduct {
            product: before["id"].as_str().unwrap().into(),
            patch: polar_sim::lifecycle::catalog::ProductPatch {
                is_archived: Some(true),
                ..Default::default()
            },
        },
    );
    assert_eq!(events, ["product.updated"]);
    let err = sim
        .run(Action::Subscribe {
            customer: "user_late".into(),
            product: before["id"].as_str().unwrap().into(),
            trial_days: None,
            direct: true,
        })
        .unwrap_err();
    assert_eq!(
        err.code(),
        "invalid_input",
        "an archived product cannot be bought"
    );
}

#[tokio::test]
async fn prorate_bills_the_difference_with_the_next_renewal() {
    let sim = demo_sim().await;
    let api = Api::new(&sim);
    let orders = |customer: &'static str| {
        let api = &api;
        async move {
            api.ok(&format!(
                "/v1/orders/?external_customer_id={customer}&sorting=created_at"
            ))
            .await["items"]
                .as_array()
                .unwrap()
                .clone()
        }
    };
    let before = orders("user_alice").await.len();
    sim.advance(Duration::days(10)).unwrap();
    let (_, events) = run(
        &sim,
        Action::ChangeProduct {
            subscription: "user_alice".into(),
            product: "premium_plus".into(),
            proration: Proration::Prorate,
        },
    );
    assert!(
        !events.iter().any(|e| e.starts_with("order.")),
        "{events:?}"
    );
    assert_eq!(orders("user_alice").await.len(), before);
    sim.run(Action::Cycle {
        subscription: "user_alice".into(),
        payment: Payment::Succeeds,
    })
    .unwrap();
    let renewal = orders("user_alice").await.last().unwrap().clone();
    assert_eq!(renewal["billing_reason"], "subscription_cycle");
    let items = renewal["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{renewal:#}");
    assert_eq!(items[0]["amount"], 4900);
    assert_eq!(items[0]["proration"], false);
    let (remaining, unused) = (&items[1], &items[2]);
    assert!(remaining["proration"].as_bool().unwrap());
    assert!(
        remaining["label"]
            .as_str()
            .unwrap()
            .starts_with("Remaining time on Premium Plus")
    );
    assert!(unused["amount"].as_i64().unwrap() < 0);
    let due = remaining["amount"].as_i64().unwrap() + unused["amount"].as_i64().unwrap();
    assert!(due > 0 && due < 4900 - 1900, "{due}");
    assert_eq!(renewal["subtotal_amount"], 4900 + due);
}
