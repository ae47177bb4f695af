//! `tollgate events list`: the events queued for the app and whether they were delivered.

use super::instant;
use crate::app;
use crate::config::DatabaseConfig;
use crate::db;
use clap::{Args, Subcommand, ValueEnum};

#[derive(Debug, Subcommand)]
pub(crate) enum EventsCommand {
    /// List the newest events for the app (TOLLGATE_EVENTS_URL), with their delivery.
    List(ListArgs),
}

/// Which events to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Status {
    /// Not delivered yet: waiting for their first attempt or for a retry.
    Pending,
    /// Taken by the app (it answered 2xx).
    Delivered,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only events in this state.
    #[arg(long, value_enum)]
    pub(crate) status: Option<Status>,
    /// At most this many, newest first.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..=10_000))]
    pub(crate) limit: i64,
    #[command(flatten)]
    pub(crate) database: DatabaseConfig,
}

pub(crate) async fn run(command: EventsCommand) -> anyhow::Result<()> {
    let EventsCommand::List(args) = command;
    let pool = app::connect(&args.database.url, 1).await?;
    let mut conn = pool.acquire().await?;
    let delivered = args.status.map(|status| status == Status::Delivered);
    let rows = db::app_events::list(&mut conn, delivered, args.limit).await?;
    println!(
        "{:<36} {:<24} {:<24} {:<9} {:>8}  {:<20} {:<20} error",
        "webhook-id", "type", "customer", "status", "attempts", "created", "delivered / next"
    );
    for row in rows {
        let (status, when) = match row.delivered_at {
            Some(at) => ("delivered", instant(at)),
            None => ("pending", instant(row.next_attempt_at)),
        };
        println!(
            "{:<36} {:<24} {:<24} {:<9} {:>8}  {:<20} {:<20} {}",
            row.event_id,
            row.kind,
            row.customer,
            status,
            row.attempts,
            instant(row.created_at),
            when,
            row.last_error.unwrap_or_default()
        );
    }
    Ok(())
}
