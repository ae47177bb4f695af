//! `polar-sim`: run the Polar simulator, or drive a running one.

mod cli;

use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use cli::{Cli, Command, Serve, WebhookCommand, call, print, step_body};
use polar_sim::webhook::delivery::DeliveryConfig;
use polar_sim::{Endpoint, Proration, RateLimit, Sim, SimConfig};
use serde_json::json;

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
