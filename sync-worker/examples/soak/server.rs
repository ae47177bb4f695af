//! The `tollgate serve` under load: a release binary as a child process, and its RSS.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

pub const API_TOKEN: &str = "soak-token-0123456789abcdef";

pub struct Server {
    child: Child,
    pub url: String,
    pub log: PathBuf,
}

impl Server {
    /// Starts `binary serve` on `port` and waits until it answers `/readyz`.
    pub async fn start(
        binary: &Path,
        database_url: &str,
        secret: &str,
        port: u16,
        log: PathBuf,
    ) -> Self {
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(binary)
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("POLAR_WEBHOOK_SECRET", secret)
            .env("TOLLGATE_API_TOKEN", API_TOKEN)
            .env("TOLLGATE_CATALOG", super::catalog_path())
            .env("TOLLGATE_LISTEN", format!("127.0.0.1:{port}"))
            // Scheduled jobs would reconcile against Polar on their own; the soak measures
            // the request path and the applier.
            .env("TOLLGATE_JOBS", "false")
            .env("TOLLGATE_PUBLISH_SINK", "none")
            .env("TOLLGATE_AUTH_FAILURE_BURST", "0")
            .env("RUST_LOG", "warn")
            .env_remove("POLAR_ORGANIZATION_TOKEN")
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("starting {}: {error}", binary.display()));
        let server = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = client.get(format!("{}/readyz", server.url)).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "tollgate serve was not ready within a minute"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Resident memory in MiB, from `/proc/<pid>/status`.
    pub fn rss_mib(&self) -> f64 {
        let Some(pid) = self.child.id() else {
            return 0.0;
        };
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }

    /// Fails the soak if the server exited on its own.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!(
                "tollgate serve exited ({status}); see {}",
                self.log.display()
            );
        }
    }
}

/// A free local port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
