//! The command line: `serve` options and the commands that drive a running simulator through
//! its control API.

use std::net::SocketAddr;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use polar_sim::{SecretScheme, SubscriptionStatus};
use serde_json::{Value, json};

#[derive(Debug, Parser)]
#[command(
    name = "polar-sim",
    version,
    about = "An in-memory Polar for tests and local development"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
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
pub struct Serve {
    /// Address to listen on (port 0 picks a free one; the chosen address is printed).
    #[arg(long, env = "POLAR_SIM_LISTEN", default_value = "127.0.0.1:8100")]
    pub listen: SocketAddr,
    /// The access token clients must send.
    #[arg(long, env = "POLAR_SIM_TOKEN", default_value = "polar_oat_simulator")]
    pub token: String,
    /// Load products matching examples/catalog.toml and a handful of customers.
    #[arg(long)]
    pub seed_demo: bool,
    /// Load only the demo catalog.
    #[arg(long, conflicts_with = "seed_demo")]
    pub seed_catalog: bool,
    /// Where to send webhooks.
    #[arg(long, env = "POLAR_SIM_WEBHOOK_URL", requires = "webhook_secret")]
    pub webhook_url: Option<String>,
    /// The endpoint's secret.
    #[arg(long, env = "POLAR_SIM_WEBHOOK_SECRET")]
    pub webhook_secret: Option<String>,
    /// How the secret becomes the HMAC key.
    #[arg(long, value_enum, default_value = "legacy")]
    pub secret_scheme: SecretScheme,
    /// Requests per minute per token (0 = unlimited).
    #[arg(long, default_value_t = 500)]
    pub rate_limit: u32,
    /// Webhook retry backoff base in milliseconds (Polar: 2000).
    #[arg(long, default_value_t = 2000)]
    pub retry_base_ms: u64,
    /// Start the simulated clock here (RFC 3339) instead of now.
    #[arg(long)]
    pub clock_start: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Args)]
pub struct Target {
    /// The running simulator.
    #[arg(
        long = "sim",
        env = "POLAR_SIM_URL",
        default_value = "http://127.0.0.1:8100",
        global = true
    )]
    pub url: String,
}

#[derive(Debug, Args)]
pub struct Common {
    /// Change the state without sending any webhook (drift).
    #[arg(long)]
    pub silent: bool,
}

#[derive(Debug, Subcommand)]
pub enum Step {
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
    /// Change the seats of a seat-based subscription.
    Seats {
        #[arg(long)]
        subscription: String,
        #[arg(long)]
        seats: u32,
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
    /// Add N customers with active subscriptions, without webhooks (for benchmarks).
    Populate {
        #[arg(long)]
        customers: u32,
        #[arg(long)]
        product: String,
        #[arg(long, default_value = "user_bulk_")]
        prefix: String,
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
pub enum WebhookCommand {
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

pub fn step_body(step: Step) -> anyhow::Result<(Value, bool)> {
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
        Step::Seats {
            subscription,
            seats,
            proration,
            common,
        } => (
            json!({"action": "update_seats", "subscription": subscription, "seats": seats, "proration": proration}),
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
        Step::Populate {
            customers,
            product,
            prefix,
        } => (
            json!({"action": "populate", "customers": customers, "product": product, "prefix": prefix}),
            true,
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

pub async fn call(
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

pub fn print(value: Value) -> anyhow::Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(&value).context("printing")?
    );
    Ok(())
}
