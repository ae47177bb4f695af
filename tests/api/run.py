"""schemathesis against a real sync worker: the contract `GET /openapi.json` states, checked.

Starts the Polar simulator (demo products and customers) and `tollgate serve` on a fresh
PostgreSQL database, seeds it (a reconcile of the simulator's customers, a subscription whose
webhooks arrive, a grant, an API key), runs schemathesis over every operation — examples,
coverage, fuzzing (positive and negative data) and the stateful phase — with the checks
`not_a_server_error`, `status_code_conformance`, `content_type_conformance`,
`response_schema_conformance` and `documented_error_code` (hooks.py), then stops everything and
drops the database. The exit status is schemathesis's.

    tests/api/.venv/bin/python tests/api/run.py [--examples N] [--seed S] [--max-time SECONDS]

Needs `cargo build -p tollgate-sync -p polar-sim` (or TOLLGATE_BIN / POLAR_SIM_BIN) and the
PostgreSQL server at TOLLGATE_TEST_POSTGRES (default postgres://postgres@127.0.0.1:5432).
"""

import argparse
import json
import os
import pathlib
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time

import requests

REPO = pathlib.Path(__file__).resolve().parents[2]
POSTGRES = os.environ.get("TOLLGATE_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432").rstrip("/")
SIM_TOKEN = "polar_oat_api_contract"
API_TOKEN = "api-contract-" + secrets.token_hex(16)
CLERK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
DEMO_CUSTOMERS = ["user_alice", "user_bob", "user_carol", "user_dave", "user_erin"]
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "documented_error_code",
    ]
)


def binary(name: str, env: str) -> pathlib.Path:
    if env in os.environ:
        return pathlib.Path(os.environ[env])
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    path = target / "debug" / name
    if not path.exists():
        sys.exit(f"{path} is missing: run `cargo build -p tollgate-sync -p polar-sim` (or set {env})")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(database: str, sql: str) -> str:
    out = subprocess.run(
        ["psql", f"{POSTGRES}/{database}", "-v", "ON_ERROR_STOP=1", "-tAc", sql],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def wait_for(what: str, probe, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = probe()
            if value:
                return value
        except (requests.RequestException, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)


class Stack:
    """The simulator and the sync worker, each in its own process group, logs in `log_dir`."""

    def __init__(self, log_dir: pathlib.Path) -> None:
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen] = []
        self.database = f"tollgate_api_{secrets.token_hex(6)}"
        psql("postgres", f"CREATE DATABASE {self.database}")
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        sim = binary("polar-sim", "POLAR_SIM_BIN")
        secret = subprocess.run(
            [sim, "secret", "--scheme", "standard"], capture_output=True, text=True, check=True
        ).stdout.strip()
        sim_log = log_dir / "polar-sim.log"
        self.start(
            [sim, "serve", "--listen", "127.0.0.1:0", "--token", SIM_TOKEN, "--seed-demo",
             "--webhook-url", f"{self.url}/webhooks/polar", "--webhook-secret", secret,
             "--secret-scheme", "standard", "--rate-limit", "0", "--retry-base-ms", "200"],
            sim_log,
            {},
        )
        self.sim_url = wait_for(
            "polar-sim to listen",
            lambda: (m := re.search(r"listening on (http://\S+)", sim_log.read_text())) and m.group(1),
        )
        self.env = {
            "DATABASE_URL": f"{POSTGRES}/{self.database}",
            "TOLLGATE_CATALOG": str(REPO / "examples" / "catalog.toml"),
            "TOLLGATE_LISTEN": f"127.0.0.1:{port}",
            "TOLLGATE_API_TOKEN": API_TOKEN,
            "POLAR_WEBHOOK_SECRET": secret,
            "POLAR_ORGANIZATION_TOKEN": SIM_TOKEN,
            "POLAR_API_URL": self.sim_url,
            "CLERK_WEBHOOK_SECRET": CLERK_SECRET,
            "TOLLGATE_JOBS": "false",
            "TOLLGATE_AUTH_FAILURE_BURST": "0",
            "RUST_LOG": os.environ.get("RUST_LOG", "warn"),
        }
        self.start([binary("tollgate", "TOLLGATE_BIN"), "serve"], log_dir / "tollgate.log", self.env)
        wait_for("the sync worker to be ready", lambda: requests.get(f"{self.url}/readyz", timeout=2).ok)

    def start(self, command: list, log: pathlib.Path, env: dict[str, str]) -> None:
        self.processes.append(
            subprocess.Popen(
                [str(part) for part in command],
                stdout=log.open("wb"),
                stderr=subprocess.STDOUT,
                env={**os.environ, **env},
                cwd=REPO,
                start_new_session=True,
            )
        )

    def tollgate(self, *args: str) -> str:
        out = subprocess.run(
            [str(binary("tollgate", "TOLLGATE_BIN")), *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout

    def sim(self, method: str, path: str, body=None) -> dict:
        res = requests.request(method, f"{self.sim_url}{path}", json=body, timeout=30)
        res.raise_for_status()
        return res.json() if res.content else {}

    def api(self, method: str, path: str, body=None) -> dict:
        res = requests.request(
            method, f"{self.url}{path}", json=body, timeout=30,
            headers={"authorization": f"Bearer {API_TOKEN}"},
        )
        if not res.ok:
            raise RuntimeError(f"{method} {path}: {res.status_code} {res.text}")
        return res.json()

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        psql("postgres", f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)")


def seed(stack: Stack) -> dict[str, list[str]]:
    """Customers, orders, webhooks, a grant and an API key, so that ids in paths can be real."""
    stack.tollgate("reconcile")
    stack.sim("POST", "/_sim/scenarios", {"action": "subscribe", "customer": "user_api", "product": "premium"})
    stack.sim("POST", "/_sim/webhooks/settle")
    grant = stack.api("POST", "/v1/admin/grants", {
        "customer": "user_alice", "feature": "projects", "amount": 5, "reason": "contract test",
    })
    key = stack.api("POST", "/v1/admin/api-keys", {"customer": "user_alice", "name": "contract"})
    webhooks = [item["webhook_id"] for item in stack.api("GET", "/v1/admin/webhooks")["items"]]
    customers = DEMO_CUSTOMERS + ["user_api"]
    orders = [
        order["id"]
        for customer in customers
        for order in stack.api("GET", f"/v1/customers/{customer}/orders")["items"][:2]
    ]
    return {
        "customer": customers,
        "id": [str(grant["id"]), str(key["id"])] + webhooks[:3],
        "file": ["customers.csv", "subscriptions.csv", "orders.csv", "usage.csv", "audit.csv"],
        "plan": ["free", "premium", "premium_plus", "team_seats"],
        "feature": ["projects", "team_members", "storage", "api_calls", "advanced_analytics"],
        "order": orders,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=200, help="test cases per operation (default 200)")
    parser.add_argument("--seed", type=int, default=None, help="schemathesis's random seed")
    parser.add_argument("--max-time", type=int, default=None, help="time budget of the run, in seconds")
    args = parser.parse_args()
    log_dir = pathlib.Path(tempfile.mkdtemp(prefix="tollgate-api-"))
    started = time.monotonic()
    stack = Stack(log_dir)
    try:
        known = seed(stack)
        command = [
            str(pathlib.Path(sys.executable).parent / "schemathesis"),
            "--config-file", str(pathlib.Path(__file__).parent / "schemathesis.toml"),
            "run", f"{stack.url}/openapi.json",
            "--checks", CHECKS,
            "--mode", "all",
            "--phases", "examples,coverage,fuzzing,stateful",
            "--max-examples", str(args.examples),
            "--header", f"Authorization: Bearer {API_TOKEN}",
            "--generation-database", "none",
            "--workers", "2",
            "--no-color",
            "--report", "json",
            "--report-json-path", str(log_dir / "report.json"),
        ]
        if args.seed is not None:
            command += ["--seed", str(args.seed)]
        if args.max_time is not None:
            command += ["--max-time", str(args.max_time)]
        env = {
            **os.environ,
            "SCHEMATHESIS_HOOKS": "hooks",
            "PYTHONPATH": str(pathlib.Path(__file__).parent),
            "TOLLGATE_API_KNOWN": json.dumps(known),
        }
        print(f"$ {' '.join(command)}".replace(API_TOKEN, "<token>"), flush=True)
        status = subprocess.run(command, env=env, cwd=log_dir).returncode
    finally:
        stack.stop()
    calls_file = log_dir / "calls.json"
    if calls_file.exists():
        calls = json.loads(calls_file.read_text())
        print("requests per operation (fewest first):")
        for operation, count in sorted(calls.items(), key=lambda item: (item[1], item[0])):
            print(f"  {count:6d}  {operation}")
    print(f"schemathesis exited {status} after {time.monotonic() - started:.0f} s; logs in {log_dir}")
    return status


if __name__ == "__main__":
    sys.exit(main())
