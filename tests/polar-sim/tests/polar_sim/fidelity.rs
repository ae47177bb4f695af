//! The simulator's responses and webhook payloads validate against Polar's published OpenAPI
//! contract (`shared/polar/openapi-2026-04.json`, beside the repository; `POLAR_OPENAPI`
//! overrides the path), extended by `sdk-models.json`: the fields Polar's newest SDK models
//! require, each added to its schema as a required property.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::OnceLock;

use polar_sim::{Action, Payment, Proration, SimHandle};
use serde_json::{Value, json};

use super::support::{Api, demo_sim};

fn openapi() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let path = std::env::var_os("POLAR_OPENAPI")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("../../../shared/polar/openapi-2026-04.json")
            });
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "reading Polar's OpenAPI contract at {}: {e}",
                path.display()
            )
        });
        let mut doc: Value = serde_json::from_str(&text).unwrap();
        extend_with_sdk_fields(&mut doc);
        doc
    })
}

/// Adds each field of `sdk-models.json` to the schemas it names (`*` matches any run of
/// characters) as a required property of its type.
fn extend_with_sdk_fields(doc: &mut Value) {
    let list: Value = serde_json::from_str(include_str!("../../sdk-models.json")).unwrap();
    let schemas = doc["components"]["schemas"].as_object_mut().unwrap();
    for entry in list["fields"].as_array().unwrap() {
        let pattern = entry["schema"].as_str().unwrap();
        let field = entry["field"].as_str().unwrap();
        let (prefix, suffix) = pattern.split_once('*').unwrap_or((pattern, ""));
        let matches = |name: &str| {
            if pattern.contains('*') {
                name.starts_with(prefix) && name.ends_with(suffix)
            } else {
                name == pattern
            }
        };
        let mut extended = 0;
        for (_, schema) in schemas.iter_mut().filter(|(name, _)| matches(name)) {
            schema["properties"][field] = entry["type"].clone();
            schema["required"]
                .as_array_mut()
                .unwrap()
                .push(field.into());
            extended += 1;
        }
        assert!(
            extended > 0,
            "sdk-models.json: no schema {pattern} in the contract"
        );
    }
}

/// Validates instances against named component schemas, collecting every failure.
struct Contract {
    failures: Vec<String>,
    checked: usize,
    validators: HashMap<String, jsonschema::Validator>,
}

impl Contract {
    fn new() -> Self {
        Self {
            failures: Vec::new(),
            checked: 0,
            validators: HashMap::new(),
        }
    }

    fn check(&mut self, schema: &str, what: &str, instance: &Value) {
        let validator = self.validators.entry(schema.to_owned()).or_insert_with(|| {
            let root = json!({
                "$ref": format!("#/components/schemas/{schema}"),
                "components": openapi()["components"],
            });
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .should_validate_formats(true)
                .build(&root)
                .unwrap_or_else(|e| panic!("compiling schema {schema}: {e}"))
        });
        self.checked += 1;
        for error in validator.iter_errors(instance) {
            self.failures.push(format!(
                "{what} ({schema}) at {}: {error}",
                error.instance_path()
            ));
        }
    }

    fn assert_clean(&self) {
        assert!(
            self.failures.is_empty(),
            "{} contract violations:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
    }
}

/// The component schema of a webhook event type's payload.
fn webhook_schema(event_type: &str) -> String {
    let r = &openapi()["webhooks"][event_type]["post"]["requestBody"]["content"]["application/json"]
        ["schema"]["$ref"];
    r.as_str()
        .unwrap_or_else(|| panic!("Polar documents no webhook {event_type}"))
        .trim_start_matches("#/components/schemas/")
        .to_owned()
}

/// Drives every lifecycle so that every kind of object and event exists.
fn drive(sim: &SimHandle) {
    let run = |a: Action| {
        sim.run(a)
            .unwrap_or_else(|e| panic!("scenario failed: {e}"))
    };
    let mut team = serde_json::Map::new();
    team.insert("plan".into(), "team".into());
    run(Action::CreateProduct {
        name: "Team".into(),
        price_amount: 9900,
        interval: polar_sim::model::Interval::Year,
        metadata: team,
    });
    run(Action::UpdateProduct {
        product: "Team".into(),
        patch: polar_sim::lifecycle::catalog::ProductPatch {
            description: Some("For teams".into()),
            is_archived: Some(true),
            ..Default::default()
        },
    });
    run(Action::Subscribe {
        customer: "user_fid".into(),
        product: "premium".into(),
        trial_days: None,
        direct: false,
    });
    run(Action::ChangeProduct {
        subscription: "user_fid".into(),
        product: "premium_plus".into(),
        proration: Proration::Invoice,
    });
    run(Action::ChangeProduct {
        subscription: "user_fid".into(),
        product: "premium".into(),
        proration: Proration::NextPeriod,
    });
    run(Action::Cancel {
        subscription: "user_fid".into(),
        reason: Some("too_expensive".into()),
        comment: None,
    });
    run(Action::Uncancel {
        subscription: "user_fid".into(),
    });
    run(Action::ApplyDiscount {
        subscription: "user_fid".into(),
        off: polar_sim::DiscountOff::Percentage { basis_points: 2500 },
        duration: polar_sim::DiscountDuration::Forever,
        duration_in_months: None,
    });
    run(Action::Cycle {
        subscription: "user_fid".into(),
        payment: Payment::Succeeds,
    });
    run(Action::Recover {
        subscription: "user_erin".into(),
    });
    run(Action::FailPayment {
        subscription: "user_alice".into(),
    });
    run(Action::Refund {
        order: "user_fid".into(),
        amount: Some(100),
        reason: None,
        revoke_benefits: false,
    });
    run(Action::Subscribe {
        customer: "user_trial".into(),
        product: "premium".into(),
        trial_days: Some(7),
        direct: false,
    });
    // A `repeating` discount cannot be checked here: it also matches the schema of a `once` or
    // `forever` one (which allows any extra field), so `oneOf` fails for Polar's own shape.
    run(Action::ApplyDiscount {
        subscription: "user_trial".into(),
        off: polar_sim::DiscountOff::Fixed { amount: 500 },
        duration: polar_sim::DiscountDuration::Once,
        duration_in_months: None,
    });
    run(Action::Usage {
        customer: "user_fid".into(),
        event: "api_calls".into(),
        count: 3,
    });
    run(Action::Revoke {
        subscription: "user_carol".into(),
    });
    run(Action::DeleteCustomer {
        customer: "user_dave".into(),
    });
    run(Action::OpenCheckout {
        product: "premium_plus".into(),
        external_customer_id: Some("user_later".into()),
    });
    run(Action::Subscribe {
        customer: "user_seats".into(),
        product: "team_seats".into(),
        trial_days: None,
        direct: false,
    });
    run(Action::UpdateSeats {
        subscription: "user_seats".into(),
        seats: 3,
        proration: Proration::Invoice,
    });
    run(Action::UpdateSeats {
        subscription: "user_seats".into(),
        seats: 2,
        proration: Proration::NextPeriod,
    });
    run(Action::Advance {
        days: 40,
        hours: 0,
        seconds: 0,
        to: None,
    });
}

#[tokio::test]
async fn every_response_matches_polars_contract() {
    let sim = demo_sim().await;
    drive(&sim);
    let api = Api::new(&sim);
    let mut contract = Contract::new();

    let lists = [
        (
            "/v1/products/?limit=100",
            "ListResource_Product_",
            "/v1/products/",
            "Product",
        ),
        (
            "/v1/customers/?limit=100",
            "ListResource_Customer_",
            "/v1/customers/",
            "Customer",
        ),
        (
            "/v1/subscriptions/?limit=100",
            "ListResource_Subscription_",
            "/v1/subscriptions/",
            "Subscription",
        ),
        (
            "/v1/orders/?limit=100",
            "ListResource_Order_",
            "/v1/orders/",
            "Order",
        ),
        (
            "/v1/refunds/?limit=100",
            "ListResource_Refund_",
            "",
            "Refund",
        ),
        (
            "/v1/benefits/?limit=100",
            "ListResource_Benefit_",
            "/v1/benefits/",
            "Benefit",
        ),
        (
            "/v1/benefit-grants/?limit=100",
            "ListResource_BenefitGrant_",
            "",
            "BenefitGrant",
        ),
        (
            "/v1/checkouts/?limit=100",
            "ListResource_Checkout_",
            "/v1/checkouts/",
            "Checkout",
        ),
        (
            "/v1/customer-meters/?limit=100",
            "ListResource_CustomerMeter_",
            "/v1/customer-meters/",
            "CustomerMeter",
        ),
        (
            "/v1/meters/?limit=100",
            "ListResource_Meter_",
            "/v1/meters/",
            "Meter",
        ),
    ];
    for (path, list_schema, get_prefix, item_schema) in lists {
        let page = api.ok(path).await;
        let items = page["items"].as_array().unwrap();
        assert!(
            !items.is_empty(),
            "{path} lists something after the scenarios"
        );
        contract.check(list_schema, path, &page);
        if !get_prefix.is_empty() {
            for item in items {
                let id = item["id"].as_str().unwrap();
                let got = api.ok(&format!("{get_prefix}{id}")).await;
                assert_eq!(
                    &got, item,
                    "GET {get_prefix}{id} answers what the list showed"
                );
                contract.check(item_schema, &format!("GET {get_prefix}{id}"), &got);
            }
        }
    }

    let customers = api.ok("/v1/customers/?limit=100").await;
    for c in customers["items"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        contract.check(
            "CustomerState",
            "GET state",
            &api.ok(&format!("/v1/customers/{id}/state")).await,
        );
        if let Some(ext) = c["external_id"].as_str() {
            contract.check(
                "Customer",
                "GET external",
                &api.ok(&format!("/v1/customers/external/{ext}")).await,
            );
            contract.check(
                "CustomerState",
                "GET external state",
                &api.ok(&format!("/v1/customers/external/{ext}/state")).await,
            );
        }
    }

    let products = api.ok("/v1/products/?is_archived=false").await;
    let product_id = products["items"][0]["id"].as_str().unwrap().to_owned();
    let (status, checkout) = api
        .post(
            "/v1/checkouts/",
            json!({"products": [product_id], "external_customer_id": "user_new", "success_url": "https://app.example.com/ok?checkout_id={CHECKOUT_ID}", "metadata": {"source": "test"}}),
        )
        .await;
    assert_eq!(status.as_u16(), 201, "{checkout}");
    contract.check("Checkout", "POST /v1/checkouts/", &checkout);

    let (status, customer) = api
        .post(
            "/v1/customers/",
            json!({"email": "new@example.com", "external_id": "user_api", "name": "New"}),
        )
        .await;
    assert_eq!(status.as_u16(), 201, "{customer}");
    contract.check("Customer", "POST /v1/customers/", &customer);
    let (_, patched) = api
        .patch(
            "/v1/customers/external/user_api",
            json!({"name": "Renamed", "metadata": {"k": 1}}),
        )
        .await;
    contract.check("Customer", "PATCH customer", &patched);

    let (status, session) = api
        .post(
            "/v1/customer-sessions/",
            json!({"external_customer_id": "user_api"}),
        )
        .await;
    assert_eq!(status.as_u16(), 201, "{session}");
    contract.check("CustomerSession", "POST /v1/customer-sessions/", &session);

    let (_, ingested) = api
        .post("/v1/events/ingest", json!({"events": [{"name": "api_calls", "external_customer_id": "user_api", "external_id": "e1"}]}))
        .await;
    contract.check("EventsIngestResponse", "POST /v1/events/ingest", &ingested);

    let orders = api.ok("/v1/orders/?status=paid&limit=1").await;
    let order_id = orders["items"][0]["id"].as_str().unwrap().to_owned();
    let (status, refund) = api
        .post(
            "/v1/refunds/",
            json!({"order_id": order_id, "reason": "customer_request", "amount": 50}),
        )
        .await;
    assert_eq!(status.as_u16(), 201, "{refund}");
    contract.check("Refund", "POST /v1/refunds/", &refund);

    let subs = api.ok("/v1/subscriptions/?active=true&limit=1").await;
    let sub_id = subs["items"][0]["id"].as_str().unwrap().to_owned();
    let (_, updated) = api
        .patch(
            &format!("/v1/subscriptions/{sub_id}"),
            json!({"cancel_at_period_end": true}),
        )
        .await;
    contract.check("Subscription", "PATCH cancel", &updated);
    let (_, revoked) = api.delete(&format!("/v1/subscriptions/{sub_id}")).await;
    contract.check("Subscription", "DELETE subscription", &revoked);
    let (status, again) = api.delete(&format!("/v1/subscriptions/{sub_id}")).await;
    assert_eq!(status.as_u16(), 403);
    contract.check("AlreadyCanceledSubscription", "DELETE twice", &again);

    let (status, missing) = api
        .get("/v1/subscriptions/00000000-0000-4000-8000-000000000000")
        .await;
    assert_eq!(status.as_u16(), 404);
    contract.check("ResourceNotFound", "GET unknown subscription", &missing);
    let (status, invalid) = api.get("/v1/subscriptions/?page=0").await;
    assert_eq!(status.as_u16(), 422);
    contract.check("HTTPValidationError", "page=0", &invalid);

    contract.assert_clean();
    assert!(
        contract.checked > 50,
        "checked {} responses",
        contract.checked
    );
}

#[tokio::test]
async fn every_webhook_payload_matches_polars_contract() {
    let sim = demo_sim().await;
    drive(&sim);
    let mut contract = Contract::new();
    let events = sim.webhook_events();
    let mut seen = BTreeSet::new();
    for e in &events {
        let body: Value = serde_json::from_str(&e.body).unwrap();
        assert_eq!(body["type"], e.event_type);
        assert_eq!(body["api_version"], "2026-10");
        contract.check(&webhook_schema(&e.event_type), &e.event_type, &body);
        seen.insert(e.event_type.clone());
    }
    contract.assert_clean();
    let expected = [
        "benefit.created",
        "product.created",
        "product.updated",
        "benefit_grant.created",
        "benefit_grant.revoked",
        "checkout.created",
        "checkout.updated",
        "checkout.expired",
        "customer.created",
        "customer.deleted",
        "customer.state_changed",
        "order.created",
        "order.paid",
        "order.refunded",
        "order.updated",
        "refund.created",
        "subscription.active",
        "subscription.canceled",
        "subscription.created",
        "subscription.cycled",
        "subscription.past_due",
        "subscription.revoked",
        "subscription.uncanceled",
        "subscription.updated",
    ];
    let missing: Vec<_> = expected.iter().filter(|t| !seen.contains(**t)).collect();
    assert!(
        missing.is_empty(),
        "the scenarios never sent {missing:?}; sent {seen:?}"
    );
}
