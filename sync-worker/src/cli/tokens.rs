//! `tollgate tokens create|list|revoke`: the `/v1` API's tokens.

use super::instant;
use crate::app;
use crate::auth::{self, Role};
use crate::clock::Clock;
use crate::config::DatabaseConfig;
use crate::db::{self, MIGRATOR};
use anyhow::Context as _;
use clap::{Args, Subcommand};
use secrecy::ExposeSecret;

/// The actor the command line's changes are audited under.
pub(crate) const CLI_ACTOR: &str = "cli";

#[derive(Debug, Subcommand)]
pub(crate) enum TokensCommand {
    /// Make a token; its secret is printed once and only its SHA-256 is stored.
    Create(CreateArgs),
    /// List the tokens (never their secrets).
    List(DatabaseOnly),
    /// Revoke the live token with this name.
    Revoke(RevokeArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// A name for the token, e.g. the app or person using it.
    #[arg(long)]
    pub(crate) name: String,
    /// app (check, usage, billing), viewer (read admin and analytics), support (grants,
    /// adjustments, replay, revoke now) or admin (refunds, tokens, API keys).
    #[arg(long, value_enum)]
    pub(crate) role: Role,
    #[command(flatten)]
    pub(crate) database: DatabaseConfig,
}

#[derive(Debug, Args)]
pub(crate) struct DatabaseOnly {
    #[command(flatten)]
    pub(crate) database: DatabaseConfig,
}

#[derive(Debug, Args)]
pub(crate) struct RevokeArgs {
    /// The token's name.
    pub(crate) name: String,
    #[command(flatten)]
    pub(crate) database: DatabaseConfig,
}

pub(crate) async fn run(command: TokensCommand) -> anyhow::Result<()> {
    let database = match &command {
        TokensCommand::Create(args) => &args.database,
        TokensCommand::List(args) => &args.database,
        TokensCommand::Revoke(args) => &args.database,
    };
    let pool = app::connect(&database.url, 1).await?;
    MIGRATOR
        .run(&pool)
        .await
        .context("DATABASE_URL: migrating the database")?;
    let mut conn = pool.acquire().await?;
    let now = Clock::system().now();
    match command {
        TokensCommand::Create(args) => {
            let (row, secret) =
                auth::create(&mut conn, &args.name, args.role, CLI_ACTOR, now).await?;
            println!("token `{}` created, role {}.", row.name, row.role);
            println!("Its secret, shown this once (only its SHA-256 is kept):");
            println!("{}", secret.expose_secret());
        }
        TokensCommand::List(_) => {
            let rows = db::api_tokens::list(&mut conn).await?;
            println!(
                "{:<24} {:<8} {:<21} {:<12} revoked",
                "name", "role", "created", "by"
            );
            for row in rows {
                println!(
                    "{:<24} {:<8} {:<21} {:<12} {}",
                    row.name,
                    row.role,
                    instant(row.created_at),
                    row.created_by,
                    row.revoked_at
                        .map(instant)
                        .unwrap_or_else(|| "-".to_owned())
                );
            }
        }
        TokensCommand::Revoke(args) => {
            let row = auth::revoke(&mut conn, &args.name, CLI_ACTOR, now).await?;
            println!(
                "token `{}` (role {}) revoked; it no longer opens /v1.",
                row.name, row.role
            );
        }
    }
    Ok(())
}
