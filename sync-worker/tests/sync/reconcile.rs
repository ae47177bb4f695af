//! Reconciliation against the Polar simulator on a fresh database: every kind of drift is
//! repaired through the webhook path and audited with before and after; a storm of 429s slows a
//! reconcile without failing it; a Polar that fails every request opens the circuit, which
//! closes again once Polar is back.

use crate::support;
use crate::support::FreshDatabase;
use polar_sim::{Action, RateLimit, Sim, SimConfig, SimHandle, SubscriptionStatus};
use secrecy::SecretString;
use serde_json::Value;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tollgate_sync::db::MIGRATOR;
use tollgate_sync::jobs::{self, health_check, order_sync, subscription_sync};
use tollgate_sync::polar_client::{BreakerState, ClientConfig, PolarClient, PolarError};
use tollgate_sync::reconcile::{Mode, Quiet, ReconcileError, Reconciler, Report, Resource};
use tollgate_sync::{Clock, app, health};

/// A simulator with the example catalog's products and no rate limit (unless a test sets one).
async fn simulator(rate_limit: RateLimit) -> SimHandle {
    Sim::start(SimConfig {
        seed_catalog: true,
        rate_limit,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

struct World {
    database: FreshDatabase,
    pool: PgPool,
    clock: Clock,
    deps: jobs::Deps,
}

impl World {
    async fn new(sim: &SimHandle, client: ClientConfig) -> Self {
        let database = FreshDatabase::create().await;
        let pool = PgPool::connect(&database.url).await.unwrap();
        MIGRATOR.run(&pool).await.unwrap();
        let catalog = Arc::new(app::load_catalog(&support::catalog_path()).unwrap());
        let clock = Clock::manual(sim.now());
        let polar = PolarClient::with_clock(client, clock.clone()).unwrap();
        let deps = jobs::Deps {
            pool: pool.clone(),
            catalog,
            polar: Some(polar),
            clock: clock.clone(),
        };
        Self {
            database,
            pool,
            clock,
            deps,
        }
    }

    fn reconciler(&self) -> Reconciler {
        self.deps.reconciler().unwrap()
    }

    fn polar(&self) -> &PolarClient {
        self.deps.polar.as_ref().unwrap()
    }

    async fn reconcile(&self, mode: Mode) -> Result<Report, ReconcileError> {
        let reports = self
            .reconciler()
            .run(&Resource::ALL, mode, self.clock.now(), &Quiet)
            .await?;
        let mut total = Report::default();
        for (_, report) in &reports {
            total.add(report);
        }
        Ok(total)
    }

    async fn scalar<T>(&self, sql: &str, bind: &str) -> T
    where
        T: Send + Unpin + for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    {
        let (value,): (T,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned()))
            .bind(bind)
            .fetch_one(&self.pool)
            .await
            .unwrap();
        value
    }

    /// The repairs audited for `subject`, oldest first.
    async fn repairs(&self, subject: &str) -> Vec<Value> {
        let rows: Vec<(Value,)> = sqlx::query_as(
            "SELECT details FROM audit_log
             WHERE actor = 'reconcile' AND action = 'reconcile.repair' AND subject = $1
             ORDER BY id",
        )
        .bind(subject)
        .fetch_all(&self.pool)
        .await
        .unwrap();
        rows.into_iter().map(|(details,)| details).collect()
    }

    /// The plan key of `customer`'s current snapshot.
    async fn plan(&self, customer: &str) -> String {
        let mut conn = self.pool.acquire().await.unwrap();
        let (_, snapshot) = tollgate_sync::db::snapshots::current(&mut conn, customer)
            .await
            .unwrap()
            .unwrap();
        snapshot["plan"]["key"].as_str().unwrap().to_owned()
    }

    async fn finish(mut self) {
        self.pool.close().await;
        self.database.drop_now().await;
    }
}

fn client(sim: &SimHandle) -> ClientConfig {
    let mut config = ClientConfig::new(
        sim.base_url(),
        SecretString::from(sim.access_token().to_owned()),
    );
    config.base_delay = Duration::from_millis(5);
    config.max_delay = Duration::from_millis(50);
    config
}

fn id(object: &Value) -> String {
    object["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_kind_of_drift_is_repaired_and_audited() {
    let sim = simulator(RateLimit::off()).await;
    let status = sim.subscribe("status_user", "premium").unwrap();
    let upgrade = sim.subscribe("upgrade_user", "premium").unwrap();
    let deleted = sim.subscribe("deleted_user", "premium").unwrap();
    let renewed = sim.subscribe("renewed_user", "premium").unwrap();
    let revoked = sim.subscribe("revoked_user", "premium").unwrap();
    let world = World::new(&sim, client(&sim)).await;

    // A database that never heard a webhook: everything is missing, and repaired.
    let first = world.reconcile(Mode::Full).await.unwrap();
    assert_eq!(first.failed, 0);
    assert!(first.missing >= 5 + 5 + 5, "{first:?}");
    assert_eq!(world.plan("status_user").await, "premium");
    let audits = world
        .repairs(&format!("subscription:{}", id(&status)))
        .await;
    assert_eq!(audits.len(), 1);
    assert_eq!(audits[0]["drift"], "missing");
    assert_eq!(audits[0]["before"], Value::Null);
    assert_eq!(audits[0]["after"]["status"], "active");

    // Nothing drifted: a second reconcile repairs nothing.
    let again = world.reconcile(Mode::Full).await.unwrap();
    assert_eq!((again.repaired, again.failed), (0, 0), "{again:?}");

    // Drift: Polar changes without sending any webhook.
    sim.drift(Action::DriftSubscription {
        subscription: id(&status),
        status: Some(SubscriptionStatus::Canceled),
        product: None,
        cancel_at_period_end: None,
        current_period_end: None,
    })
    .unwrap();
    sim.drift(Action::DriftSubscription {
        subscription: id(&upgrade),
        status: None,
        product: Some("premium_plus".to_owned()),
        cancel_at_period_end: None,
        current_period_end: None,
    })
    .unwrap();
    sim.drift(Action::DeleteCustomer {
        customer: "deleted_user".to_owned(),
    })
    .unwrap();
    let orders_before: i64 = world
        .scalar(
            "SELECT count(*) FROM orders WHERE subscription_id = $1",
            &id(&renewed),
        )
        .await;
    sim.drift(Action::Cycle {
        subscription: id(&renewed),
        payment: polar_sim::Payment::default(),
    })
    .unwrap();
    sim.drift(Action::Revoke {
        subscription: id(&revoked),
    })
    .unwrap();
    // A product.updated that never arrived: the database holds an older version of premium
    // whose metadata no longer selects a plan.
    let premium = id(&status["product"]);
    sqlx::query(
        "UPDATE products SET version_at = version_at - interval '1 day',
                raw = jsonb_set(raw, '{metadata}', '{\"plan\": \"legacy\"}')
         WHERE id = $1",
    )
    .bind(&premium)
    .execute(&world.pool)
    .await
    .unwrap();

    world.clock.set(sim.now());
    let repaired = world.reconcile(Mode::Full).await.unwrap();
    assert_eq!(repaired.failed, 0, "{repaired:?}");
    assert_eq!(repaired.deleted, 1, "{repaired:?}");

    // Status changed: stored, audited with before and after, snapshot rebuilt to the free plan.
    let audits = world
        .repairs(&format!("subscription:{}", id(&status)))
        .await;
    let last = audits.last().unwrap();
    assert_eq!(last["drift"], "outdated");
    assert_eq!(last["before"]["status"], "active");
    assert_eq!(last["after"]["status"], "canceled");
    assert_eq!(world.plan("status_user").await, "free");

    // Product changed: the customer is on the higher plan now.
    let audits = world
        .repairs(&format!("subscription:{}", id(&upgrade)))
        .await;
    let last = audits.last().unwrap();
    assert_ne!(last["before"]["product_id"], last["after"]["product_id"]);
    assert_eq!(world.plan("upgrade_user").await, "premium_plus");

    // Deleted without a webhook: confirmed by id, marked deleted, snapshot without its plan.
    let customer_id = deleted["customer_id"].as_str().unwrap();
    let audits = world.repairs(&format!("customer:{customer_id}")).await;
    let last = audits.last().unwrap();
    assert_eq!(last["drift"], "deleted");
    assert_eq!(last["before"]["deleted_at"], Value::Null);
    assert!(last["after"]["deleted_at"].is_string());
    let deleted_at: Option<chrono::DateTime<chrono::Utc>> = world
        .scalar(
            "SELECT deleted_at FROM customers WHERE id = $1",
            customer_id,
        )
        .await;
    assert!(deleted_at.is_some());
    assert_eq!(world.plan("deleted_user").await, "free");

    // A renewal order that no webhook announced: stored and audited as missing.
    let orders_after: i64 = world
        .scalar(
            "SELECT count(*) FROM orders WHERE subscription_id = $1",
            &id(&renewed),
        )
        .await;
    assert_eq!(orders_after, orders_before + 1);
    let new_order: String = world
        .scalar(
            "SELECT id FROM orders WHERE subscription_id = $1 ORDER BY version_at DESC LIMIT 1",
            &id(&renewed),
        )
        .await;
    let audits = world.repairs(&format!("order:{new_order}")).await;
    assert_eq!(audits.len(), 1);
    assert_eq!(audits[0]["drift"], "missing");
    assert_eq!(audits[0]["after"]["billing_reason"], "subscription_cycle");

    // Benefit grants revoked with the subscription: every held grant of the customer repaired.
    let held: i64 = world
        .scalar(
            "SELECT count(*) FROM benefit_grants g JOIN customers c ON c.id = g.customer_id
             WHERE c.external_id = $1 AND NOT g.is_revoked",
            "revoked_user",
        )
        .await;
    assert_eq!(held, 0);
    let grant_repairs: i64 = world
        .scalar(
            "SELECT count(*) FROM audit_log a
             WHERE a.subject LIKE 'benefit_grant:%' AND a.details->>'drift' = 'outdated'
               AND (a.details->'before'->>'is_revoked')::boolean = false
               AND (a.details->'after'->>'is_revoked')::boolean = true
               AND a.details->'after'->>'customer_id' = $1",
            revoked["customer_id"].as_str().unwrap(),
        )
        .await;
    assert!(grant_repairs >= 1, "no audited grant revocation");
    assert_eq!(world.plan("revoked_user").await, "free");

    // Product metadata: Polar's newer version restored, audited with the stale metadata.
    let audits = world.repairs(&format!("product:{premium}")).await;
    let last = audits.last().unwrap();
    assert_eq!(last["before"]["metadata"]["plan"], "legacy");
    assert_eq!(last["after"]["metadata"]["plan"], "premium");
    assert_eq!(world.plan("renewed_user").await, "premium");

    // Every rebuilt snapshot is queued for publication.
    let queued: i64 = world
        .scalar(
            "SELECT count(DISTINCT customer) FROM publish_outbox
             WHERE customer = ANY(string_to_array($1, ','))",
            "status_user,upgrade_user,deleted_user,revoked_user",
        )
        .await;
    assert_eq!(queued, 4);

    // And repairing is idempotent.
    let settled = world.reconcile(Mode::Full).await.unwrap();
    assert_eq!((settled.repaired, settled.failed), (0, 0), "{settled:?}");
    world.finish().await;
}

#[tokio::test]
async fn incremental_syncs_find_new_orders_and_ended_subscriptions() {
    let sim = simulator(RateLimit::off()).await;
    let ending = sim.subscribe("ending_user", "premium").unwrap();
    let renewing = sim.subscribe("renewing_user", "premium").unwrap();
    let world = World::new(&sim, client(&sim)).await;
    world.reconcile(Mode::Full).await.unwrap();

    sim.drift(Action::DriftSubscription {
        subscription: id(&ending),
        status: Some(SubscriptionStatus::Unpaid),
        product: None,
        cancel_at_period_end: None,
        current_period_end: None,
    })
    .unwrap();
    sim.drift(Action::Cycle {
        subscription: id(&renewing),
        payment: polar_sim::Payment::default(),
    })
    .unwrap();
    world.clock.set(sim.now());

    // The order sync lists only recent orders and finds the renewal.
    let orders = order_sync::run_once(&world.deps, world.clock.now())
        .await
        .unwrap();
    let jobs::scheduler::Finished::Succeeded(counts) = orders else {
        panic!("order sync skipped: {orders:?}");
    };
    assert_eq!(counts["missing"], 1, "{counts}");

    // The subscription sync lists live subscriptions; the unpaid one is no longer among them,
    // so it is fetched by id and ends in tollgate too.
    let subscriptions = subscription_sync::run_once(&world.deps, world.clock.now())
        .await
        .unwrap();
    let jobs::scheduler::Finished::Succeeded(counts) = subscriptions else {
        panic!("subscription sync skipped");
    };
    assert!(counts["repaired"].as_u64().unwrap() >= 2, "{counts}");
    let status: String = world
        .scalar(
            "SELECT status FROM subscriptions WHERE id = $1",
            &id(&ending),
        )
        .await;
    assert_eq!(status, "unpaid");
    assert_eq!(world.plan("ending_user").await, "free");
    world.finish().await;
}

#[tokio::test]
async fn a_storm_of_429s_slows_a_reconcile_but_does_not_fail_it() {
    // Two requests a second: every resource's second page waits out a 429.
    let sim = simulator(RateLimit {
        requests: 2,
        window: Duration::from_secs(1),
    })
    .await;
    sim.set_rate_limit(RateLimit::off());
    sim.run(Action::Populate {
        customers: 150,
        product: "premium".to_owned(),
        prefix: "storm_".to_owned(),
    })
    .unwrap();
    sim.set_rate_limit(RateLimit {
        requests: 2,
        window: Duration::from_secs(1),
    });
    let world = World::new(&sim, client(&sim)).await;

    let report = world.reconcile(Mode::Full).await.unwrap();
    assert_eq!(report.failed, 0, "{report:?}");
    let customers: i64 = world
        .scalar(
            "SELECT count(*) FROM customers WHERE external_id LIKE $1",
            "storm\\_%",
        )
        .await;
    assert_eq!(customers, 150);
    let served: u64 = sim.request_counts().values().sum();
    assert!(
        world.polar().requests_sent() > served,
        "no request was refused with a 429: sent {}, served {served}",
        world.polar().requests_sent()
    );
    assert_eq!(world.polar().breaker_state(), BreakerState::Closed);
    assert_eq!(world.polar().breaker_openings(), 0);
    world.finish().await;
}

#[tokio::test]
async fn the_circuit_opens_when_polar_fails_and_closes_when_it_is_back() {
    let sim = simulator(RateLimit::off()).await;
    sim.subscribe("circuit_user", "premium").unwrap();
    let address = sim.addr();
    let token = sim.access_token().to_owned();
    let mut config = client(&sim);
    config.max_attempts = 2;
    config.breaker_threshold = 3;
    config.breaker_cool_down = Duration::from_secs(30);
    let world = World::new(&sim, config).await;

    // Polar goes away: every request fails.
    sim.shutdown().await;
    let error = world.reconcile(Mode::Full).await.unwrap_err();
    assert!(matches!(error, ReconcileError::List { .. }), "{error}");
    let error = world.reconcile(Mode::Full).await.unwrap_err();
    assert_eq!(world.polar().breaker_state(), BreakerState::Open);
    assert_eq!(world.polar().breaker_openings(), 1);

    // While open, calls fail at once without reaching Polar.
    let sent = world.polar().requests_sent();
    let error_now = world.reconcile(Mode::Full).await.unwrap_err();
    assert!(
        matches!(
            error_now,
            ReconcileError::List {
                source: PolarError::CircuitOpen { .. },
                ..
            }
        ),
        "{error_now} (before: {error})"
    );
    assert_eq!(world.polar().requests_sent(), sent);

    // The health check says so, as alerts.
    health_check::run_once(&world.deps, world.clock.now())
        .await
        .unwrap();
    let alerts: Vec<String> = health::open_alerts(&world.pool)
        .await
        .unwrap()
        .into_iter()
        .map(|alert| alert.kind)
        .collect();
    assert!(alerts.contains(&"polar_circuit".to_owned()), "{alerts:?}");
    assert!(alerts.contains(&"polar".to_owned()), "{alerts:?}");

    // Polar is back, and the cool-down passes: one trial call closes the circuit.
    let sim = Sim::start(SimConfig {
        listen: address,
        access_token: token,
        seed_catalog: true,
        rate_limit: RateLimit::off(),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    sim.subscribe("circuit_user", "premium").unwrap();
    world
        .clock
        .set(world.clock.now() + chrono::Duration::seconds(30));
    assert_eq!(world.polar().breaker_state(), BreakerState::HalfOpen);
    let report = world.reconcile(Mode::Full).await.unwrap();
    assert_eq!(report.failed, 0);
    assert_eq!(world.polar().breaker_state(), BreakerState::Closed);
    assert_eq!(world.plan("circuit_user").await, "premium");

    health_check::run_once(&world.deps, world.clock.now())
        .await
        .unwrap();
    let open: Vec<String> = health::open_alerts(&world.pool)
        .await
        .unwrap()
        .into_iter()
        .map(|alert| alert.kind)
        .filter(|kind| kind.starts_with("polar"))
        .collect();
    assert!(open.is_empty(), "{open:?}");
    world.finish().await;
}
