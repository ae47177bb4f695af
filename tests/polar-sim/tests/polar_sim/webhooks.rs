//! Webhook delivery as a receiver sees it: signatures under both secret schemes, Polar's
//! retries, and injected faults.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use polar_sim::{
    Action, DeliveryConfig, DeliveryOutcome, Fault, FaultRule, SecretScheme, SimConfig,
    generate_secret,
};
use sha2::Sha256;

use super::support::{Received, Receiver, config, start};

/// Standard Webhooks verification written from the spec, independent of the signer.
fn verifies(r: &Received, key: &[u8]) -> bool {
    let content = format!("{}.{}.{}", r.id, r.timestamp, r.body);
    r.signature
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|sig| {
            let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
            mac.update(content.as_bytes());
            STANDARD
                .decode(sig)
                .is_ok_and(|raw| mac.verify_slice(&raw).is_ok())
        })
}

async fn sim_sending_to(
    receiver: &Receiver,
    secret: &str,
    scheme: SecretScheme,
) -> polar_sim::SimHandle {
    start(SimConfig {
        seed_demo: true,
        webhook: Some(receiver.endpoint(secret, scheme)),
        ..config()
    })
    .await
}

fn subscribe(customer: &str) -> Action {
    Action::Subscribe {
        customer: customer.into(),
        product: "premium".into(),
        trial_days: None,
        direct: true,
    }
}

#[tokio::test]
async fn legacy_secrets_sign_with_the_whole_secret_as_key() {
    let receiver = Receiver::start().await;
    let secret = generate_secret(SecretScheme::Legacy);
    let sim = sim_sending_to(&receiver, &secret, SecretScheme::Legacy).await;
    sim.run(subscribe("user_sig")).unwrap();
    sim.webhooks_settled().await;
    let got = receiver.received();
    assert!(!got.is_empty());
    for r in &got {
        assert!(verifies(r, secret.as_bytes()), "{}", r.event_type());
        assert_eq!(r.api_version, "2026-10");
        let age = chrono::Utc::now().timestamp() - r.timestamp.parse::<i64>().unwrap();
        assert!(
            (0..300).contains(&age),
            "the timestamp is the delivery time"
        );
        assert!(uuid::Uuid::parse_str(&r.id).is_ok());
    }
}

#[tokio::test]
async fn standard_secrets_sign_with_the_decoded_key() {
    let receiver = Receiver::start().await;
    let secret = generate_secret(SecretScheme::Standard);
    let sim = sim_sending_to(&receiver, &secret, SecretScheme::Standard).await;
    sim.run(subscribe("user_sig")).unwrap();
    sim.webhooks_settled().await;
    let key = STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap();
    let got = receiver.received();
    assert!(!got.is_empty());
    assert!(got.iter().all(|r| verifies(r, &key)));
    assert!(
        got.iter().all(|r| !verifies(r, secret.as_bytes())),
        "not the legacy key"
    );
}

#[tokio::test]
async fn events_arrive_in_the_order_they_happened() {
    let receiver = Receiver::start().await;
    let sim = sim_sending_to(&receiver, "whsec_test", SecretScheme::Legacy).await;
    sim.run(Action::Cancel {
        subscription: "user_alice".into(),
        reason: None,
        comment: None,
    })
    .unwrap();
    sim.run(Action::Uncancel {
        subscription: "user_alice".into(),
    })
    .unwrap();
    sim.webhooks_settled().await;
    assert_eq!(
        receiver.types(),
        [
            "subscription.updated",
            "subscription.canceled",
            "customer.state_changed",
            "subscription.updated",
            "subscription.uncanceled",
            "customer.state_changed"
        ]
    );
    let stamps: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| r.json()["timestamp"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        stamps.windows(2).all(|w| w[0] < w[1]),
        "event timestamps increase: {stamps:?}"
    );
}

#[tokio::test]
async fn a_failing_endpoint_gets_the_same_event_again_signed_at_each_attempt() {
    let receiver = Receiver::start().await;
    let sim = sim_sending_to(&receiver, "whsec_test", SecretScheme::Legacy).await;
    // The last event of the step fails twice, so its retries cannot interleave with others.
    receiver.fail_type("customer.state_changed", 2);
    sim.run(Action::Revoke {
        subscription: "user_alice".into(),
    })
    .unwrap();
    sim.webhooks_settled().await;
    let got = receiver.received();
    let failing = got
        .iter()
        .position(|r| r.event_type() == "customer.state_changed")
        .unwrap();
    let first_id = &got[failing].id;
    let tries: Vec<&Received> = got.iter().filter(|r| &r.id == first_id).collect();
    assert_eq!(tries.len(), 3, "two failures, then success");
    assert!(
        tries.iter().all(|r| r.body == tries[0].body),
        "the body is replayed byte for byte"
    );
    assert!(tries.iter().all(|r| verifies(r, b"whsec_test")));
    let record = sim
        .webhook_events()
        .into_iter()
        .find(|e| &e.webhook_id == first_id)
        .unwrap();
    assert_eq!(record.outcome, DeliveryOutcome::Delivered);
    assert_eq!(record.attempts, 3);
    let attempts: Vec<u32> = sim
        .webhook_attempts()
        .iter()
        .filter(|a| &a.webhook_id == first_id)
        .map(|a| a.attempt)
        .collect();
    assert_eq!(attempts, [1, 2, 3]);
}

#[tokio::test]
async fn polar_gives_up_after_its_attempts() {
    let receiver = Receiver::start().await;
    let sim = start(SimConfig {
        seed_demo: true,
        webhook: Some(receiver.endpoint("whsec_test", SecretScheme::Legacy)),
        delivery: DeliveryConfig {
            max_attempts: 3,
            ..config().delivery
        },
        ..config()
    })
    .await;
    receiver.fail_next(u32::MAX);
    sim.run(Action::Uncancel {
        subscription: "user_bob".into(),
    })
    .unwrap();
    sim.webhooks_settled().await;
    let events = sim.webhook_events();
    assert!(
        events
            .iter()
            .all(|e| e.outcome == DeliveryOutcome::Failed && e.attempts == 3),
        "{events:?}"
    );
    assert_eq!(receiver.received().len(), events.len() * 3);
}

#[tokio::test]
async fn faults_duplicate_drop_reorder_and_delay_deliveries() {
    let receiver = Receiver::start().await;
    let sim = sim_sending_to(&receiver, "whsec_test", SecretScheme::Legacy).await;
    let cancel = || Action::Cancel {
        subscription: "user_alice".into(),
        reason: None,
        comment: None,
    };
    let uncancel = || Action::Uncancel {
        subscription: "user_alice".into(),
    };

    sim.add_fault(FaultRule {
        fault: Fault::Duplicate,
        event_type: Some("subscription.canceled".into()),
        count: 1,
    });
    sim.run(cancel()).unwrap();
    sim.webhooks_settled().await;
    let got = receiver.received();
    let canceled: Vec<_> = got
        .iter()
        .filter(|r| r.event_type() == "subscription.canceled")
        .collect();
    assert_eq!(canceled.len(), 2);
    assert_eq!(
        canceled[0].id, canceled[1].id,
        "a duplicate carries the same webhook-id"
    );
    receiver.clear();

    sim.add_fault(FaultRule {
        fault: Fault::Drop,
        event_type: Some("subscription.uncanceled".into()),
        count: 1,
    });
    sim.run(uncancel()).unwrap();
    sim.webhooks_settled().await;
    assert_eq!(
        receiver.types(),
        ["subscription.updated", "customer.state_changed"]
    );
    let dropped = sim
        .webhook_events()
        .into_iter()
        .filter(|e| e.outcome == DeliveryOutcome::Dropped)
        .count();
    assert_eq!(dropped, 1);
    receiver.clear();

    sim.add_fault(FaultRule {
        fault: Fault::Reorder,
        event_type: Some("subscription.updated".into()),
        count: 1,
    });
    sim.run(cancel()).unwrap();
    sim.webhooks_settled().await;
    assert_eq!(
        receiver.types(),
        [
            "subscription.canceled",
            "subscription.updated",
            "customer.state_changed"
        ]
    );
    receiver.clear();

    sim.add_fault(FaultRule {
        fault: Fault::Delay { ms: 500 },
        event_type: Some("subscription.updated".into()),
        count: 1,
    });
    sim.run(uncancel()).unwrap();
    sim.webhooks_settled().await;
    assert_eq!(
        receiver.types(),
        [
            "subscription.uncanceled",
            "customer.state_changed",
            "subscription.updated"
        ]
    );
}

#[tokio::test]
async fn without_an_endpoint_events_are_kept_and_nothing_is_sent() {
    let sim = start(SimConfig {
        seed_demo: true,
        ..config()
    })
    .await;
    sim.run(Action::Revoke {
        subscription: "user_alice".into(),
    })
    .unwrap();
    sim.webhooks_settled().await;
    let events = sim.webhook_events();
    assert!(!events.is_empty());
    assert!(
        events
            .iter()
            .all(|e| e.outcome == DeliveryOutcome::NoEndpoint)
    );

    let receiver = Receiver::start().await;
    sim.set_webhook_endpoint(Some(receiver.endpoint("whsec_x", SecretScheme::Legacy)))
        .unwrap();
    sim.run(Action::Revoke {
        subscription: "user_bob".into(),
    })
    .unwrap();
    sim.webhooks_settled().await;
    assert_eq!(receiver.types()[0], "subscription.updated");
}

#[tokio::test]
async fn timestamps_can_follow_the_simulated_clock() {
    let receiver = Receiver::start().await;
    let clock_start = chrono::DateTime::parse_from_rfc3339("2026-01-15T08:00:00Z")
        .unwrap()
        .to_utc();
    let sim = start(SimConfig {
        seed_demo: true,
        clock_start: Some(clock_start),
        webhook: Some(receiver.endpoint("whsec_test", SecretScheme::Legacy)),
        delivery: DeliveryConfig {
            simulated_timestamps: true,
            ..config().delivery
        },
        ..config()
    })
    .await;
    sim.advance(chrono::Duration::days(2)).unwrap();
    sim.run(Action::Revoke {
        subscription: "user_alice".into(),
    })
    .unwrap();
    sim.webhooks_settled().await;
    let got = receiver.received();
    assert!(!got.is_empty());
    let expected = (clock_start + chrono::Duration::days(2))
        .timestamp()
        .to_string();
    assert!(
        got.iter()
            .all(|r| r.timestamp == expected && verifies(r, b"whsec_test"))
    );
}
