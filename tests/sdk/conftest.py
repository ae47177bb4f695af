"""A simulator per secret scheme, driven through every lifecycle, with its webhooks received.

Needs the built binary: `cargo build -p polar-sim`, then POLAR_SIM_BIN=<path> if it is not at
$CARGO_TARGET_DIR/debug/polar-sim (default target/debug/polar-sim at the repository root).
"""

import base64
import http.server
import os
import pathlib
import re
import secrets
import subprocess
import threading

import httpx
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
TOKEN = "polar_oat_python_sdk_test"


def simulator_binary() -> pathlib.Path:
    if "POLAR_SIM_BIN" in os.environ:
        return pathlib.Path(os.environ["POLAR_SIM_BIN"])
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return target / "debug" / "polar-sim"


class Receiver(http.server.ThreadingHTTPServer):
    """Accepts every delivery (202) and keeps its headers and raw body."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.deliveries.append((dict(self.headers.items()), body))
                self.send_response(202)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/webhooks"


class World:
    """A running simulator: its origin, its control API, and what its webhooks delivered."""

    def __init__(self, scheme: str) -> None:
        self.scheme = scheme
        # Polar's two secret formats: 43 random characters (legacy, used as UTF-8 bytes) and
        # base64 of 32 random bytes (standard, decoded).
        if scheme == "legacy":
            self.secret = "whsec_" + secrets.token_urlsafe(32)[:43]
        else:
            self.secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        self.receiver = Receiver()
        self.process = subprocess.Popen(
            [
                str(simulator_binary()),
                "serve",
                "--listen", "127.0.0.1:0",
                "--token", TOKEN,
                "--seed-demo",
                "--rate-limit", "0",
                "--retry-base-ms", "5",
                "--webhook-url", self.receiver.url,
                "--webhook-secret", self.secret,
                "--secret-scheme", scheme,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if m := re.search(r"listening on (http://\S+)", line):
                self.base_url = m.group(1)
                break
        else:
            raise RuntimeError(f"polar-sim exited with {self.process.wait()}")
        self.token = TOKEN
        self.http = httpx.Client(base_url=self.base_url, timeout=30)

    def control(self, method: str, route: str, body: object = None) -> object:
        res = self.http.request(method, route, json=body)
        assert res.is_success, f"{method} {route}: {res.status_code} {res.text}"
        return None if res.status_code == 204 else res.json()

    def api(self, path: str) -> dict:
        """A Polar API answer as raw JSON."""
        res = self.http.get(path, headers={"authorization": f"Bearer {TOKEN}"})
        assert res.is_success, f"GET {path}: {res.status_code} {res.text}"
        return res.json()

    def step(self, action: str, **fields: object) -> dict:
        return self.control("POST", "/_sim/scenarios", {"action": action, **fields})["object"]

    def settle(self) -> None:
        self.control("POST", "/_sim/webhooks/settle")

    def close(self) -> None:
        self.http.close()
        self.process.terminate()
        self.process.wait()
        self.receiver.shutdown()


def drive(world: World) -> None:
    """Every lifecycle the simulator knows, so that every kind of object and event exists."""
    step = world.step
    step("create_product", name="Team", price_amount=9900, interval="year", metadata={"plan": "team"})
    step("update_product", product="Team", description="For teams", is_archived=True)
    step("subscribe", customer="user_py", product="premium")
    step("usage", customer="user_py", event="api_calls", count=3)
    step("change_product", subscription="user_py", product="premium_plus", proration="invoice")
    step("change_product", subscription="user_py", product="premium", proration="next_period")
    step("cancel", subscription="user_py", reason="too_expensive")
    step("uncancel", subscription="user_py")
    step("cycle", subscription="user_py")
    step("refund", order="user_py", amount=100)
    step("recover", subscription="user_erin")
    step("fail_payment", subscription="user_alice")
    step("subscribe", customer="user_trial", product="premium", trial_days=7)
    step("revoke", subscription="user_carol")
    step("delete_customer", customer="user_dave")
    step("open_checkout", product="premium_plus", external_customer_id="user_later")
    # Seats: bought at checkout, then changed with each kind of proration.
    checkout = step("open_checkout", product="team_seats", external_customer_id="user_team")
    step("complete_checkout", checkout=checkout["id"])
    step("update_seats", subscription="user_team", seats=5, proration="invoice")
    step("update_seats", subscription="user_team", seats=4, proration="next_period")
    step("advance", days=40)
    world.settle()


@pytest.fixture(scope="session")
def worlds():
    """One driven simulator per secret scheme, made on first use."""
    made: dict[str, World] = {}

    def get(scheme: str) -> World:
        if scheme not in made:
            made[scheme] = World(scheme)
            drive(made[scheme])
        return made[scheme]

    yield get
    for world in made.values():
        world.close()


@pytest.fixture(scope="session")
def world(worlds) -> World:
    return worlds("standard")
