//! `polar-sim`: run the Polar simulator, or drive a running one.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use polar_sim::webhook::delivery::DeliveryConfig;
use polar_sim::{Endpoint, Proration, RateLimit, SecretScheme, Sim, SimConfig, SubscriptionStatus};
use serde_json::{Value, json};

#[derive(Debug, Parser)]
#[command(
    name = "polar-sim",
    version,
    about = "An in-memory Polar for tests and local development"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the simulator.
    Serve(Serve),
    /// Drive a lifecycle step on a running simulator.
    Scenario {
        #[command(flatten)]
        target: Target,
        #[command(subcommand)]
        step: Step,
    },
    /// Steer or inspect webhook delivery on a running simulator.
    Webhooks {
        #[command(flatten)]
        target: Target,
        #[command(subcommand)]
        command: WebhookCommand,
    },
    /// Show a running simulator's clock, catalog and counts.
    Info {
        #[command(flatten)]
        target: Target,
    },
    /// Print a new webhook secret in Polar's format.
    Secret {
        #[arg(long, value_enum, default_value = "standard")]
        scheme: SecretScheme,
    },
}

#[derive(Debug, Args)]
struct Serve {
    /// Address to listen on (port 0 picks a free one; the chosen address is printed).
    #[arg(long, env = "POLAR_SIM_LISTEN", default_value = "127.0.0.1:8100")]
    listen: SocketAddr,
    /// The access token clients must send.
    #[arg(long, env = "POLAR_SIM_TOKEN", default_value = "polar_oat_simulator")]
    token: String,
    /// Load products matching examples/catalog.toml and a handful of customers.
    #[arg(long)]
    seed_demo: bool,
    /// Load only the demo catalog.
    #[arg(long, conflicts_with = "seed_demo")]
    seed_catalog: bool,
    /// Where to send webhooks.
    #[arg(long, env = "POLAR_SIM_WEBHOOK_URL", requires = "webhook_secret")]
    webhook_url: Option<String>,
    /// The endpoint's secret.
    #[arg(long, env = "POLAR_SIM_WEBHOOK_SECRET")]
    webhook_secret: Option<String>,
    /// How the secret becomes the HMAC key.
    #[arg(long, value_enum, default_value = "legacy")]
    secret_scheme: SecretScheme,
    /// Requests per minute per token (0 = unlimited).
    #[arg(long, default_value_t = 500)]
    rate_limit: u32,
    /// Webhook retry backoff base in milliseconds (Polar: 2000).
    #[arg(long, default_value_t = 2000)]
    retry_base_ms: u64,
    /// Start the simulated clock here (RFC 3339) instead of now.
    #[arg(long)]
    clock_start: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Args)]
struct Target {
    /// The running simulator.
    #[arg(
        long = "sim",
        env = "POLAR_SIM_URL",
        default_value = "http://127.0.0.1:8100",
        global = true
    )]
    url: String,
}

#[derive(Debug, Args)]
struct Common {
    /// Change the state without sending any webhook (drift).
    #[arg(long)]
    silent: bool,
}

#[derive(Debug, Subcommand)]
enum Step {
    /// Create a recurring product (with a feature-flag benefit carrying its metadata).
    Product {
        #[arg(long)]
        name: String,
        /// Price in minor units (cents) per period.
        #[arg(long)]
        price: i64,
        #[arg(long, value_parser = ["day", "week", "month", "year"], default_value = "month")]
        interval: String,
        /// The `plan` metadata that selects a catalog plan.
        #[arg(long)]
        plan: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Change a product.
    UpdateProduct {
        #[arg(long)]
        product: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        plan: Option<String>,
        #[arg(long)]
        archived: Option<bool>,
        #[arg(long)]
        price: Option<i64>,
        #[command(flatten)]
        common: Common,
    },
    /// Create a customer.
    Customer {
        #[arg(long)]
        external_id: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Buy a product through a checkout (the customer is created if unknown).
    Subscribe {
        #[arg(long)]
        customer: String,
        /// Product id, plan key (premium) or name.
        #[arg(long)]
        product: String,
        #[arg(long)]
        trial_days: Option<u32>,
        /// Skip the checkout.
        #[arg(long)]
        direct: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Move a subscription to another product.
    #[command(alias = "upgrade", alias = "downgrade")]
    ChangeProduct {
        #[arg(long)]
        subscription: String,
        #[arg(long)]
        product: String,
        #[arg(long, value_parser = ["invoice", "prorate", "next_period", "reset"], default_value = "prorate")]
        proration: String,
        #[command(flatten)]
        common: Common,
    },
    /// Cancel at the end of the period.
    Cancel {
        #[arg(long)]
        subscription: String,
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Remove a scheduled cancellation.
    Uncancel {
        #[arg(long)]
        subscription: String,
        #[command(flatten)]
        common: Common,
    },
    /// The renewal payment fails (past_due).
    FailPayment {
        #[arg(long)]
        subscription: String,
        #[command(flatten)]
        common: Common,
    },
    /// The past-due payment succeeds.
    Recover {
        #[arg(long)]
        subscription: String,
        #[command(flatten)]
        common: Common,
    },
    /// End the subscription now.
    Revoke {
        #[arg(long)]
        subscription: String,
        #[command(flatten)]
        common: Common,
    },
    /// Refund an order (by order id, subscription or customer: the latest order).
    Refund {
        #[arg(long)]
        order: String,
        #[arg(long)]
        amount: Option<i64>,
        #[arg(long)]
        revoke_benefits: bool,
        #[command(flatten)]
        common: Common,
    },
    /// The subscription reaches its period end now.
    Cycle {
        #[arg(long)]
        subscription: String,
        /// The renewal payment fails.
        #[arg(long)]
        fail: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Move the simulated clock forward.
    Advance {
        #[arg(long, default_value_t = 0)]
        days: i64,
        #[arg(long, default_value_t = 0)]
        hours: i64,
        #[arg(long, default_value_t = 0)]
        seconds: i64,
        #[arg(long)]
        to: Option<chrono::DateTime<chrono::Utc>>,
        #[command(flatten)]
        common: Common,
    },
    /// Delete a customer (its subscriptions are revoked).
    DeleteCustomer {
        #[arg(long)]
        customer: String,
        #[command(flatten)]
        common: Common,
    },
    /// Ingest usage events.
    Usage {
        #[arg(long)]
        customer: String,
        #[arg(long)]
        event: String,
        #[arg(long, default_value_t = 1)]
        count: u32,
        #[command(flatten)]
        common: Common,
    },
    /// Change a subscription directly, without any webhook.
    Drift {
        #[arg(long)]
        subscription: String,
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        product: Option<String>,
        #[arg(long)]
        cancel_at_period_end: Option<bool>,
    },
}

#[derive(Debug, Subcommand)]
enum WebhookCommand {
    /// Set the endpoint.
    Endpoint {
        #[arg(long)]
        url: String,
        #[arg(long)]
        secret: String,
        #[arg(long, value_enum, default_value = "legacy")]
        scheme: SecretScheme,
    },
    /// Inject a delivery fault for upcoming events.
    Fault {
        #[arg(long, value_parser = ["drop", "duplicate", "reorder", "delay"])]
        kind: String,
        #[arg(long, default_value_t = 1000)]
        delay_ms: u64,
        #[arg(long)]
        event_type: Option<String>,
        #[arg(long, default_value_t = 1)]
        count: u32,
    },
    /// Remove pending faults.
    ClearFaults,
    /// List events and their outcomes.
    Events,
    /// Wait until every queued event is delivered, failed or dropped.
    Settle,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "polar_sim=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Scenario { target, step } => {
            let (body, silent) = step_body(step)?;
            let mut body = body;
            if silent && let Some(map) = body.as_object_mut() {
                map.insert("silent".into(), json!(true));
            }
            print(
                call(
                    &target.url,
                    reqwest::Method::POST,
                    "/_sim/scenarios",
                    Some(body),
                )
                .await?,
            )
        }
        Command::Webhooks { target, command } => {
            let (method, path, body) = match command {
                WebhookCommand::Endpoint {
                    url,
                    secret,
                    scheme,
                } => (
                    reqwest::Method::PUT,
                    "/_sim/webhooks/endpoint",
                    Some(json!({"url": url, "secret": secret, "scheme": scheme})),
                ),
                WebhookCommand::Fault {
                    kind,
                    delay_ms,
                    event_type,
                    count,
                } => {
                    let mut rule = json!({"kind": kind, "event_type": event_type, "count": count});
                    if kind == "delay"
                        && let Some(map) = rule.as_object_mut()
                    {
                        map.insert("ms".into(), json!(delay_ms));
                    }
                    (reqwest::Method::POST, "/_sim/webhooks/faults", Some(rule))
                }
                WebhookCommand::ClearFaults => {
                    (reqwest::Method::DELETE, "/_sim/webhooks/faults", None)
                }
                WebhookCommand::Events => (reqwest::Method::GET, "/_sim/webhooks/events", None),
                WebhookCommand::Settle => (reqwest::Method::POST, "/_sim/webhooks/settle", None),
            };
            print(call(&target.url, method, path, body).await?)
        }
        Command::Info { target } => {
            print(call(&target.url, reqwest::Method::GET, "/_sim/info", None).await?)
        }
        Command::Secret { scheme } => {
            println!("{}", polar_sim::generate_secret(scheme));
            Ok(())
        }
    }
}

async fn serve(args: Serve) -> anyhow::Result<()> {
    let webhook = match (args.webhook_url, args.webhook_secret) {
        (Some(url), Some(secret)) => Some(Endpoint {
            url,
            secret,
            scheme: args.secret_scheme,
        }),
        (None, None) => None,
        _ => bail!("--webhook-url and --webhook-secret go together"),
    };
    let config = SimConfig {
        listen: args.listen,
        access_token: args.token,
        clock_start: args.clock_start,
        seed_demo: args.seed_demo,
        seed_catalog: args.seed_catalog,
        webhook,
        delivery: DeliveryConfig {
            retry_base: Duration::from_millis(args.retry_base_ms),
            ..DeliveryConfig::default()
        },
        rate_limit: RateLimit {
            requests: args.rate_limit,
            window: Duration::from_secs(60),
        },
        default_proration: Proration::default(),
    };
    let sim = Sim::start(config).await.context("starting the simulator")?;
    // One line on stdout so scripts can read the address when port 0 was asked for.
    println!(
        "polar-sim listening on {} (token {})",
        sim.base_url(),
        sim.access_token()
    );
    tokio::signal::ctrl_c()
        .await
        .context("waiting for ctrl-c")?;
    sim.shutdown().await;
    Ok(())
}

fn step_body(step: Step) -> anyhow::Result<(Value, bool)> {
    Ok(match step {
        Step::Product {
            name,
            price,
            interval,
            plan,
            common,
        } => (
            json!({"action": "create_product", "name": name, "price_amount": price, "interval": interval,
                   "metadata": plan.map_or_else(|| json!({}), |p| json!({"plan": p}))}),
            common.silent,
        ),
        Step::UpdateProduct {
            product,
            name,
            plan,
            archived,
            price,
            common,
        } => (
            json!({"action": "update_product", "product": product, "name": name,
                   "metadata": plan.map(|p| json!({"plan": p})), "is_archived": archived, "price_amount": price}),
            common.silent,
        ),
        Step::Customer {
            external_id,
            email,
            name,
            common,
        } => (
            json!({"action": "create_customer", "external_id": external_id, "email": email, "name": name}),
            common.silent,
        ),
        Step::Subscribe {
            customer,
            product,
            trial_days,
            direct,
            common,
        } => (
            json!({"action": "subscribe", "customer": customer, "product": product, "trial_days": trial_days, "direct": direct}),
            common.silent,
        ),
        Step::ChangeProduct {
            subscription,
            product,
            proration,
            common,
        } => (
            json!({"action": "change_product", "subscription": subscription, "product": product, "proration": proration}),
            common.silent,
        ),
        Step::Cancel {
            subscription,
            reason,
            common,
        } => (
            json!({"action": "cancel", "subscription": subscription, "reason": reason}),
            common.silent,
        ),
        Step::Uncancel {
            subscription,
            common,
        } => (
            json!({"action": "uncancel", "subscription": subscription}),
            common.silent,
        ),
        Step::FailPayment {
            subscription,
            common,
        } => (
            json!({"action": "fail_payment", "subscription": subscription}),
            common.silent,
        ),
        Step::Recover {
            subscription,
            common,
        } => (
            json!({"action": "recover", "subscription": subscription}),
            common.silent,
        ),
        Step::Revoke {
            subscription,
            common,
        } => (
            json!({"action": "revoke", "subscription": subscription}),
            common.silent,
        ),
        Step::Refund {
            order,
            amount,
            revoke_benefits,
            common,
        } => (
            json!({"action": "refund", "order": order, "amount": amount, "revoke_benefits": revoke_benefits}),
            common.silent,
        ),
        Step::Cycle {
            subscription,
            fail,
            common,
        } => (
            json!({"action": "cycle", "subscription": subscription, "payment": if fail { "fails" } else { "succeeds" }}),
            common.silent,
        ),
        Step::Advance {
            days,
            hours,
            seconds,
            to,
            common,
        } => (
            json!({"action": "advance", "days": days, "hours": hours, "seconds": seconds, "to": to}),
            common.silent,
        ),
        Step::DeleteCustomer { customer, common } => (
            json!({"action": "delete_customer", "customer": customer}),
            common.silent,
        ),
        Step::Usage {
            customer,
            event,
            count,
            common,
        } => (
            json!({"action": "usage", "customer": customer, "event": event, "count": count}),
            common.silent,
        ),
        Step::Drift {
            subscription,
            status,
            product,
            cancel_at_period_end,
        } => {
            if let Some(s) = &status {
                serde_json::from_value::<SubscriptionStatus>(json!(s))
                    .with_context(|| format!("unknown status {s:?}"))?;
            }
            (
                json!({"action": "drift_subscription", "subscription": subscription, "status": status,
                       "product": product, "cancel_at_period_end": cancel_at_period_end}),
                true,
            )
        }
    })
}

async fn call(
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let client = reqwest::Client::new();
    let mut req = client.request(method, &url);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.with_context(|| format!("calling {url}"))?;
    let status = resp.status();
    let text = resp.text().await.context("reading the answer")?;
    let value: Value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    if !status.is_success() {
        bail!("{status}: {value}");
    }
    Ok(value)
}

fn print(value: Value) -> anyhow::Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(&value).context("printing")?
    );
    Ok(())
}
