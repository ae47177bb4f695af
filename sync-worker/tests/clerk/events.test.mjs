// tollgate's events to the app, verified by the reference Standard Webhooks library (npm
// `standardwebhooks`): the Polar simulator sells two subscriptions through `tollgate serve`; one
// is cancelled two days before its period ends and uses its quota, the other's renewal fails.
// The app's endpoint answers 500 to the first deliveries, then verifies every signature; each
// event must arrive exactly once.
//
// Runs the binaries `cargo test` (or `cargo build -p tollgate-sync -p polar-sim`) built, on a
// fresh PostgreSQL database that is dropped afterwards.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer as createHttpServer } from "node:http";
import { after, before, test } from "node:test";

import { Webhook } from "standardwebhooks";

import { eventually, psql, startServe, startSimulator, stopAll } from "./processes.mjs";

const API_TOKEN = randomBytes(24).toString("hex");
const POLAR_SECRET = `whsec_${randomBytes(24).toString("hex")}`;
const EVENTS_SECRET = `whsec_${randomBytes(32).toString("base64")}`;
const FAIL_FIRST = 3;

// The app's endpoint: 500 for the first FAIL_FIRST requests, then each delivery verified.
const received = new Map(); // webhook-id → { count, event }
const refused = [];
let attempts = 0;
const app = createHttpServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    attempts += 1;
    if (attempts <= FAIL_FIRST) {
      res.writeHead(500).end();
      return;
    }
    const body = Buffer.concat(chunks).toString("utf8");
    try {
      const event = new Webhook(EVENTS_SECRET).verify(body, req.headers);
      const id = req.headers["webhook-id"];
      const seen = received.get(id);
      received.set(id, { count: (seen?.count ?? 0) + 1, event });
      res.writeHead(204).end();
    } catch (error) {
      refused.push(String(error));
      res.writeHead(400).end();
    }
  });
});

const database = `tollgate_events_${randomBytes(6).toString("hex")}`;
let simUrl;
let syncUrl;

before(async () => {
  psql("postgres", `CREATE DATABASE ${database}`);
  await new Promise((resolve) => app.listen(0, "127.0.0.1", resolve));
  const appUrl = `http://127.0.0.1:${app.address().port}/tollgate-events`;
  syncUrl = await startServe(database, API_TOKEN, {
    POLAR_WEBHOOK_SECRET: POLAR_SECRET,
    TOLLGATE_EVENTS_URL: appUrl,
    TOLLGATE_EVENTS_SECRET: EVENTS_SECRET,
    RUST_LOG: "error",
  });
  // The simulated month started so that its subscriptions' first period ends in two days.
  const clockStart = new Date(Date.now() + 2 * 86_400_000);
  clockStart.setUTCMonth(clockStart.getUTCMonth() - 1);
  simUrl = await startSimulator([
    "--webhook-url", `${syncUrl}/webhooks/polar`, "--webhook-secret", POLAR_SECRET,
    "--retry-base-ms", "200", "--clock-start", clockStart.toISOString(),
  ]);
});

after(async () => {
  stopAll();
  await new Promise((resolve) => app.close(resolve));
  psql("postgres", `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
});

async function scenario(step) {
  const res = await fetch(`${simUrl}/_sim/scenarios`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(step),
  });
  assert.equal(res.status, 200, `${step.action}: ${await res.text()}`);
  const settled = await fetch(`${simUrl}/_sim/webhooks/settle`, { method: "POST" });
  assert.equal(settled.status, 200);
}

async function useApiCalls(customer, id, amount) {
  const res = await fetch(`${syncUrl}/v1/usage`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${API_TOKEN}` },
    body: JSON.stringify({
      events: [{ id, customer, feature: "api_calls", amount, timestamp: new Date().toISOString() }],
    }),
  });
  assert.equal(res.status, 200);
  const receipt = await res.json();
  assert.equal(receipt.accepted, 1, JSON.stringify(receipt));
}

function events(type, customer) {
  return [...received.values()]
    .map(({ event }) => event)
    .filter((event) => event.type === type && event.data.customer === customer);
}

test("every event reaches the app once, signed as Standard Webhooks", async () => {
  await scenario({ action: "subscribe", customer: "user_ending", product: "premium" });
  await scenario({ action: "subscribe", customer: "user_unpaid", product: "premium" });
  await scenario({ action: "cancel", subscription: "user_ending" });
  await scenario({ action: "fail_payment", subscription: "user_unpaid" });
  // Usage counts in the plan's period once tollgate has applied the subscription.
  await eventually("the cancelled subscription", () =>
    events("subscription.ending", "user_ending").length === 1);
  // Premium allows 50 000 api_calls a period and warns at 0.8 of it.
  await useApiCalls("user_ending", "calls-1", 40_000);
  await eventually("the warning", () => events("usage.threshold_reached", "user_ending").length === 1);
  await useApiCalls("user_ending", "calls-2", 10_000);

  await eventually("every event", () =>
    events("entitlements.updated", "user_ending").length >= 1 &&
    events("entitlements.updated", "user_unpaid").length >= 1 &&
    events("usage.threshold_reached", "user_ending").length === 2 &&
    events("subscription.ending", "user_ending").length === 1 &&
    events("payment.failed", "user_unpaid").length === 1);
  // Nothing waits any more: what the app holds is all there is.
  await eventually("every delivery settled", () =>
    psql(database, "SELECT count(*) FROM app_events WHERE delivered_at IS NULL") === "0");

  assert.deepEqual(refused, [], "every signature verifies");
  assert.ok(attempts > FAIL_FIRST, "the first deliveries failed and were retried");
  const stored = Number(psql(database, "SELECT count(*) FROM app_events"));
  assert.equal(received.size, stored);
  for (const [id, { count }] of received) assert.equal(count, 1, `${id} delivered ${count} times`);

  const [warn, limit] = events("usage.threshold_reached", "user_ending")
    .sort((a, b) => a.data.used - b.data.used);
  assert.deepEqual([warn.data.threshold, warn.data.used], ["warn_at", 40_000]);
  assert.deepEqual([limit.data.threshold, limit.data.used], ["limit", 50_000]);
  const [premium] = events("entitlements.updated", "user_ending");
  assert.equal(premium.data.plan.key, "premium");
  assert.equal(premium.data.limits.api_calls, 50_000);
  const [ending] = events("subscription.ending", "user_ending");
  assert.equal(ending.data.plan, "premium");
  assert.ok(Date.parse(ending.data.ends_at) - Date.now() <= 3 * 86_400_000);
  const [failed] = events("payment.failed", "user_unpaid");
  assert.equal(failed.data.status, "past_due");
});
