//! A real service on a fresh database, and deliveries signed the way Polar signs them.

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::path::PathBuf;
use tokio::sync::oneshot;
use tollgate_sync::config::{
    CatalogConfig, Config, DatabaseConfig, PolarConfig, PolarServer, PublishConfig,
};
use tollgate_sync::signature::sign_legacy;
use tollgate_sync::webhooks::Applier;
use tollgate_sync::{App, Clock};

#[path = "../../common/database.rs"]
mod database;
pub use database::FreshDatabase;

/// The legacy-scheme secret of Polar's signing vectors.
pub const SECRET: &str = "whsec_weqEH0hTc7ayeRNXIaS7rYErx8NOIZXqT9jIx0NO3lr";
pub const API_TOKEN: &str = "test-token-0123456789abcdef";
pub const CUSTOMER: &str = "user_01J8ZK3QX7M4";

pub fn catalog_path() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/catalog.toml"
    ))
}

pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

pub fn config(database_url: &str) -> Config {
    Config {
        database: DatabaseConfig {
            url: SecretString::from(database_url.to_owned()),
            max_connections: 8,
        },
        catalog: CatalogConfig {
            path: catalog_path(),
        },
        polar_webhook_secret: SecretString::from(SECRET),
        polar: PolarConfig {
            organization_token: None,
            server: PolarServer::Sandbox,
            api_url: None,
        },
        publish: PublishConfig::default(),
        jobs: false,
        listen: "127.0.0.1:0".parse().unwrap(),
        api_token: SecretString::from(API_TOKEN),
        clerk_webhook_secret: None,
        rate_limit: None,
        rate_limit_burst: None,
        auth_failure_burst: 1000,
        monitoring: Default::default(),
    }
}

/// The service, started in-process on a free port, with a clock the test moves.
pub struct TestApp {
    pub address: String,
    /// `http://127.0.0.1:PORT` of `/metrics`, when `TOLLGATE_METRICS_LISTEN` was set.
    pub metrics_address: Option<String>,
    pub client: reqwest::Client,
    pub clock: Clock,
    pub pool: PgPool,
    pub applier: Applier,
    pub database: FreshDatabase,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// A delivery as it went over the wire.
#[derive(Clone)]
pub struct Delivery {
    pub webhook_id: String,
    pub timestamp: i64,
    pub body: Vec<u8>,
}

impl TestApp {
    pub async fn spawn(now: &str) -> Self {
        Self::spawn_with_catalog(now, catalog_path()).await
    }

    /// The service with another catalog than the example one.
    pub async fn spawn_with_catalog(now: &str, catalog: PathBuf) -> Self {
        Self::spawn_configured(at(now), |config| config.catalog.path = catalog).await
    }

    /// The service with the test configuration as `configure` changes it.
    pub async fn spawn_configured(now: DateTime<Utc>, configure: impl FnOnce(&mut Config)) -> Self {
        let database = FreshDatabase::create().await;
        let clock = Clock::manual(now);
        let mut config = config(&database.url);
        configure(&mut config);
        let app = App::build_with_clock(config, clock.clone()).await.unwrap();
        let address = format!("http://127.0.0.1:{}", app.port());
        let metrics_address = app
            .metrics_port()
            .map(|port| format!("http://127.0.0.1:{port}"));
        let pool = app.pool().clone();
        let applier = app.applier();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        applier.caught_up().await;
        Self {
            address,
            metrics_address,
            client: reqwest::Client::new(),
            clock,
            pool,
            applier,
            database,
            stop: Some(stop),
            server,
        }
    }

    /// Stops the service and drops its database.
    pub async fn finish(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.server.await;
        self.pool.close().await;
        self.database.drop_now().await;
    }

    /// A delivery of `body` signed at the clock's time, the way Polar signs it.
    pub fn sign(&self, body: Vec<u8>) -> Delivery {
        let timestamp = self.clock.now().timestamp();
        Delivery {
            webhook_id: uuid::Uuid::new_v4().to_string(),
            timestamp,
            body,
        }
    }

    pub async fn post(&self, delivery: &Delivery, secret: &str) -> reqwest::Response {
        self.poster().post(delivery, secret).await
    }

    /// A handle that posts deliveries from other tasks.
    pub fn poster(&self) -> Poster {
        Poster {
            client: self.client.clone(),
            address: self.address.clone(),
        }
    }

    /// Delivers `event` (compact JSON, like Polar), waits for the applier, and returns what
    /// became of it: the stored delivery's status (`applied`, `stale`, `ignored`, `failed`),
    /// or `duplicate`.
    pub async fn deliver(&self, event: &Value) -> String {
        let delivery = self.sign(serde_json::to_vec(event).unwrap());
        let response = self.post(&delivery, SECRET).await;
        let code = response.status();
        let receipt: Value = response.json().await.unwrap();
        match receipt["status"].as_str().unwrap() {
            "accepted" => assert_eq!(code, StatusCode::ACCEPTED, "{event:#}"),
            "duplicate" => return "duplicate".to_owned(),
            _ => assert_eq!(code, StatusCode::OK, "{event:#}"),
        }
        self.applier.settled().await;
        self.delivery_status(&delivery.webhook_id).await
    }

    /// The stored status of the delivery `webhook_id`.
    pub async fn delivery_status(&self, webhook_id: &str) -> String {
        let (status,): (String,) =
            sqlx::query_as("SELECT status FROM webhook_events WHERE webhook_id = $1")
                .bind(webhook_id)
                .fetch_one(&self.pool)
                .await
                .unwrap();
        status
    }

    /// Moves the clock to just after the event was sent, then delivers it.
    pub async fn deliver_at_its_time(&self, event: &Value) -> String {
        let sent = at(event["timestamp"].as_str().unwrap());
        self.clock.set(sent + chrono::Duration::seconds(1));
        self.deliver(event).await
    }

    pub async fn snapshot(&self, customer: &str) -> Option<Value> {
        let response = self
            .client
            .get(format!("{}/v1/entitlements/{customer}", self.address))
            .bearer_auth(API_TOKEN)
            .send()
            .await
            .unwrap();
        match response.status() {
            StatusCode::OK => Some(response.json().await.unwrap()),
            StatusCode::NOT_FOUND => None,
            other => panic!("GET /v1/entitlements answered {other}"),
        }
    }

    pub async fn check(&self, customer: &str, feature: &str, amount: u64) -> Value {
        let response = self
            .client
            .post(format!("{}/v1/check", self.address))
            .bearer_auth(API_TOKEN)
            .json(&json!({ "customer": customer, "feature": feature, "amount": amount }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// Makes the database refuse new snapshots — of `customer` only, or of everyone — the way
    /// a failing database would, until `DROP TRIGGER refuse ON entitlement_snapshots`. The
    /// error says "snapshots of <who> are refused".
    pub async fn refuse_snapshots(&self, customer: Option<&str>) {
        sqlx::query(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 IF TG_NARGS = 0 OR NEW.customer = TG_ARGV[0] THEN
                     RAISE EXCEPTION 'snapshots of % are refused', NEW.customer;
                 END IF;
                 RETURN NEW;
             END $$",
        )
        .execute(&self.pool)
        .await
        .unwrap();
        let only = customer.map_or(String::new(), |c| format!("'{c}'"));
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE TRIGGER refuse BEFORE INSERT ON entitlement_snapshots
             FOR EACH ROW EXECUTE FUNCTION refuse({only})"
        )))
        .execute(&self.pool)
        .await
        .unwrap();
    }

    /// How many rows each table holds, to show that a refused delivery changed nothing.
    pub async fn row_counts(&self) -> Vec<(String, i64)> {
        let mut counts = Vec::new();
        for table in [
            "webhook_events",
            "customers",
            "products",
            "subscriptions",
            "orders",
            "refunds",
            "benefit_grants",
            "checkouts",
            "entitlement_snapshots",
            "publish_outbox",
            "audit_log",
        ] {
            let (n,): (i64,) =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                    .fetch_one(&self.pool)
                    .await
                    .unwrap();
            counts.push((table.to_owned(), n));
        }
        counts
    }
}

/// A fixture webhook body, parsed.
pub fn fixture(event: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/webhook.{event}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The subscription story of the fixtures, in the order Polar sent it.
pub const STORY: &[&str] = &[
    "customer.created",
    "subscription.created",
    "subscription.active",
    "order.paid",
    "checkout.updated",
    "benefit_grant.created",
    "customer.state_changed",
    "order.refunded",
    "product.updated",
    "subscription.updated",
    "subscription.canceled",
    "subscription.uncanceled",
    "subscription.revoked",
];

/// Posts signed deliveries to a running service.
#[derive(Clone)]
pub struct Poster {
    client: reqwest::Client,
    address: String,
}

impl Poster {
    pub async fn post(&self, delivery: &Delivery, secret: &str) -> reqwest::Response {
        let signature = sign_legacy(
            secret,
            &delivery.webhook_id,
            delivery.timestamp,
            &delivery.body,
        );
        self.client
            .post(format!("{}/webhooks/polar", self.address))
            .header("content-type", "application/json")
            .header("webhook-id", &delivery.webhook_id)
            .header("webhook-timestamp", delivery.timestamp.to_string())
            .header("webhook-signature", signature)
            .body(delivery.body.clone())
            .send()
            .await
            .unwrap()
    }
}
