//! # tollgate-edge
//!
//! tollgate's Cloudflare Worker: identifies the caller, loads the customer's snapshot from
//! Workers KV (through an in-isolate cache), asks the engine, then proxies, refuses or answers.
//! Allowed metered requests become usage events, shipped through a Cloudflare Queue to the
//! sync worker. See `edge-worker/README.md` for configuration and deployment.
//!
//! This file holds only the event glue; the pure parts (`rules`, `identity`, `gate`,
//! `metering`, `publish`, `store::cache`) are tested natively with `cargo test`.

pub mod config;
pub mod error;
pub mod gate;
pub mod handlers;
pub mod identity;
pub mod isolate;
pub mod leases;
pub mod metering;
pub mod policy;
pub mod proxy;
pub mod publish;
pub mod rules;
pub mod store;
pub mod sync_api;
pub mod usage_queue;

use worker::{Context, Env, MessageBatch, Request, Response, event};

use crate::error::AppError;
use crate::metering::UsageEvent;

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    match handlers::handle(req, env, ctx).await {
        Ok(response) => Ok(response),
        Err(error) => error_response(&error),
    }
}

#[event(queue)]
async fn queue(batch: MessageBatch<UsageEvent>, env: Env, _ctx: Context) -> worker::Result<()> {
    let config = isolate::config(&env).map_err(|e| worker::Error::RustError(e.to_string()))?;
    usage_queue::deliver(batch, &config).await
}

/// The one place an error becomes a response.
fn error_response(error: &AppError) -> worker::Result<Response> {
    if error.is_internal() {
        worker::console_error!("{error}");
    }
    handlers::json_response(&error.body(), error.status())
        .or_else(|_| Response::error("internal error", 500))
}
