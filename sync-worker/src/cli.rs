//! The `tollgate` command line: its commands and what each one does.

mod admin;
mod analytics;
mod billing;
mod events;
mod tokens;

use crate::app::{self, App};
use crate::clock::Clock;
use crate::config::{CatalogConfig, Config, DatabaseConfig, PolarConfig};
use crate::db::{self, MIGRATOR};
use crate::error::error_chain;
use crate::health;
use crate::jobs::full_reconcile;
use crate::jobs::scheduler::{Finished, runs};
use crate::reconcile::terminal::TerminalProgress;
use crate::reconcile::{Mode, Reconciler, Report, Resource};
use crate::webhooks;
use anyhow::{Context as _, bail};
use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use std::sync::Arc;

/// An instant as the listings print it: UTC to the second, `2026-11-05T14:03:00Z`.
fn instant(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// tollgate: Polar subscriptions in, entitlement snapshots out.
#[derive(Debug, Parser)]
#[command(name = "tollgate", version, about, long_about = None)]
pub struct Cli {
    /// How logs are written: `pretty` for people, `json` for log collectors.
    #[arg(
        long,
        env = "TOLLGATE_LOG_FORMAT",
        value_name = "TOLLGATE_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Pretty,
        global = true
    )]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

impl Cli {
    /// How logs are to be written.
    pub fn log_format(&self) -> LogFormat {
        self.log_format
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the service: Polar webhooks, the /v1 API and health probes (migrates first).
    Serve(Box<Config>),
    /// Apply the database migrations and exit.
    Migrate(DatabaseConfig),
    /// Print a customer's current entitlement snapshot as JSON.
    Snapshot(SnapshotArgs),
    /// Inspect and replay stored Polar webhooks.
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
    /// Reports as CSV.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Compare one Polar resource (or all) with the database and repair drift, now.
    Sync(SyncArgs),
    /// Full reconcile: every product, customer, subscription, order and benefit grant.
    Reconcile(ReconcileArgs),
    /// Check the database, Polar, the outbox and webhooks; raise alerts; exit 1 on a problem.
    Health(HealthArgs),
    /// Tokens of the /v1 API and their roles.
    #[command(subcommand)]
    Tokens(tokens::TokensCommand),
    #[command(flatten)]
    Billing(billing::BillingCommand),
    /// Stream customers, subscriptions, orders, usage or the audit log as CSV.
    Export(admin::ExportArgs),
    /// The edge worker's API keys.
    #[command(subcommand)]
    Keys(admin::KeysCommand),
    /// Events for the app (entitlements.updated, usage.threshold_reached, payment.failed,
    /// subscription.ending) and their delivery.
    #[command(subcommand)]
    Events(events::EventsCommand),
}

/// What `tollgate sync` reconciles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SyncTarget {
    Products,
    Customers,
    Subscriptions,
    Orders,
    BenefitGrants,
    All,
}

#[derive(Debug, Args)]
pub(crate) struct SyncArgs {
    /// The Polar resource to reconcile.
    #[arg(value_enum)]
    pub(crate) target: SyncTarget,
    /// List only what may have changed (orders since the last sync, live subscriptions).
    #[arg(long)]
    pub(crate) incremental: bool,
    #[command(flatten)]
    pub(crate) reconcile: ReconcileArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ReconcileArgs {
    #[command(flatten)]
    pub(crate) database: DatabaseConfig,
    #[command(flatten)]
    pub(crate) catalog: CatalogConfig,
    #[command(flatten)]
    pub(crate) polar: PolarConfig,
}

#[derive(Debug, Args)]
pub(crate) struct HealthArgs {
    #[command(flatten)]
    pub(crate) database: DatabaseConfig,
    #[command(flatten)]
    pub(crate) polar: PolarConfig,
    /// Print the report as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ReportCommand {
    /// Usage of one UTC calendar month per customer and feature: events, units, overage units.
    Usage(UsageReportArgs),
    /// Revenue of one UTC calendar month per currency: MRR and its movements, churn, ARPU,
    /// LTV, payments, revenue and refunds (docs/analytics.md).
    Revenue(analytics::RevenueReportArgs),
}

#[derive(Debug, Args)]
pub(crate) struct UsageReportArgs {
    /// The month, YYYY-MM.
    #[arg(long)]
    pub(crate) month: crate::usage::report::Month,
    /// Write the CSV to this file instead of standard output.
    #[arg(long)]
    pub(crate) out: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub(crate) database: DatabaseConfig,
}

#[derive(Debug, Args)]
pub(crate) struct SnapshotArgs {
    /// The customer's external id in Polar (the app's user id).
    pub(crate) customer: String,
    #[command(flatten)]
    pub(crate) database: DatabaseConfig,
}

#[derive(Debug, Subcommand)]
pub(crate) enum WebhooksCommand {
    /// List the newest stored webhooks, or only the failed ones.
    List(ListArgs),
    /// Apply stored webhooks again: one by its webhook-id, or every failed one.
    Replay(ReplayArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only webhooks whose apply failed and waits for a retry.
    #[arg(long)]
    pub(crate) failed: bool,
    /// At most this many, newest first.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..=10_000))]
    pub(crate) limit: i64,
    #[command(flatten)]
    pub(crate) database: DatabaseConfig,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("which").required(true).args(["webhook_id", "failed"])))]
pub(crate) struct ReplayArgs {
    /// The `webhook-id` of the delivery to apply again.
    pub(crate) webhook_id: Option<String>,
    /// Apply every failed webhook again, oldest first.
    #[arg(long)]
    pub(crate) failed: bool,
    #[command(flatten)]
    pub(crate) database: DatabaseConfig,
    #[command(flatten)]
    pub(crate) catalog: CatalogConfig,
}

/// Runs one command to completion.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(config) => serve(*config).await,
        Command::Migrate(database) => migrate(&database).await,
        Command::Snapshot(args) => snapshot(&args).await,
        Command::Webhooks(WebhooksCommand::List(args)) => list(&args).await,
        Command::Webhooks(WebhooksCommand::Replay(args)) => replay(&args).await,
        Command::Report(ReportCommand::Usage(args)) => usage_report(&args).await,
        Command::Report(ReportCommand::Revenue(args)) => analytics::revenue_report(&args).await,
        Command::Sync(args) => {
            let (resources, job) = match args.target {
                SyncTarget::Products => (vec![Resource::Products], "sync.products"),
                SyncTarget::Customers => (vec![Resource::Customers], "sync.customers"),
                SyncTarget::Subscriptions => (vec![Resource::Subscriptions], "sync.subscriptions"),
                SyncTarget::Orders => (vec![Resource::Orders], "sync.orders"),
                SyncTarget::BenefitGrants => (vec![Resource::BenefitGrants], "sync.benefit_grants"),
                SyncTarget::All => (Resource::ALL.to_vec(), "sync.all"),
            };
            let mode = if args.incremental {
                Mode::Incremental
            } else {
                Mode::Full
            };
            reconcile(&args.reconcile, &resources, mode, job).await
        }
        Command::Reconcile(args) => reconcile(&args, &Resource::ALL, Mode::Full, "reconcile").await,
        Command::Health(args) => health(&args).await,
        Command::Tokens(command) => tokens::run(command).await,
        Command::Billing(command) => billing::run(command).await,
        Command::Export(args) => admin::export(args).await,
        Command::Keys(command) => admin::keys(command).await,
        Command::Events(command) => events::run(command).await,
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let app = App::build(config).await?;
    tracing::info!(port = app.port(), "tollgate is serving");
    app.run_until(shutdown_signal())
        .await
        .context("serving HTTP")?;
    tracing::info!("tollgate stopped");
    Ok(())
}

async fn migrate(database: &DatabaseConfig) -> anyhow::Result<()> {
    let pool = app::connect(&database.url, 1).await?;
    MIGRATOR
        .run(&pool)
        .await
        .context("DATABASE_URL: migrating the database")?;
    println!(
        "database migrated ({} migrations known)",
        MIGRATOR.iter().count()
    );
    Ok(())
}

async fn snapshot(args: &SnapshotArgs) -> anyhow::Result<()> {
    let pool = app::connect(&args.database.url, 1).await?;
    let mut conn = pool.acquire().await?;
    let Some((_, snapshot)) = db::snapshots::current(&mut conn, &args.customer).await? else {
        bail!("no snapshot for customer `{}`", args.customer);
    };
    println!("{}", serde_json::to_string_pretty(&snapshot)?);
    Ok(())
}

async fn list(args: &ListArgs) -> anyhow::Result<()> {
    let pool = app::connect(&args.database.url, 1).await?;
    let mut conn = pool.acquire().await?;
    let rows = db::webhook_events::list(&mut conn, args.failed, args.limit).await?;
    println!(
        "{:<38} {:<26} {:<9} {:>8}  {:<20} {:<20} error",
        "webhook-id", "type", "status", "attempts", "received", "next attempt"
    );
    for row in rows {
        println!(
            "{:<38} {:<26} {:<9} {:>8}  {:<20} {:<20} {}",
            row.webhook_id,
            row.event_type,
            row.status,
            row.attempts,
            instant(row.received_at),
            row.next_attempt_at.map(instant).unwrap_or_default(),
            row.last_error.unwrap_or_default()
        );
    }
    Ok(())
}

async fn replay(args: &ReplayArgs) -> anyhow::Result<()> {
    let catalog = app::load_catalog(&args.catalog.path)?;
    let pool = app::connect(&args.database.url, 1).await?;
    let webhook_ids = match &args.webhook_id {
        Some(id) => vec![id.clone()],
        None => {
            let mut conn = pool.acquire().await?;
            db::webhook_events::failed_webhook_ids(&mut conn).await?
        }
    };
    let clock = Clock::system();
    let mut missing = false;
    for webhook_id in &webhook_ids {
        match webhooks::replay(&pool, &catalog, webhook_id, "cli", clock.now()).await? {
            Some(outcome) => println!("{webhook_id}: {}", outcome.as_str()),
            None => {
                eprintln!("{webhook_id}: no such webhook");
                missing = true;
            }
        }
    }
    if webhook_ids.is_empty() {
        println!("no failed webhooks");
    }
    if missing {
        bail!("some webhooks were not found");
    }
    Ok(())
}

async fn usage_report(args: &UsageReportArgs) -> anyhow::Result<()> {
    let pool = app::connect(&args.database.url, 1).await?;
    let lines = crate::usage::report::lines(&pool, args.month)
        .await
        .context("reading usage")?;
    match &args.out {
        Some(path) => {
            let mut file = std::io::BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("creating {}", path.display()))?,
            );
            crate::usage::report::write_csv(&mut file, args.month, &lines)?;
            std::io::Write::flush(&mut file)?;
            eprintln!("{} lines written to {}", lines.len(), path.display());
        }
        None => {
            let stdout = std::io::stdout();
            crate::usage::report::write_csv(&mut stdout.lock(), args.month, &lines)?;
        }
    }
    Ok(())
}

/// Reconciles `resources` by hand with a progress display, records the run as job `job`, and
/// prints a summary.
async fn reconcile(
    args: &ReconcileArgs,
    resources: &[Resource],
    mode: Mode,
    job: &str,
) -> anyhow::Result<()> {
    let catalog = Arc::new(app::load_catalog(&args.catalog.path)?);
    let pool = app::connect(&args.database.url, 4).await?;
    MIGRATOR
        .run(&pool)
        .await
        .context("DATABASE_URL: migrating the database")?;
    let clock = Clock::system();
    let Some(polar) = app::polar_client(&args.polar, &clock)? else {
        bail!("POLAR_ORGANIZATION_TOKEN is required to reconcile with Polar");
    };
    let reconciler = Reconciler {
        pool: pool.clone(),
        catalog,
        polar,
    };
    let started = clock.now();
    let runner = format!("cli-pid{}", std::process::id());
    runs::claim(&pool, job, started, "manual", &runner, started).await?;
    let clock_start = std::time::Instant::now();
    let result = {
        let progress = TerminalProgress::new();
        reconciler.run(resources, mode, started, &progress).await
    };
    let elapsed = clock_start.elapsed();
    let recorded = match &result {
        Ok(reports) => Ok(Finished::Succeeded(full_reconcile::counts(reports))),
        Err(error) => Err(anyhow::anyhow!(error_chain(error))),
    };
    runs::finish(&pool, job, started, clock.now(), &recorded).await?;
    let reports = result?;
    let mut total = Report::default();
    for (_, report) in &reports {
        total.add(report);
    }
    println!(
        "{job}: fetched {}, repaired {} (missing {}, outdated {}, deleted {}), failed {}, {} requests to Polar, {:.1} s",
        total.fetched,
        total.repaired,
        total.missing,
        total.outdated,
        total.deleted,
        total.failed,
        total.requests,
        elapsed.as_secs_f64()
    );
    if total.failed > 0 {
        bail!(
            "{} objects could not be repaired (see the log)",
            total.failed
        );
    }
    Ok(())
}

async fn health(args: &HealthArgs) -> anyhow::Result<()> {
    let clock = Clock::system();
    let polar = app::polar_client(&args.polar, &clock)?;
    let pool = app::connect(&args.database.url, 2).await?;
    let now = clock.now();
    let report = health::check(&pool, polar.as_ref(), now).await;
    if report.get("database").is_some_and(|check| check.ok) {
        health::record(&pool, &report, now).await?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for check in &report.checks {
            let mark = if check.ok { "ok" } else { "PROBLEM" };
            println!("{:<16} {:<8} {}", check.name, mark, check.detail);
        }
    }
    if !report.healthy() {
        bail!("{} health problems", report.problems().count());
    }
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM, so that in-flight requests finish before exit.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
