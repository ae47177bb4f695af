//! The billing calls from the command line: the same operations as the HTTP API
//! ([`crate::billing`]), run directly against the database and Polar and audited as actor
//! `cli`, role `admin`.

use super::tokens::CLI_ACTOR;
use crate::app;
use crate::billing::{Billing, Done, OrdersQuery, Proration};
use crate::clock::Clock;
use crate::config::{CatalogConfig, DatabaseConfig, PolarConfig};
use crate::db::{self, MIGRATOR};
use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::sync::Arc;

#[derive(Debug, Subcommand)]
pub(crate) enum BillingCommand {
    /// Polar customers.
    #[command(subcommand)]
    Customers(CustomersCommand),
    /// Open a Polar checkout of a plan for a customer; prints its URL.
    Checkout(CheckoutArgs),
    /// Open a customer portal session; prints its URL.
    Portal(PortalArgs),
    /// Move a customer's subscription to another plan (the default plan: cancel at period end).
    Plan(PlanArgs),
    /// Cancel a customer's subscription at the period end, or now with --now.
    Cancel(CancelArgs),
    /// Take back a cancellation at the period end.
    Uncancel(CustomerArgs),
    /// A customer's orders (invoice history), newest first.
    Orders(OrdersArgs),
    /// Refund an order, whole or in part.
    Refund(RefundArgs),
}

#[derive(Debug, Subcommand)]
pub(crate) enum CustomersCommand {
    /// Make the Polar customer for an app user (nothing if it exists).
    Create(CreateCustomerArgs),
}

/// What every billing command needs: the database, the catalog and Polar.
#[derive(Debug, Args)]
pub(crate) struct Connection {
    #[command(flatten)]
    pub(crate) database: DatabaseConfig,
    #[command(flatten)]
    pub(crate) catalog: CatalogConfig,
    #[command(flatten)]
    pub(crate) polar: PolarConfig,
}

#[derive(Debug, Args)]
pub(crate) struct CreateCustomerArgs {
    /// The app's user id (Polar's external_id).
    pub(crate) customer: String,
    #[arg(long)]
    pub(crate) email: String,
    #[arg(long)]
    pub(crate) name: Option<String>,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

#[derive(Debug, Args)]
pub(crate) struct CheckoutArgs {
    pub(crate) customer: String,
    /// The catalog's plan key, e.g. premium.
    pub(crate) plan: String,
    /// Where Polar sends the buyer after paying ({CHECKOUT_ID} is replaced).
    #[arg(long)]
    pub(crate) success_url: String,
    #[arg(long)]
    pub(crate) return_url: Option<String>,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

#[derive(Debug, Args)]
pub(crate) struct PortalArgs {
    pub(crate) customer: String,
    #[arg(long)]
    pub(crate) return_url: Option<String>,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    pub(crate) customer: String,
    pub(crate) plan: String,
    /// How the difference is billed.
    #[arg(long, value_enum, default_value_t = Proration::Prorate)]
    pub(crate) proration: Proration,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

#[derive(Debug, Args)]
pub(crate) struct CancelArgs {
    pub(crate) customer: String,
    /// Revoke now instead of at the period end.
    #[arg(long)]
    pub(crate) now: bool,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

#[derive(Debug, Args)]
pub(crate) struct CustomerArgs {
    pub(crate) customer: String,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

#[derive(Debug, Args)]
pub(crate) struct OrdersArgs {
    pub(crate) customer: String,
    /// At most this many orders.
    #[arg(long, default_value_t = 20)]
    pub(crate) limit: i64,
    /// The `next` cursor printed by the previous page.
    #[arg(long)]
    pub(crate) cursor: Option<String>,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

#[derive(Debug, Args)]
pub(crate) struct RefundArgs {
    /// The order's Polar id.
    pub(crate) order: String,
    /// Minor units to refund (default: what is left of the order).
    #[arg(long)]
    pub(crate) amount: Option<i64>,
    /// duplicate, fraudulent, customer_request, service_disruption, satisfaction_guarantee,
    /// dispute_prevention or other.
    #[arg(long)]
    pub(crate) reason: String,
    #[arg(long)]
    pub(crate) comment: Option<String>,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

async fn billing(connection: &Connection) -> anyhow::Result<Billing> {
    let catalog = Arc::new(app::load_catalog(&connection.catalog.path)?);
    let pool = app::connect(&connection.database.url, 2).await?;
    MIGRATOR
        .run(&pool)
        .await
        .context("DATABASE_URL: migrating the database")?;
    let clock = Clock::system();
    let Some(polar) = app::polar_client(&connection.polar, &clock)? else {
        bail!("POLAR_ORGANIZATION_TOKEN is required for billing commands");
    };
    Ok(Billing {
        pool,
        catalog,
        polar: Some(polar),
        clock,
    })
}

/// Audits what a command did, as the API audits its calls.
async fn audit(billing: &Billing, done: &Done) -> anyhow::Result<()> {
    let mut conn = billing.pool.acquire().await?;
    let request_id = uuid::Uuid::now_v7().to_string();
    let entry = done.audit_entry(
        CLI_ACTOR,
        "admin",
        &request_id,
        json!({ "status": done.status }),
    );
    db::audit::record_entry(&mut conn, &entry, billing.clock.now()).await?;
    Ok(())
}

/// The text of the field at `pointer` (`-` when absent).
fn at(value: &Value, pointer: &str) -> String {
    text(value.pointer(pointer).unwrap_or(&Value::Null))
}

fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

pub(crate) async fn run(command: BillingCommand) -> anyhow::Result<()> {
    match command {
        BillingCommand::Customers(CustomersCommand::Create(args)) => {
            let billing = billing(&args.connection).await?;
            let done = billing
                .create_customer(&args.customer, &args.email, args.name.as_deref())
                .await?;
            audit(&billing, &done).await?;
            let verb = if done.status == 201 {
                "created"
            } else {
                "already exists:"
            };
            println!(
                "customer {} {verb} Polar customer {} <{}>",
                args.customer,
                at(&done.body, "/polar_id"),
                at(&done.body, "/email")
            );
        }
        BillingCommand::Checkout(args) => {
            let billing = billing(&args.connection).await?;
            let done = billing
                .checkout(
                    &args.customer,
                    &args.plan,
                    &args.success_url,
                    args.return_url.as_deref(),
                )
                .await?;
            audit(&billing, &done).await?;
            println!(
                "checkout {} of plan {} for {} (expires {}):\n{}",
                at(&done.body, "/id"),
                args.plan,
                args.customer,
                at(&done.body, "/expires_at"),
                at(&done.body, "/url")
            );
        }
        BillingCommand::Portal(args) => {
            let billing = billing(&args.connection).await?;
            let done = billing
                .portal(&args.customer, args.return_url.as_deref())
                .await?;
            audit(&billing, &done).await?;
            println!(
                "customer portal of {} (expires {}):\n{}",
                args.customer,
                at(&done.body, "/expires_at"),
                at(&done.body, "/url")
            );
        }
        BillingCommand::Plan(args) => {
            let billing = billing(&args.connection).await?;
            let done = billing
                .change_plan(&args.customer, &args.plan, args.proration)
                .await?;
            audit(&billing, &done).await?;
            println!(
                "subscription {} of {}: {} → {} ({}); the plan changes when Polar's webhook arrives",
                at(&done.body, "/subscription/id"),
                args.customer,
                at(&done.body, "/from"),
                at(&done.body, "/to"),
                args.proration.as_str()
            );
        }
        BillingCommand::Cancel(args) => {
            let billing = billing(&args.connection).await?;
            let done = billing.cancel(&args.customer, !args.now).await?;
            audit(&billing, &done).await?;
            let how = if args.now {
                "revoked"
            } else {
                "cancelled at the period end"
            };
            println!(
                "subscription {} of {} {how}; it ends {}",
                at(&done.body, "/subscription/id"),
                args.customer,
                at(&done.body, "/ends_at")
            );
        }
        BillingCommand::Uncancel(args) => {
            let billing = billing(&args.connection).await?;
            let done = billing.uncancel(&args.customer).await?;
            audit(&billing, &done).await?;
            println!(
                "subscription {} of {} renews again (period ends {})",
                at(&done.body, "/subscription/id"),
                args.customer,
                at(&done.body, "/subscription/current_period_end")
            );
        }
        BillingCommand::Orders(args) => {
            let billing = billing(&args.connection).await?;
            let page = billing
                .orders(
                    &args.customer,
                    &OrdersQuery {
                        cursor: args.cursor.clone(),
                        limit: Some(args.limit),
                    },
                )
                .await?;
            println!(
                "{:<38} {:<21} {:<18} {:<22} {:>10} {:>10} {:<4} product",
                "order", "created", "status", "billing_reason", "amount", "refunded", "cur"
            );
            for item in &page.items {
                println!(
                    "{:<38} {:<21} {:<18} {:<22} {:>10} {:>10} {:<4} {}",
                    at(item, "/id"),
                    at(item, "/created_at").chars().take(19).collect::<String>() + "Z",
                    at(item, "/status"),
                    at(item, "/billing_reason"),
                    at(item, "/amount"),
                    at(item, "/refunded_amount"),
                    at(item, "/currency"),
                    at(item, "/product/name")
                );
            }
            if let Some(next) = page.next {
                println!("more: --cursor {next}");
            }
        }
        BillingCommand::Refund(args) => {
            let billing = billing(&args.connection).await?;
            let done = billing
                .refund(
                    &args.order,
                    args.amount,
                    &args.reason,
                    args.comment.as_deref(),
                )
                .await?;
            audit(&billing, &done).await?;
            println!(
                "refund {} of {} on order {}: {}",
                at(&done.body, "/id"),
                at(&done.body, "/amount"),
                args.order,
                at(&done.body, "/status")
            );
        }
    }
    Ok(())
}
