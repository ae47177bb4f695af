//! The `polar-sim` binary: `serve` and the commands that drive a running simulator.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_polar-sim");

/// A `polar-sim serve` process, stopped when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start() -> Self {
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--seed-demo",
                "--rate-limit",
                "0",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap()
            .to_owned();
        Self { child, url }
    }

    fn run(&self, args: &[&str]) -> Value {
        let out = Command::new(BIN)
            .args(args)
            .args(["--sim", &self.url])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn scenario_commands_drive_a_running_simulator() {
    let server = Server::start();
    let out = server.run(&[
        "scenario",
        "subscribe",
        "--customer",
        "user_cli",
        "--product",
        "premium",
    ]);
    assert_eq!(out["object"]["status"], "active");
    assert_eq!(out["object"]["customer"]["external_id"], "user_cli");
    assert!(
        out["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "subscription.created")
    );

    let out = server.run(&[
        "scenario",
        "upgrade",
        "--subscription",
        "user_cli",
        "--product",
        "premium_plus",
        "--proration",
        "invoice",
    ]);
    assert_eq!(out["object"]["product"]["metadata"]["plan"], "premium_plus");

    let out = server.run(&[
        "scenario",
        "drift",
        "--subscription",
        "user_cli",
        "--status",
        "past_due",
    ]);
    assert_eq!(out["object"]["status"], "past_due");
    assert_eq!(out["events"], serde_json::json!([]), "drift sends nothing");

    let out = server.run(&["scenario", "advance", "--days", "2"]);
    assert!(out["object"]["now"].is_string());

    let faults = server.run(&[
        "webhooks",
        "fault",
        "--kind",
        "delay",
        "--delay-ms",
        "5",
        "--event-type",
        "order.paid",
    ]);
    assert_eq!(faults[0]["kind"], "delay");
    assert_eq!(faults[0]["ms"], 5);

    let info = server.run(&["info"]);
    assert_eq!(info["customers"], 6);
}

#[test]
fn a_refused_step_fails_with_the_reason() {
    let server = Server::start();
    let out = Command::new(BIN)
        .args([
            "scenario",
            "recover",
            "--subscription",
            "user_alice",
            "--sim",
            &server.url,
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not_past_due"));
}

#[test]
fn secrets_come_in_both_formats() {
    let out = Command::new(BIN)
        .args(["secret", "--scheme", "standard"])
        .output()
        .unwrap();
    let secret = String::from_utf8(out.stdout).unwrap();
    assert!(
        polar_sim::signing_key(secret.trim(), polar_sim::SecretScheme::Standard)
            .is_ok_and(|k| k.len() == 32)
    );
    let out = Command::new(BIN)
        .args(["secret", "--scheme", "legacy"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim().len(),
        "whsec_".len() + 43
    );
}
