// Gated routes under workerd: allowed requests reach the origin with the X-Tollgate headers,
// refused ones get 402/403 with the reason and the upgrade, ungated ones pass through; and
// every failure policy, for a missing, vanished or stale snapshot.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { enrol, serveOrigin, sha256Hex, startWorker } from "./harness.mjs";

const ROUTES = [
  { method: "POST", path: "/api/projects", feature: "projects" },
  { method: "GET", path: "/api/analytics/*", feature: "advanced_analytics" },
  { path: "/api/v1/*", feature: "api_calls" },
  { path: "/api/legacy/:id", feature: "fax_machine" },
];

// Catalog policies for stale snapshots: one feature of each `on_stale`.
const STALE_CATALOG = `
default_plan = "free"
stale_after_hours = 1
[features]
api_calls = { type = "metered", reset = "month", on_stale = "open" }
projects  = { type = "gauge", on_stale = "closed" }
storage   = { type = "gauge" }
[plans.free]
name = "Free"
rank = 0
limits = { api_calls = 1000, projects = 3, storage = 10 }
`;

let origin;
let worker;
let key;

before(async () => {
  origin = await serveOrigin();
  worker = await startWorker({
    TOLLGATE_ORIGIN: origin.url,
    TOLLGATE_ROUTES: JSON.stringify(ROUTES),
    TOLLGATE_UPGRADE_URL: "https://app.test/upgrade?plan={plan}&feature={feature}",
    TOLLGATE_FAILURE_POLICY: JSON.stringify({
      default: "last_known_good",
      features: { api_calls: "open", projects: "closed" },
    }),
    // Read KV on every request, so a snapshot deleted from KV is noticed at once.
    TOLLGATE_SNAPSHOT_MAX_AGE_SECONDS: "0",
  });
  key = await enrol(worker, { customer: "gated", revision: 1, usage: { api_calls: 10 }, gauges: { projects: 1 } });
});
after(async () => {
  await worker.dispose();
  await origin.close();
});

const as = (credential, init = {}) => ({
  ...init,
  headers: { authorization: `Bearer ${credential}`, ...(init.headers ?? {}) },
});

describe("gated routes", () => {
  test("an allowed request reaches the origin with plan, remaining and customer", async () => {
    const res = await worker.fetch(
      "/api/v1/items?page=2",
      as(key, { method: "POST", body: "payload", headers: { "x-tollgate-plan": "premium_plus" } }),
    );
    assert.equal(res.status, 200);
    const seen = await res.json();
    assert.equal(seen.method, "POST");
    assert.equal(seen.url, "/api/v1/items?page=2");
    assert.equal(seen.body, "payload");
    assert.equal(seen.headers["x-tollgate-plan"], "free", "the client's own value is replaced");
    assert.equal(seen.headers["x-tollgate-remaining"], "989");
    assert.equal(seen.headers["x-tollgate-customer"], "gated");
    assert.equal(seen.headers.authorization, `Bearer ${key}`);
  });

  test("a request over the limit is refused with 402 and the upgrade", async () => {
    const res = await worker.fetch("/api/projects", as(key, { method: "POST" }));
    assert.equal(res.status, 402);
    const body = await res.json();
    assert.equal(body.reason, "limit_reached");
    assert.equal(body.feature, "projects");
    assert.equal(body.limit, 1);
    assert.equal(body.used, 1);
    assert.deepEqual(body.upgrade, { plan: "premium", name: "Premium" });
    assert.equal(body.upgradeUrl, "https://app.test/upgrade?plan=premium&feature=projects");
  });

  test("a feature outside the plan is 402, an unknown one 403", async () => {
    let res = await worker.fetch("/api/analytics/weekly", as(key));
    assert.equal(res.status, 402);
    assert.equal((await res.json()).reason, "not_in_plan");
    res = await worker.fetch("/api/legacy/7", as(key));
    assert.equal(res.status, 403);
    const body = await res.json();
    assert.equal(body.reason, "unknown_feature");
    assert.equal(body.upgradeUrl, null);
  });

  test("a gated route needs credentials; an ungated one passes through untouched", async () => {
    let res = await worker.fetch("/api/v1/items");
    assert.equal(res.status, 401);
    assert.equal((await res.json()).reason, "missing_credentials");
    res = await worker.fetch("/public/page?x=1", { headers: { "x-tollgate-customer": "forged" } });
    assert.equal(res.status, 200);
    const seen = await res.json();
    assert.equal(seen.url, "/public/page?x=1");
    assert.equal(seen.headers["x-tollgate-customer"], undefined, "forged X-Tollgate headers are dropped");
  });

  test("a CORS preflight reaches the origin without credentials", async () => {
    const res = await worker.fetch("/api/v1/items", { method: "OPTIONS" });
    assert.equal(res.status, 200);
    const seen = await res.json();
    assert.equal(seen.method, "OPTIONS");
    assert.equal(seen.headers["x-tollgate-plan"], undefined);
  });

  test("GET /v1/entitlements lists the caller's plan and features", async () => {
    const res = await worker.fetch("/v1/entitlements", as(key));
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.customer, "gated");
    assert.deepEqual(body.plan, { plan: "free", name: "Free" });
    assert.equal(body.features.projects.used, 1);
    assert.equal(body.features.advanced_analytics.reason, "not_in_plan");
    assert.equal(body.failurePolicy, null);
  });

  test("bad check parameters are refused, and only internal callers may set now", async () => {
    let res = await worker.fetch("/v1/check?feature=projects&amount=-1", as(key));
    assert.equal(res.status, 400);
    assert.equal((await res.json()).code, "invalid_amount");
    res = await worker.fetch("/v1/check", as(key));
    assert.equal((await res.json()).code, "missing_feature");
    res = await worker.fetch("/v1/check?feature=projects&now=0", as(key));
    assert.equal(res.status, 400);
    assert.equal((await res.json()).code, "now_not_allowed");
  });
});

describe("failure policies", () => {
  test("without any snapshot: open allows, closed refuses, last_known_good has nothing to use", async () => {
    const ghost = "tg_test_ghost";
    await worker.publish({ keys: [{ hash: sha256Hex(ghost), customer: "ghost" }] });

    let res = await worker.check(ghost, "api_calls");
    assert.equal(res.body.allowed, true);
    assert.equal(res.body.failurePolicy, "open");
    const proxied = await worker.fetch("/api/v1/items", as(ghost));
    assert.equal(proxied.status, 200);
    assert.equal((await proxied.json()).headers["x-tollgate-failure-policy"], "open");

    res = await worker.check(ghost, "projects");
    assert.equal(res.body.allowed, false);
    assert.equal(res.body.reason, "snapshot_unavailable");
    assert.equal(res.body.failurePolicy, "closed");
    const refused = await worker.fetch("/api/projects", as(ghost, { method: "POST" }));
    assert.equal(refused.status, 403);
    assert.equal((await refused.json()).failurePolicy, "closed");

    res = await worker.check(ghost, "advanced_analytics");
    assert.equal(res.body.allowed, false);
    assert.equal(res.body.reason, "snapshot_unavailable");
    assert.equal(res.body.failurePolicy, "last_known_good");
  });

  test("a snapshot that vanished from KV: last_known_good answers from the isolate's copy", async () => {
    const fading = await enrol(worker, { customer: "fading", revision: 1, gauges: { projects: 0 } });
    assert.equal((await worker.check(fading, "storage")).body.failurePolicy, null);
    await worker.kv.delete("ent:v1:fading");

    let res = await worker.check(fading, "storage", { amount: 500 });
    assert.equal(res.body.allowed, true);
    assert.equal(res.body.plan, "free");
    assert.equal(res.body.failurePolicy, "last_known_good");
    res = await worker.check(fading, "projects");
    assert.equal(res.body.allowed, false, "closed refuses even with a copy at hand");
    assert.equal(res.body.failurePolicy, "closed");
    res = await worker.check(fading, "api_calls");
    assert.equal(res.body.allowed, true);
    assert.equal(res.body.failurePolicy, "open");
  });

  test("a stale snapshot answers by each feature's on_stale, and says so", async () => {
    const issued = Date.parse("2026-11-01T00:00:00Z");
    const stale = await enrol(worker, { customer: "stale", revision: 1, gauges: { projects: 3 } }, issued, STALE_CATALOG);
    const later = issued + 2 * 3600_000;

    let res = await worker.check(stale, "api_calls", { now: later });
    assert.equal(res.body.stale, true);
    assert.equal(res.body.allowed, true);
    assert.equal(res.body.failurePolicy, "open");

    res = await worker.check(stale, "projects", { amount: 0, now: later });
    assert.equal(res.body.allowed, false);
    assert.equal(res.body.reason, "stale_snapshot");
    assert.equal(res.body.failurePolicy, "closed");

    res = await worker.check(stale, "storage", { now: later });
    assert.equal(res.body.allowed, true);
    assert.equal(res.body.failurePolicy, "last_known_good");

    res = await worker.check(stale, "storage", { now: issued + 60_000 });
    assert.equal(res.body.stale, false);
    assert.equal(res.body.failurePolicy, null);
  });
});

describe("configuration", () => {
  test("route rules given as a TOML table or array in [vars] are read, not ignored", async () => {
    // wrangler passes `TOLLGATE_ROUTES = [ { ... } ]` to the Worker as an object, not a string.
    const objectVars = await startWorker({ TOLLGATE_ORIGIN: origin.url, TOLLGATE_ROUTES: ROUTES });
    try {
      const res = await objectVars.fetch("/api/v1/items");
      assert.equal(res.status, 401, "gated, so credentials are required");
    } finally {
      await objectVars.dispose();
    }
  });
});
