// Polar's official TypeScript SDK against the simulator: every resource the simulator serves is
// listed and fetched through the SDK without errors, and the simulator's webhooks pass the SDK's
// own verification under both of Polar's secret schemes.
//
// Needs the built binary: `cargo build -p polar-sim`, then POLAR_SIM_BIN=<path> if it is not at
// $CARGO_TARGET_DIR/debug/polar-sim (default target/debug/polar-sim at the repository root).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createPolar, webhooks } from "@polar-sh/sdk/2026-10";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../..");
const bin =
  process.env.POLAR_SIM_BIN ??
  path.join(process.env.CARGO_TARGET_DIR ?? path.join(repo, "target"), "debug", "polar-sim");
const token = "polar_oat_sdk_test";

let sim;
let base;
let polar;

before(async () => {
  sim = spawn(
    bin,
    ["serve", "--listen", "127.0.0.1:0", "--token", token, "--seed-demo", "--rate-limit", "0", "--retry-base-ms", "5"],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  base = await new Promise((resolve, reject) => {
    let out = "";
    sim.on("error", reject);
    sim.on("exit", (code) => reject(new Error(`polar-sim exited with ${code}`)));
    sim.stdout.on("data", (chunk) => {
      out += chunk;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) resolve(m[1]);
    });
  });
  polar = createPolar({ accessToken: token, baseUrl: base });
});

after(() => {
  sim?.kill();
});

async function control(method, route, body) {
  const res = await fetch(`${base}${route}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.ok(res.ok, `${method} ${route}: ${res.status} ${await res.clone().text()}`);
  return res.status === 204 ? null : res.json();
}

async function all(iterable) {
  const items = [];
  for await (const item of iterable) items.push(item);
  return items;
}

const isoTime = (v) => typeof v === "string" && !Number.isNaN(Date.parse(v));

test("lists and gets every resource through the SDK", async () => {
  // A few lifecycles so that every kind of object exists.
  await control("POST", "/_sim/scenarios", { action: "subscribe", customer: "user_sdk", product: "premium" });
  await control("POST", "/_sim/scenarios", { action: "usage", customer: "user_sdk", event: "api_calls", count: 2 });
  await control("POST", "/_sim/scenarios", { action: "refund", order: "user_sdk", amount: 100 });

  const products = await polar.products.list({ limit: 100 });
  assert.ok(products.items.length >= 3);
  assert.equal(products.pagination.total_count, products.items.length);
  for (const p of products.items) {
    const got = await polar.products.get(p.id);
    assert.equal(got.id, p.id);
    assert.equal(typeof got.is_deletable, "boolean");
    const seatBased = got.metadata.plan === "team_seats";
    assert.equal(got.prices[0].amount_type, seatBased ? "seat_based" : "fixed");
    assert.ok(["premium", "premium_plus", "team_seats"].includes(got.metadata.plan));
  }
  const [seats] = products.items.filter((p) => p.metadata.plan === "team_seats");
  assert.deepEqual(seats.prices[0].seat_tiers.tiers, [{ min_seats: 1, max_seats: 50, price_per_seat: 800 }]);

  const customers = await all(polar.customers.iterList({ limit: 2 }));
  assert.ok(customers.length >= 6, "iterList follows max_page across pages");
  assert.equal(new Set(customers.map((c) => c.id)).size, customers.length);
  for (const c of customers) {
    assert.equal((await polar.customers.get(c.id)).id, c.id);
    const state = await polar.customers.getState(c.id);
    assert.ok(Array.isArray(state.active_subscriptions));
    if (c.external_id) {
      assert.equal((await polar.customers.getExternal(c.external_id)).id, c.id);
      const ext = await polar.customers.getStateExternal(c.external_id);
      assert.equal(ext.id, c.id);
    }
  }
  const sdkState = await polar.customers.getStateExternal("user_sdk");
  assert.equal(sdkState.active_subscriptions.length, 1);
  assert.equal(sdkState.granted_benefits[0].benefit_metadata.plan, "premium");
  assert.equal(sdkState.active_meters[0].consumed_units, 2);

  const subscriptions = await all(polar.subscriptions.iterList({ limit: 3 }));
  assert.ok(subscriptions.length >= 5);
  for (const s of subscriptions) {
    const got = await polar.subscriptions.get(s.id);
    assert.equal(got.id, s.id);
    assert.ok(isoTime(got.current_period_end) && isoTime(got.created_at));
    assert.equal(got.customer.id, got.customer_id);
  }
  const active = await polar.subscriptions.list({ active: true, limit: 100 });
  assert.ok(active.items.every((s) => ["active", "trialing"].includes(s.status)));

  const orders = await all(polar.orders.iterList({ limit: 100 }));
  assert.ok(orders.length >= 4);
  for (const o of orders) assert.equal((await polar.orders.get(o.id)).id, o.id);
  const byCustomer = await polar.orders.list({ external_customer_id: "user_sdk" });
  assert.equal(byCustomer.items[0].status, "partially_refunded");

  const refunds = await polar.refunds.list({});
  assert.equal(refunds.items[0].amount, 100);

  const benefits = await polar.benefits.list({ limit: 100 });
  assert.ok(benefits.items.length >= 2);
  for (const b of benefits.items) assert.equal((await polar.benefits.get(b.id)).type, "feature_flag");

  const grants = await polar.benefitGrants.list({ external_customer_id: "user_sdk" });
  assert.equal(grants.items[0].is_granted, true);

  const meters = await polar.meters.list({});
  assert.equal(meters.items[0].name, "API calls");
  assert.equal((await polar.meters.get(meters.items[0].id)).id, meters.items[0].id);

  const customerMeters = await polar.customerMeters.list({ external_customer_id: "user_sdk" });
  assert.equal(customerMeters.items[0].consumed_units, 2);
  assert.equal((await polar.customerMeters.get(customerMeters.items[0].id)).balance, -2);

  const seatCheckout = await polar.checkouts.create({ products: [seats.id], external_customer_id: "user_seats", seats: 3 });
  assert.deepEqual([seatCheckout.units, seatCheckout.seats, seatCheckout.amount], [3, 3, 2400]);
  await control("POST", "/_sim/scenarios", { action: "complete_checkout", checkout: seatCheckout.id });
  const [seatSub] = (await polar.subscriptions.list({ external_customer_id: "user_seats" })).items;
  const moreSeats = await polar.subscriptions.update(seatSub.id, { seats: 5, proration_behavior: "invoice" });
  assert.deepEqual([moreSeats.units, moreSeats.seats, moreSeats.amount], [5, 5, 4000]);
  const seatOrders = (await polar.orders.list({ subscription_id: seatSub.id })).items;
  assert.deepEqual(seatOrders.map((o) => o.billing_reason).sort(), ["subscription_create", "subscription_update"]);
  assert.ok(seatOrders.every((o) => o.items.every((i) => isoTime(i.start_timestamp) && isoTime(i.end_timestamp))));

  const checkout = await polar.checkouts.create({
    products: [products.items[0].id],
    external_customer_id: "user_checkout",
    success_url: "https://app.example.com/done?checkout_id={CHECKOUT_ID}",
  });
  assert.equal(checkout.status, "open");
  assert.ok(checkout.success_url.endsWith(checkout.id));
  assert.equal((await polar.checkouts.get(checkout.id)).client_secret, checkout.client_secret);
  assert.ok((await polar.checkouts.list({})).items.some((c) => c.id === checkout.id));

  const session = await polar.customerSessions.create({ external_customer_id: "user_sdk" });
  assert.ok(session.token.startsWith("polar_cst_"));
  assert.ok(isoTime(session.expires_at));

  const ingested = await polar.events.ingest({
    events: [
      { name: "api_calls", external_customer_id: "user_sdk", external_id: "sdk-1" },
      { name: "api_calls", external_customer_id: "user_sdk", external_id: "sdk-1" },
    ],
  });
  assert.deepEqual(ingested, { inserted: 1, duplicates: 1 });
});

test("writes through the SDK change the simulator like Polar", async () => {
  const created = await polar.customers.create({ email: "sdk-writer@example.com", external_id: "user_writer" });
  const renamed = await polar.customers.updateExternal("user_writer", { name: "Writer" });
  assert.equal(renamed.name, "Writer");
  assert.equal(renamed.id, created.id);

  const [sub] = (await polar.subscriptions.list({ external_customer_id: "user_alice" })).items;
  const canceled = await polar.subscriptions.update(sub.id, { cancel_at_period_end: true });
  assert.equal(canceled.cancel_at_period_end, true);
  const revoked = await polar.subscriptions.revoke(sub.id);
  assert.equal(revoked.status, "canceled");

  await assert.rejects(polar.subscriptions.get("00000000-0000-4000-8000-000000000000"), (e) => e.statusCode === 404);
  await assert.rejects(polar.subscriptions.revoke(sub.id), (e) => e.statusCode === 403);
});

test("a rate-limited request surfaces as the SDK's rate-limit error with retry-after", async () => {
  await control("POST", "/_sim/rate-limit/throttle", { requests: 1, retry_after: 7 });
  await assert.rejects(polar.products.list({}), (e) => e.name === "PolarRateLimitError" && e.retryAfter === 7);
  assert.ok((await polar.products.list({})).items.length > 0);
});

async function receiveWebhooks(secret, scheme) {
  const received = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(202).end();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${server.address().port}/webhooks`;
  await control("PUT", "/_sim/webhooks/endpoint", { url, secret, scheme });
  await control("POST", "/_sim/scenarios", { action: "subscribe", customer: `user_hook_${scheme}`, product: "premium" });
  await control("POST", "/_sim/scenarios", { action: "fail_payment", subscription: `user_hook_${scheme}` });
  await control("POST", "/_sim/scenarios", { action: "recover", subscription: `user_hook_${scheme}` });
  await control("POST", "/_sim/scenarios", { action: "cancel", subscription: `user_hook_${scheme}` });
  await control("POST", "/_sim/webhooks/settle");
  await control("DELETE", "/_sim/webhooks/endpoint");
  server.close();
  return received;
}

for (const [scheme, secret] of [
  ["legacy", `whsec_${randomBytes(32).toString("base64url").slice(0, 43)}`],
  ["standard", `whsec_${randomBytes(32).toString("base64")}`],
]) {
  test(`webhooks verify with the SDK's validateEvent (${scheme} secret)`, async () => {
    const received = await receiveWebhooks(secret, scheme);
    assert.ok(received.length >= 10, `got ${received.length} deliveries`);
    const types = [];
    for (const { headers, body } of received) {
      const event = await webhooks.validateEvent(body, headers, secret);
      types.push(event.type);
      assert.equal(event.api_version, "2026-10");
      assert.ok(isoTime(event.timestamp));
      await assert.rejects(
        webhooks.validateEvent(body, headers, `${secret}x`),
        webhooks.PolarWebhookVerificationError,
      );
    }
    for (const t of ["subscription.created", "order.paid", "subscription.canceled", "subscription.past_due", "customer.state_changed"]) {
      assert.ok(types.includes(t), `${t} in ${types}`);
    }
  });
}
