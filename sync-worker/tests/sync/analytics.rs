//! Revenue and usage analytics against a real service on a fresh database, with a fixture
//! built through the Polar simulator: two months of subscriptions whose every figure is worked
//! out by hand below and asserted exactly.

use crate::support::{API_TOKEN, SECRET, TestApp, at};
use polar_sim::{
    Action, DiscountDuration, DiscountOff, Endpoint, Payment, Proration, RateLimit, SecretScheme,
    Sim, SimConfig, SimHandle,
};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tollgate_sync::auth::{self, Role};
use tollgate_sync::polar_client::{ClientConfig, PolarClient};
use tollgate_sync::reconcile::{Mode, Quiet, Reconciler, Resource};

/// The service and the simulator that sends it Polar's webhooks, clocks moving together.
struct Books {
    app: TestApp,
    sim: SimHandle,
}

impl Books {
    async fn open(start: &str) -> Self {
        let sim = Sim::start(SimConfig {
            seed_catalog: true,
            clock_start: Some(at(start)),
            rate_limit: RateLimit::off(),
            delivery: polar_sim::DeliveryConfig {
                retry_base: Duration::from_millis(50),
                simulated_timestamps: true,
                ..polar_sim::DeliveryConfig::default()
            },
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let app = TestApp::spawn_configured(sim.now(), |config| {
            config.polar.organization_token = Some(SecretString::from(sim.access_token()));
            config.polar.api_url = Some(sim.base_url().to_owned());
        })
        .await;
        sim.set_webhook_endpoint(Some(Endpoint {
            url: format!("{}/webhooks/polar", app.address),
            secret: SECRET.to_owned(),
            scheme: SecretScheme::Legacy,
        }))
        .unwrap();
        let books = Self { app, sim };
        books.sync_products().await;
        books
    }

    async fn sync_products(&self) {
        let polar = PolarClient::new(ClientConfig::new(
            self.sim.base_url(),
            SecretString::from(self.sim.access_token()),
        ))
        .unwrap();
        let catalog = tollgate_sync::app::load_catalog(&crate::support::catalog_path()).unwrap();
        let reconciler = Reconciler {
            pool: self.app.pool.clone(),
            catalog: Arc::new(catalog),
            polar,
        };
        let now = self.app.clock.now();
        reconciler
            .run(&[Resource::Products], Mode::Full, now, &Quiet)
            .await
            .unwrap();
        self.app.applier.settled().await;
    }

    /// Moves both clocks to `to` (renewals and period ends on the way happen in Polar).
    async fn at(&self, to: &str) {
        let to = at(to);
        self.app.clock.set(to);
        self.sim
            .run(Action::Advance {
                days: 0,
                hours: 0,
                seconds: 0,
                to: Some(to),
            })
            .unwrap();
        self.settle().await;
    }

    /// Runs one step in Polar and waits until its webhooks are applied.
    async fn run(&self, action: Action) -> Value {
        let outcome = self.sim.run(action).unwrap();
        self.settle().await;
        outcome.object
    }

    async fn settle(&self) {
        self.sim.webhooks_settled().await;
        self.app.applier.settled().await;
    }

    async fn subscribe(&self, customer: &str, product: &str, trial_days: Option<u32>) {
        self.run(Action::Subscribe {
            customer: customer.into(),
            product: product.into(),
            trial_days,
            direct: true,
        })
        .await;
    }

    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let response = self
            .app
            .client
            .get(format!("{}{path}", self.app.address))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn finish(self) {
        self.sim.shutdown().await;
        self.app.finish().await;
    }
}

/// October and November 2026, with Premium (19.00/month), Premium Plus (49.00/month) and
/// Premium Yearly (190.00/year, plan `premium`):
///
/// - 2 Oct 10:00: a (Premium), b (Premium Plus), c, d, e (Premium) subscribe and pay.
/// - 15 Oct: d's subscription is revoked. 20 Oct: c cancels at the period end.
/// - 28 Oct: h starts a 7-day trial of Premium.
/// - 2 Nov 09:00: e's renewal fails (past_due); 10:00: a and b renew, c's subscription ends.
/// - 3 Nov: f subscribes. 4 Nov 10:00: h's trial converts and is charged.
/// - 5 Nov: g takes the yearly plan. 6 Nov: j subscribes, then gets 25 % off forever.
/// - 10 Nov: a upgrades to Premium Plus; 12 Nov: b downgrades to Premium (both prorated on
///   the next invoice, so no order now). 14 Nov: d subscribes again.
/// - 15 Nov: 5.00 of f's order is refunded. 20 Nov: i starts a 30-day trial.
async fn fixture() -> Books {
    let books = Books::open("2026-10-01T00:00:00Z").await;
    books
        .run(Action::CreateProduct {
            name: "Premium Yearly".into(),
            price_amount: 19000,
            interval: polar_sim::model::Interval::Year,
            metadata: serde_json::from_value(json!({ "plan": "premium" })).unwrap(),
        })
        .await;
    books.at("2026-10-02T10:00:00Z").await;
    for (customer, product) in [
        ("a", "Premium"),
        ("b", "Premium Plus"),
        ("c", "Premium"),
        ("d", "Premium"),
        ("e", "Premium"),
    ] {
        books.subscribe(customer, product, None).await;
    }
    books.at("2026-10-15T12:00:00Z").await;
    books
        .run(Action::Revoke {
            subscription: "d".into(),
        })
        .await;
    books.at("2026-10-20T12:00:00Z").await;
    books
        .run(Action::Cancel {
            subscription: "c".into(),
            reason: None,
            comment: None,
        })
        .await;
    books.at("2026-10-28T10:00:00Z").await;
    books.subscribe("h", "Premium", Some(7)).await;

    books.at("2026-11-02T09:00:00Z").await;
    books
        .run(Action::Cycle {
            subscription: "e".into(),
            payment: Payment::Fails,
        })
        .await;
    books.at("2026-11-03T12:00:00Z").await;
    books.subscribe("f", "Premium", None).await;
    books.at("2026-11-05T12:00:00Z").await;
    books.subscribe("g", "Premium Yearly", None).await;
    books.at("2026-11-06T12:00:00Z").await;
    books.subscribe("j", "Premium", None).await;
    books
        .run(Action::ApplyDiscount {
            subscription: "j".into(),
            off: DiscountOff::Percentage { basis_points: 2500 },
            duration: DiscountDuration::Forever,
            duration_in_months: None,
        })
        .await;
    books.at("2026-11-10T12:00:00Z").await;
    books
        .run(Action::ChangeProduct {
            subscription: "a".into(),
            product: "Premium Plus".into(),
            proration: Proration::Prorate,
        })
        .await;
    books.at("2026-11-12T12:00:00Z").await;
    books
        .run(Action::ChangeProduct {
            subscription: "b".into(),
            product: "Premium".into(),
            proration: Proration::Prorate,
        })
        .await;
    books.at("2026-11-14T12:00:00Z").await;
    books.subscribe("d", "Premium", None).await;
    books.at("2026-11-15T12:00:00Z").await;
    books
        .run(Action::Refund {
            order: "f".into(),
            amount: Some(500),
            reason: None,
            revoke_benefits: false,
        })
        .await;
    books.at("2026-11-20T12:00:00Z").await;
    books.subscribe("i", "Premium", Some(30)).await;
    books.at("2026-12-01T00:00:00Z").await;
    books
}

#[tokio::test]
async fn a_fixture_month_adds_up_to_the_figures_worked_by_hand() {
    let books = fixture().await;
    let (status, report) = books
        .get(
            "/v1/analytics/revenue?from=2026-10-01&to=2026-12-01&interval=month",
            API_TOKEN,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["from"], "2026-10-01");
    assert_eq!(report["to"], "2026-12-01");
    assert_eq!(report["interval"], "month");
    let currencies = report["currencies"].as_array().unwrap();
    assert_eq!(currencies.len(), 1, "{report}");
    assert_eq!(currencies[0]["currency"], "usd");
    let intervals = currencies[0]["intervals"].as_array().unwrap();
    assert_eq!(intervals.len(), 2);

    // October. MRR on 1 Oct: nothing. On 1 Nov: a 1900 + b 4900 + c 1900 (cancelling, still
    // paying) + e 1900 = 10 600; d came and went within the month (no movement), h is
    // trialing (no MRR). Every one of the 10 600 is new. Subscribers: a, b, c, e = 4; ARPU
    // 10 600 / 4 = 2 650. Five paid orders: 1900 + 4900 + 3 × 1900 = 12 500.
    let october = &intervals[0];
    assert_eq!(
        *october,
        json!({
            "start": "2026-10-01T00:00:00Z", "end": "2026-11-01T00:00:00Z",
            "mrr_start": 0, "mrr_end": 10600,
            "new_mrr": 10600, "expansion_mrr": 0, "contraction_mrr": 0,
            "churned_mrr": 0, "reactivated_mrr": 0, "net_new_mrr": 10600,
            "arr": 127200,
            "subscribers_start": 0, "subscribers_end": 4, "churned_customers": 0,
            "plans": [
                {"plan": "premium", "subscribers": 3, "customers": 3, "mrr": 5700},
                {"plan": "premium_plus", "subscribers": 1, "customers": 1, "mrr": 4900}
            ],
            "customer_churn_rate": null, "revenue_churn_rate": null,
            "arpu": 2650, "ltv": null,
            "payments": {"succeeded": 5, "failed": 0, "success_rate": 1.0},
            "gross_revenue": 12500, "refunds": 0, "net_revenue": 12500
        })
    );

    // November, customer by customer (MRR on 1 Nov → 1 Dec):
    //   a 1900 → 4900 expansion 3000      b 4900 → 1900 contraction 3000
    //   c 1900 → 0    churned 1900        d 0 → 1900    reactivated 1900 (paid in October)
    //   e 1900 → 1900 past_due, counted   f 0 → 1900    new
    //   g 0 → 1583    new: 19000 / 12 = 1583.33, rounded
    //   h 0 → 1900    new: the trial converted on 4 Nov
    //   j 0 → 1425    new: 1900 less 25 %
    //   i trialing on 1 Dec: nothing
    // New 1900 + 1583 + 1900 + 1425 = 6808. MRR on 1 Dec 10 600 + 6808 + 3000 + 1900 − 3000
    // − 1900 = 17 408 (ARR × 12 = 208 896). Subscribers 4 → 8 (a b d e f g h j), one churned
    // (c): customer churn 1/4; revenue churn (1900 + 3000) / 10 600. ARPU 17 408 / 8 = 2176;
    // LTV = ARPU / customer churn = 2176 × 4 = 8704.
    // Plans on 1 Dec: premium b d e f h 5 × 1900 + g 1583 + j 1425 = 12 508 (7 subscribers);
    // premium_plus a 4900.
    // Payments: renewals of a (1900) and b (4900), then f, h, g (19 000), j (1900 before its
    // discount) and d: 7 succeeded; e's failed renewal: 1 failed; 7 / 8 = 0.875.
    // Revenue 1900 + 4900 + 1900 + 1900 + 19 000 + 1900 + 1900 = 33 400; refunds 500.
    let november = &intervals[1];
    assert_eq!(
        *november,
        json!({
            "start": "2026-11-01T00:00:00Z", "end": "2026-12-01T00:00:00Z",
            "mrr_start": 10600, "mrr_end": 17408,
            "new_mrr": 6808, "expansion_mrr": 3000, "contraction_mrr": 3000,
            "churned_mrr": 1900, "reactivated_mrr": 1900, "net_new_mrr": 6808,
            "arr": 208896,
            "subscribers_start": 4, "subscribers_end": 8, "churned_customers": 1,
            "plans": [
                {"plan": "premium", "subscribers": 7, "customers": 7, "mrr": 12508},
                {"plan": "premium_plus", "subscribers": 1, "customers": 1, "mrr": 4900}
            ],
            "customer_churn_rate": 0.25, "revenue_churn_rate": 4900.0 / 10600.0,
            "arpu": 2176, "ltv": 8704,
            "payments": {"succeeded": 7, "failed": 1, "success_rate": 0.875},
            "gross_revenue": 33400, "refunds": 500, "net_revenue": 32900
        })
    );

    // By week, the MRR at each boundary still chains: every week ends where the next starts,
    // and the last one ends on 1 Dec at 17 408.
    let (status, weekly) = books
        .get(
            "/v1/analytics/revenue?from=2026-11-01&to=2026-12-01&interval=week",
            API_TOKEN,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let weeks = weekly["currencies"][0]["intervals"].as_array().unwrap();
    assert_eq!(weeks.len(), 5, "4 weeks and 2 days");
    assert_eq!(weeks[4]["end"], "2026-12-01T00:00:00Z");
    assert_eq!(weeks[4]["mrr_end"], 17408);
    for pair in weeks.windows(2) {
        assert_eq!(pair[0]["mrr_end"], pair[1]["mrr_start"]);
    }
    let refunds: i64 = weeks.iter().map(|w| w["refunds"].as_i64().unwrap()).sum();
    assert_eq!(refunds, 500);

    // The command line's report of November: the same figures, one row per currency.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["report", "revenue", "--month", "2026-11"])
        .env("DATABASE_URL", &books.app.database.url)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "month,currency,mrr_start,mrr_end,new_mrr,expansion_mrr,contraction_mrr,churned_mrr,\
         reactivated_mrr,net_new_mrr,arr,subscribers_start,subscribers_end,churned_customers,\
         customer_churn_rate,revenue_churn_rate,arpu,ltv,payments_succeeded,payments_failed,\
         payment_success_rate,gross_revenue,refunds,net_revenue\r\n\
         2026-11,usd,10600,17408,6808,3000,3000,1900,1900,6808,208896,4,8,1,0.25,\
         0.46226415094339623,2176,8704,7,1,0.875,33400,500,32900\r\n"
    );

    // The forecast on 1 Dec from October and November: MRR now 17 408; gained 10 600 (October)
    // + 6808 + 3000 + 1900 (November) = 22 308, 11 154 a month on average; lost 1900 + 3000 =
    // 4900 of the 0 + 10 600 the months started with, a rate of 4900 / 10 600 = 0.4623. Each
    // month keeps 57/106 of the one before and gains 11 154:
    //   December 17 408 × 57/106 + 11 154 = 20 514.9 → 20 515
    //   January  20 515 × 57/106 + 11 154 = 22 185.7 → 22 186
    //   February 22 186 × 57/106 + 11 154 = 23 084.2 → 23 084
    let (status, forecast) = books
        .get("/v1/analytics/forecast?months=3&lookback=2", API_TOKEN)
        .await;
    assert_eq!(status, StatusCode::OK, "{forecast}");
    assert!(forecast["method"].as_str().unwrap().contains("churn_rate"));
    assert_eq!(forecast["as_of"], "2026-12-01T00:00:00Z");
    let usd = &forecast["currencies"][0];
    assert_eq!(usd["currency"], "usd");
    assert_eq!(
        usd["inputs"],
        json!({
            "mrr_now": 17408, "from": "2026-10-01", "to": "2026-12-01",
            "gained_mrr": 22308, "lost_mrr": 4900, "mrr_at_month_starts": 10600,
            "average_gained_mrr": 11154.0, "churn_rate": 4900.0 / 10600.0
        })
    );
    assert_eq!(
        usd["projection"],
        json!([
            {"month": "2026-12", "mrr": 20515, "arr": 246180},
            {"month": "2027-01", "mrr": 22186, "arr": 266232},
            {"month": "2027-02", "mrr": 23084, "arr": 277008}
        ])
    );
    books.finish().await;
}

/// Every row of the analytics rollups, in key order, as JSON: what a rebuild must reproduce.
async fn rollup_rows(pool: &sqlx::PgPool) -> Vec<(String, Vec<Value>)> {
    let mut tables = Vec::new();
    for (table, key) in [
        ("mrr_changes", "customer_id, currency, at"),
        (
            "mrr_product_changes",
            "customer_id, currency, product_id, at",
        ),
        ("mrr_product_daily", "currency, product_id, day"),
        ("mrr_customers", "customer_id"),
        ("revenue_daily", "day, currency"),
    ] {
        let rows: Vec<(Value,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT to_jsonb(t) FROM {table} t ORDER BY {key}"
        )))
        .fetch_all(pool)
        .await
        .unwrap();
        tables.push((
            table.to_owned(),
            rows.into_iter().map(|(row,)| row).collect(),
        ));
    }
    tables
}

#[tokio::test]
async fn rebuilding_the_rollups_gives_the_rows_the_triggers_kept() {
    // The fixture's rollups were kept a write at a time by the triggers, through webhooks.
    let books = fixture().await;
    let pool = &books.app.pool;
    let kept = rollup_rows(pool).await;
    for (table, rows) in &kept {
        assert!(!rows.is_empty(), "{table} is empty after the fixture");
    }

    sqlx::query("SELECT rebuild_analytics_rollups()")
        .execute(pool)
        .await
        .unwrap();

    let rebuilt = rollup_rows(pool).await;
    for ((table, kept), (_, rebuilt)) in kept.iter().zip(&rebuilt) {
        assert_eq!(kept, rebuilt, "{table} differs after the rebuild");
    }
    books.finish().await;
}

#[tokio::test]
async fn analytics_need_a_viewer_and_refuse_bad_queries_by_name() {
    let app = TestApp::spawn("2026-11-20T12:00:00Z").await;
    let mut conn = app.pool.acquire().await.unwrap();
    let now = app.clock.now();
    let (_, app_token) = auth::create(&mut conn, "web", Role::App, "test", now)
        .await
        .unwrap();
    let (_, viewer) = auth::create(&mut conn, "finance", Role::Viewer, "test", now)
        .await
        .unwrap();
    drop(conn);
    let get = |path: &'static str, token: Option<String>| {
        let request = app.client.get(format!("{}{path}", app.address));
        let request = match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let viewer = Some(viewer.expose_secret().to_owned());
    for path in [
        "/v1/analytics/revenue",
        "/v1/analytics/forecast",
        "/v1/analytics/usage?feature=api_calls",
    ] {
        let (status, body) = get(path, None).await;
        assert_eq!(
            (status, &body["code"]),
            (StatusCode::UNAUTHORIZED, &json!("unauthorized"))
        );
        let (status, body) = get(path, Some(app_token.expose_secret().to_owned())).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(body["code"], "forbidden");
        assert!(
            body["message"].as_str().unwrap().contains("viewer"),
            "{body}"
        );
        let (status, body) = get(path, viewer.clone()).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }

    // The default range: the twelve months up to the end of this one, by month.
    let (_, body) = get("/v1/analytics/revenue", viewer.clone()).await;
    assert_eq!(
        (&body["from"], &body["to"], &body["interval"]),
        (&json!("2025-12-01"), &json!("2026-12-01"), &json!("month"))
    );
    assert_eq!(body["currencies"], json!([]), "nothing sold yet");

    for (path, code, names) in [
        (
            "/v1/analytics/revenue?from=2026-13-01",
            "invalid_query",
            "from",
        ),
        ("/v1/analytics/revenue?to=yesterday", "invalid_query", "to"),
        (
            "/v1/analytics/revenue?interval=quarter",
            "invalid_query",
            "interval",
        ),
        (
            "/v1/analytics/revenue?from=2026-12-01&to=2026-11-01",
            "invalid_query",
            "from",
        ),
        (
            "/v1/analytics/revenue?colour=red",
            "invalid_query",
            "colour",
        ),
        (
            "/v1/analytics/revenue?from=2025-01-01&to=2026-01-03&interval=day",
            "range_too_large",
            "366",
        ),
        ("/v1/analytics/forecast?months=0", "invalid_query", "months"),
        (
            "/v1/analytics/forecast?months=twelve",
            "invalid_query",
            "months",
        ),
        (
            "/v1/analytics/forecast?lookback=99",
            "invalid_query",
            "lookback",
        ),
        ("/v1/analytics/usage", "invalid_query", "feature"),
        (
            "/v1/analytics/usage?feature=api_calls&interval=hour",
            "invalid_query",
            "interval",
        ),
    ] {
        let (status, body) = get(path, viewer.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["code"], code, "{path}");
        assert!(
            body["message"].as_str().unwrap().contains(names),
            "{path}: {body}"
        );
    }
    let (status, body) = get("/v1/analytics/usage?feature=teleport", viewer.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "unknown_feature");
    app.finish().await;
}

/// `api_calls` bills past 10 a month and warns at 8 on the free plan.
const USAGE_CATALOG: &str = r#"
default_plan = "free"

[features]
api_calls = { type = "metered", reset = "month" }

[plans.free]
name = "Free"
rank = 0
limits = { api_calls = { limit = 10, overage = "bill", warn_at = 0.8 } }
"#;

#[tokio::test]
async fn usage_patterns_of_known_counts() {
    let path = std::env::temp_dir().join(format!(
        "tollgate_analytics_{}.toml",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&path, USAGE_CATALOG).unwrap();
    let app = TestApp::spawn_with_catalog("2026-11-20T12:00:00Z", path.clone()).await;
    // Ten customers use 1, 2, …, 9 and 12 calls: one call each on 19 Nov, the rest on 20 Nov.
    let counts = [1, 2, 3, 4, 5, 6, 7, 8, 9, 12];
    let mut events = Vec::new();
    for (i, count) in counts.iter().enumerate() {
        let customer = format!("u{:02}", i + 1);
        events.push(json!({ "id": format!("{customer}-1"), "customer": customer,
            "feature": "api_calls", "amount": 1, "timestamp": "2026-11-19T08:00:00Z" }));
        if *count > 1 {
            events.push(json!({ "id": format!("{customer}-2"), "customer": customer,
                "feature": "api_calls", "amount": count - 1,
                "timestamp": "2026-11-20T08:00:00Z" }));
        }
    }
    let response = app
        .client
        .post(format!("{}/v1/usage", app.address))
        .bearer_auth(API_TOKEN)
        .json(&json!({ "events": events }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let response = app
        .client
        .get(format!(
            "{}/v1/analytics/usage?feature=api_calls&from=2026-11-19&to=2026-11-21",
            app.address
        ))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let report: Value = response.json().await.unwrap();
    // 19 Nov: ten events of one call. 20 Nov: the other 57 − 10 = 47 calls, nine customers
    // (u01 used only one). Per customer, nearest rank of the ten sorted counts: p50 is the 5th
    // (5), p95 the 10th (12). Now (period: November): u08 and u09 are at warn_at (8 and 9 of
    // 10, 80 % or more), u10 is past the limit (12 of 10).
    assert_eq!(
        report,
        json!({
            "feature": "api_calls", "from": "2026-11-19", "to": "2026-11-21", "interval": "day",
            "intervals": [
                {"start": "2026-11-19T00:00:00Z", "end": "2026-11-20T00:00:00Z",
                 "total": 10, "events": 10, "customers": 10},
                {"start": "2026-11-20T00:00:00Z", "end": "2026-11-21T00:00:00Z",
                 "total": 47, "events": 9, "customers": 9}
            ],
            "total": 57, "customers": 10,
            "per_customer": {"p50": 5, "p95": 12, "max": 12},
            "top_customers": [
                {"customer": "u10", "used": 12}, {"customer": "u09", "used": 9},
                {"customer": "u08", "used": 8}, {"customer": "u07", "used": 7},
                {"customer": "u06", "used": 6}, {"customer": "u05", "used": 5},
                {"customer": "u04", "used": 4}, {"customer": "u03", "used": 3},
                {"customer": "u02", "used": 2}, {"customer": "u01", "used": 1}
            ],
            "at_warn": [{"customer": "u08", "used": 8}, {"customer": "u09", "used": 9}],
            "at_limit": [{"customer": "u10", "used": 12}]
        })
    );

    // The monthly job on 1 Dec stores November's lines; the report reads them even once the
    // events are gone, and running the job again replaces them rather than adding.
    let deps = tollgate_sync::jobs::Deps {
        pool: app.pool.clone(),
        catalog: Arc::new(tollgate_gate::Catalog::parse(USAGE_CATALOG).unwrap()),
        polar: None,
        clock: app.clock.clone(),
    };
    let december = at("2026-12-01T00:00:00Z");
    for _ in 0..2 {
        tollgate_sync::jobs::usage_report::run_once(&deps, december)
            .await
            .unwrap();
    }
    let stored: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT to_char(month, 'YYYY-MM'), customer, events, units FROM usage_monthly
         ORDER BY customer",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let expected: Vec<(String, String, i64, i64)> = counts
        .iter()
        .enumerate()
        .map(|(i, count)| {
            let events = if *count > 1 { 2 } else { 1 };
            ("2026-11".into(), format!("u{:02}", i + 1), events, *count)
        })
        .collect();
    assert_eq!(stored, expected);
    sqlx::query("DELETE FROM usage_events")
        .execute(&app.pool)
        .await
        .unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["report", "usage", "--month", "2026-11"])
        .env("DATABASE_URL", &app.database.url)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let csv = String::from_utf8(output.stdout).unwrap();
    assert_eq!(csv.lines().count(), 11, "{csv}");
    assert!(csv.contains("2026-11,u10,api_calls,2,12,2\n"), "{csv}");
    app.finish().await;
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn weekly_plans_and_repeating_discounts_are_normalised_to_a_month() {
    let books = Books::open("2026-10-01T00:00:00Z").await;
    books
        .run(Action::CreateProduct {
            name: "Premium Weekly".into(),
            price_amount: 500,
            interval: polar_sim::model::Interval::Week,
            metadata: serde_json::from_value(json!({ "plan": "premium" })).unwrap(),
        })
        .await;
    books.at("2026-10-01T10:00:00Z").await;
    books.subscribe("w", "Premium Weekly", None).await;
    books.subscribe("r", "Premium", None).await;
    books
        .run(Action::ApplyDiscount {
            subscription: "r".into(),
            off: DiscountOff::Percentage { basis_points: 5000 },
            duration: DiscountDuration::Repeating,
            duration_in_months: Some(1),
        })
        .await;
    books.at("2026-12-01T00:00:00Z").await;
    let (status, report) = books
        .get(
            "/v1/analytics/revenue?from=2026-10-01&to=2026-12-01",
            API_TOKEN,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let months = report["currencies"][0]["intervals"].as_array().unwrap();
    let pick = |m: &Value| {
        json!([
            m["mrr_start"],
            m["mrr_end"],
            m["new_mrr"],
            m["expansion_mrr"],
            m["payments"]["succeeded"],
            m["gross_revenue"]
        ])
    };
    // October: w pays 500 a week: 500 × 52 / 12 = 2166.67 → 2167 a month. r pays 1900 less
    // 50 % for the first month from its start (1 Oct 10:00): 950. Both new: 3117. Orders: w on
    // 1, 8, 15, 22 and 29 Oct (5 × 500) and r's first, before its discount (1900): 6, 4400.
    assert_eq!(pick(&months[0]), json!([0, 3117, 3117, 0, 6, 4400]));
    // November: r's discount ended on 1 Nov 10:00, so r's MRR rose 950 → 1900 (expansion):
    // 2167 + 1900 = 4067. Orders: r's renewal on 1 Nov (the month is over: 1900) and w on 5,
    // 12, 19 and 26 Nov: 5, 3900.
    assert_eq!(pick(&months[1]), json!([3117, 4067, 0, 950, 5, 3900]));
    books.finish().await;
}
