//! The REST API as a Polar client sees it: pagination, filters, auth, versions, rate limit,
//! errors and writes.

use std::time::Duration;

use polar_sim::{Action, RateLimit, Scenario, SimConfig};
use reqwest::Method;
use serde_json::{Value, json};

use super::support::{Api, config, demo_sim, start};

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn sim_with_customers(n: usize) -> polar_sim::SimHandle {
    let sim = start(SimConfig {
        seed_catalog: true,
        ..config()
    })
    .await;
    for i in 0..n {
        let action = Action::CreateCustomer {
            external_id: Some(format!("user_{i:03}")),
            email: None,
            name: Some(format!("User {i}")),
            metadata: serde_json::Map::new(),
        };
        sim.run(Scenario::silent(action)).unwrap();
    }
    sim
}

#[tokio::test]
async fn pages_follow_polars_pagination() {
    let sim = sim_with_customers(25).await;
    let api = Api::new(&sim);

    let first = api.ok("/v1/customers/?limit=10").await;
    assert_eq!(
        first["pagination"],
        json!({"total_count": 25, "max_page": 3})
    );
    let mut all = ids(&first);
    all.extend(ids(&api.ok("/v1/customers/?limit=10&page=2").await));
    let third = api.ok("/v1/customers/?limit=10&page=3").await;
    assert_eq!(ids(&third).len(), 5);
    all.extend(ids(&third));
    let mut unique = all.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 25, "pages neither overlap nor skip");

    // Default order is newest first.
    assert_eq!(first["items"][0]["external_id"], "user_024");

    let beyond = api.ok("/v1/customers/?limit=10&page=4").await;
    assert_eq!(ids(&beyond).len(), 0);
    assert_eq!(beyond["pagination"]["total_count"], 25);

    let default = api.ok("/v1/customers/").await;
    assert_eq!(ids(&default).len(), 10, "the default limit is 10");

    let ascending = api.ok("/v1/customers/?sorting=created_at&limit=1").await;
    assert_eq!(ascending["items"][0]["external_id"], "user_000");
}

#[tokio::test]
async fn a_limit_above_100_is_clamped() {
    let sim = sim_with_customers(120).await;
    let api = Api::new(&sim);
    let page = api.ok("/v1/customers/?limit=1000").await;
    assert_eq!(ids(&page).len(), 100);
    assert_eq!(
        page["pagination"],
        json!({"total_count": 120, "max_page": 2})
    );
}

#[tokio::test]
async fn bad_query_values_are_422_naming_the_parameter() {
    let sim = demo_sim().await;
    let api = Api::new(&sim);
    for (path, loc) in [
        ("/v1/customers/?page=0", json!(["query", "page"])),
        ("/v1/customers/?limit=abc", json!(["query", "limit"])),
        (
            "/v1/subscriptions/?customer_id=not-a-uuid",
            json!(["query", "customer_id"]),
        ),
        (
            "/v1/subscriptions/?active=maybe",
            json!(["query", "active"]),
        ),
        (
            "/v1/subscriptions/?status=gone",
            json!(["query", "status", 0]),
        ),
        (
            "/v1/orders/?created_after=yesterday",
            json!(["query", "created_after"]),
        ),
        (
            "/v1/customers/?sorting=-height",
            json!(["query", "sorting", 0]),
        ),
        ("/v1/subscriptions/not-a-uuid", json!(["path", "id"])),
    ] {
        let (status, body) = api.get(path).await;
        assert_eq!(status.as_u16(), 422, "{path}: {body}");
        assert_eq!(body["detail"][0]["loc"], loc, "{path}");
        assert!(
            body["detail"][0]["msg"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
}

#[tokio::test]
async fn list_paths_answer_with_and_without_the_trailing_slash() {
    let sim = demo_sim().await;
    let api = Api::new(&sim);
    let with = api.ok("/v1/subscriptions/").await;
    let without = api.ok("/v1/subscriptions").await;
    assert_eq!(with, without);
    let (status, _) = api.get("/v1/customers/external/user_alice/").await;
    assert_eq!(status.as_u16(), 200);
}

#[tokio::test]
async fn requests_without_the_right_token_are_refused() {
    let sim = demo_sim().await;
    let api = Api::new(&sim);
    let none = api.raw(Method::GET, "/v1/customers/").send().await.unwrap();
    assert_eq!(none.status().as_u16(), 401);
    assert!(none.headers().get("www-authenticate").is_some());
    let body: Value = none.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");
    let wrong = api
        .raw(Method::GET, "/v1/customers/")
        .bearer_auth("polar_oat_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
}

#[tokio::test]
async fn the_api_version_is_echoed_and_unknown_versions_are_404() {
    let sim = demo_sim().await;
    let api = Api::new(&sim);
    let asked = api
        .raw(Method::GET, "/v1/products/")
        .bearer_auth(api.token())
        .header("Polar-Version", "2026-04");
    let resp = asked.send().await.unwrap();
    assert_eq!(resp.headers()["polar-version"], "2026-04");
    let plain = api
        .raw(Method::GET, "/v1/products/")
        .bearer_auth(api.token())
        .send()
        .await
        .unwrap();
    assert_eq!(plain.headers()["polar-version"], "2026-10");
    let unknown = api
        .raw(Method::GET, "/v1/products/")
        .bearer_auth(api.token())
        .header("Polar-Version", "2024-01");
    assert_eq!(unknown.send().await.unwrap().status().as_u16(), 404);
}

#[tokio::test]
async fn over_the_rate_limit_polar_answers_429_with_retry_after_and_no_body() {
    let sim = start(SimConfig {
        seed_demo: true,
        rate_limit: RateLimit {
            requests: 3,
            window: Duration::from_secs(60),
        },
        ..config()
    })
    .await;
    let api = Api::new(&sim);
    for _ in 0..3 {
        api.ok("/v1/products/").await;
    }
    let resp = api
        .raw(Method::GET, "/v1/products/")
        .bearer_auth(api.token())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers()["retry-after"], "60");
    assert_eq!(resp.text().await.unwrap(), "");

    sim.set_rate_limit(RateLimit::off());
    sim.throttle(2, 1);
    let (first, _) = api.get("/v1/products/").await;
    let (second, _) = api.get("/v1/products/").await;
    let (third, _) = api.get("/v1/products/").await;
    assert_eq!(
        (first.as_u16(), second.as_u16(), third.as_u16()),
        (429, 429, 200)
    );
}

#[tokio::test]
async fn list_filters_narrow_the_results() {
    let sim = demo_sim().await;
    let api = Api::new(&sim);

    let alice = api
        .ok("/v1/subscriptions/?external_customer_id=user_alice")
        .await;
    assert_eq!(alice["pagination"]["total_count"], 1);
    assert_eq!(alice["items"][0]["customer"]["external_id"], "user_alice");

    let active = api.ok("/v1/subscriptions/?active=true&limit=100").await;
    assert!(
        active["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "active" || s["status"] == "trialing")
    );
    assert_eq!(
        active["pagination"]["total_count"], 3,
        "alice, bob (cancelling) and carol (trial)"
    );

    let troubled = api
        .ok("/v1/subscriptions/?status=past_due&status=trialing")
        .await;
    let mut statuses: Vec<&str> = troubled["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    statuses.sort_unstable();
    assert_eq!(statuses, ["past_due", "trialing"]);

    let cancelling = api.ok("/v1/subscriptions/?cancel_at_period_end=true").await;
    assert_eq!(
        cancelling["items"][0]["customer"]["external_id"],
        "user_bob"
    );

    let premium = api.ok("/v1/products/?metadata[plan]=premium").await;
    assert_eq!(premium["pagination"]["total_count"], 1);
    assert_eq!(premium["items"][0]["name"], "Premium");
    let product_id = premium["items"][0]["id"].as_str().unwrap();
    let on_premium = api
        .ok(&format!(
            "/v1/subscriptions/?product_id={product_id}&limit=100"
        ))
        .await;
    assert_eq!(
        on_premium["pagination"]["total_count"], 3,
        "alice, carol and erin"
    );

    let by_email = api.ok("/v1/customers/?email=dave@example.com").await;
    assert_eq!(by_email["items"][0]["external_id"], "user_dave");
    let by_query = api.ok("/v1/customers/?query=carol").await;
    assert_eq!(by_query["pagination"]["total_count"], 1);

    let grants = api
        .ok("/v1/benefit-grants/?external_customer_id=user_alice&is_granted=true")
        .await;
    assert_eq!(grants["pagination"]["total_count"], 1);

    sim.advance(chrono::Duration::days(1)).unwrap();
    let since = sim
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    sim.subscribe("user_new", "premium").unwrap();
    let recent = api
        .ok(&format!("/v1/orders/?created_after={since}&limit=100"))
        .await;
    let customers: Vec<&str> = recent["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["customer"]["external_id"].as_str().unwrap())
        .collect();
    assert_eq!(customers, ["user_new"], "only the order made after the cut");
}

#[tokio::test]
async fn customers_are_created_updated_and_deleted_by_id_or_external_id() {
    let sim = demo_sim().await;
    let api = Api::new(&sim);

    let (status, created) = api
        .post(
            "/v1/customers/",
            json!({"email": "zoe@example.com", "external_id": "user_zoe"}),
        )
        .await;
    assert_eq!(status.as_u16(), 201);
    let id = created["id"].as_str().unwrap().to_owned();

    let (status, dup) = api
        .post(
            "/v1/customers/",
            json!({"email": "zoe2@example.com", "external_id": "user_zoe"}),
        )
        .await;
    assert_eq!(status.as_u16(), 422);
    assert_eq!(dup["detail"][0]["loc"], json!(["body", "external_id"]));
    let (status, missing) = api
        .post("/v1/customers/", json!({"external_id": "user_x"}))
        .await;
    assert_eq!(status.as_u16(), 422);
    assert_eq!(missing["detail"][0]["loc"], json!(["body", "email"]));
    let (status, _) = api
        .post(
            "/v1/customers/",
            json!({"email": "x@example.com", "metadata": {"nested": {"a": 1}}}),
        )
        .await;
    assert_eq!(status.as_u16(), 422, "metadata values are flat");

    let (_, renamed) = api
        .patch("/v1/customers/external/user_zoe", json!({"name": "Zoe"}))
        .await;
    assert_eq!(renamed["name"], "Zoe");
    assert!(renamed["modified_at"].is_string());
    let (status, refused) = api
        .patch(
            &format!("/v1/customers/{id}"),
            json!({"external_id": "user_other"}),
        )
        .await;
    assert_eq!(
        status.as_u16(),
        422,
        "an external id cannot change: {refused}"
    );
    assert_eq!(
        api.ok(&format!("/v1/customers/{id}")).await["external_id"],
        "user_zoe"
    );

    let (status, _) = api.delete("/v1/customers/external/user_alice").await;
    assert_eq!(status.as_u16(), 204);
    assert_eq!(
        api.get("/v1/customers/external/user_alice")
            .await
            .0
            .as_u16(),
        404
    );
    assert_eq!(
        api.get("/v1/customers/external/user_alice/state")
            .await
            .0
            .as_u16(),
        404
    );
    let subs = api
        .ok("/v1/subscriptions/?external_customer_id=user_alice")
        .await;
    assert_eq!(
        subs["items"][0]["status"], "canceled",
        "deleting a customer revokes its subscriptions"
    );
}

#[tokio::test]
async fn ingestion_skips_repeated_external_ids_and_refuses_bad_batches_whole() {
    let sim = demo_sim().await;
    let api = Api::new(&sim);
    let event = |key: &str| json!({"name": "api_calls", "external_customer_id": "user_alice", "external_id": key});

    let (_, first) = api
        .post(
            "/v1/events/ingest",
            json!({"events": [event("a"), event("b"), event("a")]}),
        )
        .await;
    assert_eq!(first, json!({"inserted": 2, "duplicates": 1}));
    let (_, again) = api
        .post(
            "/v1/events/ingest",
            json!({"events": [event("b"), event("c")]}),
        )
        .await;
    assert_eq!(again, json!({"inserted": 1, "duplicates": 1}));

    let future = json!({"name": "api_calls", "external_customer_id": "user_alice", "external_id": "d", "timestamp": "2999-01-01T00:00:00Z"});
    let (status, body) = api
        .post("/v1/events/ingest", json!({"events": [event("e"), future]}))
        .await;
    assert_eq!(status.as_u16(), 422);
    assert_eq!(
        body["detail"][0]["loc"],
        json!(["body", "events", 1, "timestamp"])
    );

    let meters = api
        .ok("/v1/customer-meters/?external_customer_id=user_alice")
        .await;
    assert_eq!(
        meters["items"][0]["consumed_units"], 3,
        "the refused batch counted nothing"
    );
    let state = api.ok("/v1/customers/external/user_alice/state").await;
    assert_eq!(state["active_meters"][0]["consumed_units"], 3);
}

#[tokio::test]
async fn a_product_change_through_the_api_bills_as_asked() {
    let sim = demo_sim().await;
    let api = Api::new(&sim);
    let plus = api.ok("/v1/products/?metadata[plan]=premium_plus").await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sub = api
        .ok("/v1/subscriptions/?external_customer_id=user_alice")
        .await["items"][0]
        .clone();
    let path = format!("/v1/subscriptions/{}", sub["id"].as_str().unwrap());

    let (status, bad) = api
        .patch(
            &path,
            json!({"product_id": plus, "proration_behavior": "sometimes"}),
        )
        .await;
    assert_eq!(status.as_u16(), 422);
    assert_eq!(
        bad["detail"][0]["loc"],
        json!(["body", "proration_behavior"])
    );

    let (status, upgraded) = api
        .patch(
            &path,
            json!({"product_id": plus, "proration_behavior": "invoice"}),
        )
        .await;
    assert_eq!(status.as_u16(), 200, "{upgraded}");
    assert_eq!(upgraded["product_id"], plus);
    assert_eq!(upgraded["amount"], 4900);
    assert!(upgraded["modified_at"].as_str() > sub["modified_at"].as_str());
    let orders = api
        .ok(&format!(
            "/v1/orders/?subscription_id={}",
            sub["id"].as_str().unwrap()
        ))
        .await;
    let update = &orders["items"][0];
    assert_eq!(update["billing_reason"], "subscription_update");
    assert_eq!(update["items"][0]["proration"], true);
    assert!(
        update["total_amount"].as_i64().unwrap() > 0
            && update["total_amount"].as_i64().unwrap() <= 3000
    );

    let premium = sub["product_id"].as_str().unwrap();
    let (_, scheduled) = api
        .patch(
            &path,
            json!({"product_id": premium, "proration_behavior": "next_period"}),
        )
        .await;
    assert_eq!(
        scheduled["product_id"], plus,
        "the change waits for the period end"
    );
    assert_eq!(scheduled["pending_update"]["product_id"], premium);
    assert_eq!(
        scheduled["pending_update"]["applies_at"],
        scheduled["current_period_end"]
    );
}

#[tokio::test]
async fn requests_are_counted_per_route() {
    let sim = demo_sim().await;
    let api = Api::new(&sim);
    api.ok("/v1/subscriptions/?page=1").await;
    api.ok("/v1/subscriptions").await;
    api.ok("/v1/customers/external/user_alice").await;
    let counts = sim.request_counts();
    assert_eq!(counts.get("GET /v1/subscriptions"), Some(&2), "{counts:?}");
    assert_eq!(
        counts.get("GET /v1/customers/external/{external_id}"),
        Some(&1)
    );
    sim.reset_request_counts();
    assert!(sim.request_counts().is_empty());
}

#[tokio::test]
async fn paging_through_n_objects_takes_n_over_100_requests() {
    let sim = start(SimConfig {
        seed_catalog: true,
        ..config()
    })
    .await;
    let out = sim
        .run(Action::Populate {
            customers: 250,
            product: "premium".into(),
            prefix: "user_bulk_".into(),
        })
        .unwrap();
    assert!(out.events.is_empty(), "populating sends no webhooks");
    let api = Api::new(&sim);
    let mut seen = 0;
    let mut page = 1;
    loop {
        let body = api
            .ok(&format!("/v1/subscriptions/?limit=100&page={page}"))
            .await;
        seen += body["items"].as_array().unwrap().len();
        if page >= body["pagination"]["max_page"].as_u64().unwrap() {
            break;
        }
        page += 1;
    }
    assert_eq!(seen, 250);
    assert_eq!(sim.request_counts().get("GET /v1/subscriptions"), Some(&3));
}

#[tokio::test]
async fn the_control_api_refuses_bad_steps_with_a_code_and_changes_nothing() {
    let sim = demo_sim().await;
    let http = reqwest::Client::new();
    let post = |body: Value| {
        http.post(format!("{}/_sim/scenarios", sim.base_url()))
            .json(&body)
            .send()
    };
    for (body, status, code) in [
        (
            json!({"action": "cancel", "subscription": "user_nobody"}),
            404,
            "not_found",
        ),
        (
            json!({"action": "subscribe", "customer": "user_alice"}),
            422,
            "invalid_input",
        ),
        (json!({"action": "teleport"}), 422, "invalid_input"),
        (
            json!({"action": "recover", "subscription": "user_alice"}),
            409,
            "not_past_due",
        ),
    ] {
        let resp = post(body.clone()).await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{body}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["code"], code, "{body}");
        assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert!(sim.webhook_events().is_empty());

    let ok: Value = post(json!({"action": "cancel", "subscription": "user_alice", "silent": true}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ok["object"]["cancel_at_period_end"], true);
    assert_eq!(ok["events"], json!([]));
}

#[tokio::test]
async fn a_checkout_url_can_be_paid_by_hand() {
    let sim = demo_sim().await;
    let api = Api::new(&sim);
    let product = api.ok("/v1/products/?metadata[plan]=premium").await["items"][0]["id"].clone();
    let (_, checkout) = api
        .post(
            "/v1/checkouts/",
            json!({"products": [product], "external_customer_id": "user_buyer",
                   "success_url": "https://app.example.com/thanks?checkout_id={CHECKOUT_ID}"}),
        )
        .await;
    let url = checkout["url"].as_str().unwrap();
    assert!(url.starts_with(sim.base_url()));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http.get(url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Premium") && page.contains("<form"));

    let paid = http.post(format!("{url}/pay")).send().await.unwrap();
    assert_eq!(paid.status().as_u16(), 303);
    let location = paid.headers()["location"].to_str().unwrap();
    assert_eq!(
        location,
        format!(
            "https://app.example.com/thanks?checkout_id={}",
            checkout["id"].as_str().unwrap()
        )
    );
    let done = api
        .ok(&format!(
            "/v1/checkouts/{}",
            checkout["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(done["status"], "succeeded");
    let state = api.ok("/v1/customers/external/user_buyer/state").await;
    assert_eq!(
        state["active_subscriptions"][0]["id"],
        done["subscription_id"]
    );
}
