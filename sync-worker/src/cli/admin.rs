//! `tollgate export …` and `tollgate keys create|list|revoke`: the admin API's exports and edge
//! API keys, from the command line (audited as actor `cli`).

use super::instant;
use crate::admin::exports::{self, Export, Range};
use crate::admin::{Actor, AdminError, api_keys};
use crate::app;
use crate::clock::Clock;
use crate::config::DatabaseConfig;
use crate::db::MIGRATOR;
use anyhow::Context as _;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use secrecy::ExposeSecret;
use std::io::Write as _;

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// What to export.
    #[arg(value_enum)]
    pub(crate) export: Export,
    /// From this date (2026-12-01) or instant (RFC 3339), inclusive.
    #[arg(long)]
    pub(crate) from: Option<String>,
    /// Until this date or instant, exclusive.
    #[arg(long)]
    pub(crate) to: Option<String>,
    /// Write the CSV to this file (with a progress bar) instead of standard output.
    #[arg(long)]
    pub(crate) out: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub(crate) database: DatabaseConfig,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Make an edge API key for a customer; the key is printed once.
    Create(KeyCreateArgs),
    /// List the keys (never the keys themselves).
    List(KeyListArgs),
    /// Revoke a key by its id: it is deleted from Workers KV.
    Revoke(KeyRevokeArgs),
}

#[derive(Debug, Args)]
pub(crate) struct KeyCreateArgs {
    /// The customer (the app's user id) the key identifies.
    pub(crate) customer: String,
    /// A name for the key, e.g. where it is used.
    #[arg(long)]
    pub(crate) name: String,
    #[command(flatten)]
    pub(crate) database: DatabaseConfig,
}

#[derive(Debug, Args)]
pub(crate) struct KeyListArgs {
    /// Only this customer's keys.
    #[arg(long)]
    pub(crate) customer: Option<String>,
    #[command(flatten)]
    pub(crate) database: DatabaseConfig,
}

#[derive(Debug, Args)]
pub(crate) struct KeyRevokeArgs {
    /// The key's id (from `tollgate keys list`).
    pub(crate) id: i64,
    #[command(flatten)]
    pub(crate) database: DatabaseConfig,
}

fn refused(error: AdminError) -> anyhow::Error {
    match error {
        AdminError::Refused { message, .. } => anyhow::anyhow!(message),
        other => anyhow::Error::new(other),
    }
}

pub(crate) async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let range = Range::parse(args.from.as_deref(), args.to.as_deref()).map_err(refused)?;
    let pool = app::connect(&args.database.url, 1).await?;
    match &args.out {
        Some(path) => {
            let mut file = std::io::BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("creating {}", path.display()))?,
            );
            let progress = ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} {msg}: {pos} rows ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            progress.set_message(args.export.name());
            let mut failed = None;
            let rows = exports::write(&pool, args.export, range, |bytes, rows| {
                let ok = match file.write_all(&bytes) {
                    Ok(()) => true,
                    Err(error) => {
                        failed = Some(error);
                        false
                    }
                };
                progress.set_position(rows);
                std::future::ready(ok)
            })
            .await?;
            if let Some(error) = failed {
                return Err(error).with_context(|| format!("writing {}", path.display()));
            }
            file.flush()?;
            progress.finish_and_clear();
            eprintln!("{rows} rows written to {}", path.display());
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            let mut failed = None;
            exports::write(&pool, args.export, range, |bytes, _| {
                let ok = match stdout.write_all(&bytes) {
                    Ok(()) => true,
                    Err(error) => {
                        failed = Some(error);
                        false
                    }
                };
                std::future::ready(ok)
            })
            .await?;
            if let Some(error) = failed {
                return Err(error).context("writing to standard output");
            }
            stdout.flush()?;
        }
    }
    Ok(())
}

pub(crate) async fn keys(command: KeysCommand) -> anyhow::Result<()> {
    let database = match &command {
        KeysCommand::Create(args) => &args.database,
        KeysCommand::List(args) => &args.database,
        KeysCommand::Revoke(args) => &args.database,
    };
    let pool = app::connect(&database.url, 1).await?;
    MIGRATOR
        .run(&pool)
        .await
        .context("DATABASE_URL: migrating the database")?;
    let now = Clock::system().now();
    let by = Actor::cli();
    match command {
        KeysCommand::Create(args) => {
            let (row, key) = api_keys::create(&pool, &by, &args.customer, &args.name, now)
                .await
                .map_err(refused)?;
            println!("{}", key.expose_secret());
            eprintln!(
                "key {} `{}` of customer `{}` made; it is shown only now, and reaches the edge with the next publish",
                row.id, row.name, row.customer
            );
        }
        KeysCommand::List(args) => {
            let rows = api_keys::list(&pool, args.customer.as_deref())
                .await
                .map_err(refused)?;
            println!(
                "{:>6}  {:<24} {:<24} {:<20} {:<14} revoked",
                "id", "customer", "name", "created", "by"
            );
            for row in rows {
                println!(
                    "{:>6}  {:<24} {:<24} {:<20} {:<14} {}",
                    row.id,
                    row.customer,
                    row.name,
                    instant(row.created_at),
                    row.created_by,
                    row.revoked_at.map(instant).unwrap_or_default()
                );
            }
        }
        KeysCommand::Revoke(args) => {
            let row = api_keys::revoke(&pool, &by, args.id, now)
                .await
                .map_err(refused)?;
            println!(
                "key {} `{}` of customer `{}` revoked",
                row.id, row.name, row.customer
            );
        }
    }
    Ok(())
}
