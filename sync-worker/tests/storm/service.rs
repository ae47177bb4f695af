//! The real `tollgate serve` binary as a child process, so that it can be killed with SIGKILL
//! and started again on the same port, as a crashed replica would be.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

pub const API_TOKEN: &str = "storm-token-0123456789abcdef";

/// One `tollgate serve` at a time on a fixed port; dropping it kills the process.
pub struct Service {
    child: Child,
    database_url: String,
    secret: String,
    pub port: u16,
    /// Where the service's log goes (appended across restarts).
    pub log: PathBuf,
    pub kills: usize,
}

impl Service {
    /// Starts `tollgate serve` on `port` and waits until it is ready.
    pub async fn start(database_url: &str, secret: &str, port: u16, log: PathBuf) -> Self {
        let _ = std::fs::remove_file(&log);
        let child = spawn(database_url, secret, port, &log);
        let service = Self {
            child,
            database_url: database_url.to_owned(),
            secret: secret.to_owned(),
            port,
            log,
            kills: 0,
        };
        service.wait_ready().await;
        service
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SIGKILLs the process: no shutdown, requests in flight cut off.
    pub async fn kill(&mut self) {
        self.assert_running();
        self.child.kill().await.unwrap();
        self.kills += 1;
    }

    /// Starts a new process on the same port after [`Service::kill`] and waits until it is
    /// ready.
    pub async fn start_again(&mut self) {
        self.child = spawn(&self.database_url, &self.secret, self.port, &self.log);
        self.wait_ready().await;
    }

    /// Fails the test if the service exited on its own.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!(
                "tollgate serve exited by itself ({status}); see {}",
                self.log.display()
            );
        }
    }

    async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        let ready = format!("{}/readyz", self.url());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let answer = client.get(&ready).send().await;
            if answer.is_ok_and(|a| a.status().is_success()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "tollgate serve was not ready within a minute; see {}",
                self.log.display()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn spawn(database_url: &str, secret: &str, port: u16, log: &PathBuf) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("POLAR_WEBHOOK_SECRET", secret)
        .env("TOLLGATE_API_TOKEN", API_TOKEN)
        .env("TOLLGATE_CATALOG", super::catalog_path())
        .env("TOLLGATE_LISTEN", format!("127.0.0.1:{port}"))
        // Scheduled jobs would reconcile on their own; the storm runs exactly one reconcile.
        .env("TOLLGATE_JOBS", "false")
        .env("TOLLGATE_PUBLISH_SINK", "none")
        .env("RUST_LOG", "warn")
        .env_remove("POLAR_ORGANIZATION_TOKEN")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}
