//! `tollgate export …`: the admin API's exports, from the command line.

use crate::admin::AdminError;
use crate::admin::exports::{self, Export, Range};
use crate::app;
use crate::config::DatabaseConfig;
use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write as _;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// What to export.
    #[arg(value_enum)]
    pub export: Export,
    /// From this date (2026-12-01) or instant (RFC 3339), inclusive.
    #[arg(long)]
    pub from: Option<String>,
    /// Until this date or instant, exclusive.
    #[arg(long)]
    pub to: Option<String>,
    /// Write the CSV to this file (with a progress bar) instead of standard output.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub database: DatabaseConfig,
}

fn refused(error: AdminError) -> anyhow::Error {
    match error {
        AdminError::Refused { message, .. } => anyhow::anyhow!(message),
        other => anyhow::Error::new(other),
    }
}

pub async fn export(args: ExportArgs) -> anyhow::Result<()> {
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
