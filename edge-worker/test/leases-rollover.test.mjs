// An exact feature across a billing-period roll-over, under workerd against the real sync worker
// (`tollgate serve`), PostgreSQL and the Polar simulator. Neither process's clock can be moved,
// so the period is: the simulator's clock is set one day (the product's interval) before a
// moment a few seconds ahead of real time, and a daily subscription bought then ends at that
// moment. The sync worker learns it from the simulator's webhooks and publishes the snapshot to
// the edge, as in production. A small proxy in front of the sync worker holds back, for one
// customer, the answer to a lease asked for just before the period end until after that end,
// as a slow network would.

import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { Miniflare } from "miniflare";

import { edgeDir, repoDir, SECRET, serve, serveOrigin, sha256Hex, USAGE_TOKEN } from "./harness.mjs";
import { eventually, freePort, startSyncWorker } from "./sync-worker.mjs";

const LIMIT = 20;
const CATALOG = `
default_plan = "free"

[features]
api_calls = { type = "metered", reset = "billing_period", exact = true, lease = 5 }

[plans.free]
name = "Free"
rank = 0
limits = { api_calls = 1 }

[plans.pro]
name = "Pro"
rank = 1
polar_metadata = { plan = "pro" }
limits = { api_calls = ${LIMIT} }
`;
const ISOLATES = 2;
const DAY_MS = 86_400_000;
/** How far ahead of real time the first period ends: room to publish and spend it. */
const LEAD_MS = 15_000;
/** Spends the old period to its limit, then the new one. */
const CUSTOMER = "erin";
/** Has a lease answered only after the roll-over. */
const SLOW = "fay";

let sim;
let sync;
let origin;
let proxy;
let edge;
/** While `holding`, SLOW's next lease answer is held back until `releaseAt` (epoch ms). */
const slow = { holding: false, releaseAt: 0, held: 0 };

/** Forwards to the sync worker; holds back one of SLOW's lease answers while `slow.holding`. */
function startProxy(syncUrl) {
  return serve(async (req, body) => {
    const isSlowGrant = req.url === "/v1/leases" && JSON.parse(body).customer === SLOW;
    const res = await fetch(`${syncUrl}${req.url}`, {
      method: req.method,
      headers: { authorization: req.headers.authorization, "content-type": "application/json" },
      body,
    });
    const answer = { status: res.status, json: await res.json() };
    if (isSlowGrant && slow.holding) {
      slow.holding = false;
      slow.held += 1;
      await eventually("the held lease's release", async () => Date.now() > slow.releaseAt, 120_000);
    }
    return answer;
  });
}

/** The simulator binary, with webhooks to `webhookUrl`; its control API as `control`. */
async function startSimulator(webhookUrl) {
  const binary = join(process.env.CARGO_TARGET_DIR ?? join(repoDir, "target"), "debug", "polar-sim");
  const secret = spawnSync(binary, ["secret", "--scheme", "standard"], { encoding: "utf8" }).stdout.trim();
  if (!secret) throw new Error(`${binary} did not run: run \`cargo build -p polar-sim\` first`);
  const child = spawn(binary, [
    "serve", "--listen", "127.0.0.1:0",
    "--webhook-url", webhookUrl, "--webhook-secret", secret, "--secret-scheme", "standard",
    "--rate-limit", "0", "--retry-base-ms", "200",
    // Far enough back that the clock is only ever moved forward.
    "--clock-start", new Date(Date.now() - 2 * DAY_MS).toISOString(),
  ], { stdio: ["ignore", "pipe", "inherit"], detached: true });
  let output = "";
  child.stdout.on("data", (chunk) => { output += chunk; });
  const exited = new Promise((resolve) => child.on("exit", resolve));
  const url = await eventually("the simulator to listen", async () => output.match(/listening on (http:\/\/\S+)/)?.[1]);
  /** A control call; resolves once the webhooks it caused were delivered and answered. */
  const control = async (method, path, body) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`polar-sim ${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    await fetch(`${url}/_sim/webhooks/settle`, { method: "POST" });
    return json;
  };
  return {
    url,
    secret,
    step: (action) => control("POST", "/_sim/scenarios", action),
    setClock: (ms) => control("PUT", "/_sim/clock", { now: new Date(ms).toISOString() }),
    async stop() {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // Already gone.
      }
      await exited;
    },
  };
}

/** Two Workers (isolates) on one KV namespace and one Durable Object namespace. */
async function startEdge(leasesUrl) {
  const base = {
    modules: true,
    scriptPath: join(edgeDir, "build", "index.js"),
    modulesRoot: join(edgeDir, "build"),
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: "2025-01-01",
    kvNamespaces: { ENTITLEMENTS: "entitlements" },
    bindings: {
      TOLLGATE_INTERNAL_SECRET: SECRET,
      TOLLGATE_USAGE_TOKEN: USAGE_TOKEN,
      TOLLGATE_ORIGIN: origin.url,
      TOLLGATE_ROUTES: JSON.stringify([{ path: "/api/v1/*", feature: "api_calls" }]),
      TOLLGATE_LEASES_URL: leasesUrl,
      TOLLGATE_LEASE_IDLE_SECONDS: "1",
    },
  };
  const mf = new Miniflare({
    workers: Array.from({ length: ISOLATES }, (_, i) => ({
      ...base,
      name: `edge${i}`,
      durableObjects: {
        LEASES: i === 0 ? "ExactLeases" : { className: "ExactLeases", scriptName: "edge0" },
      },
    })),
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  const isolates = await Promise.all(Array.from({ length: ISOLATES }, (_, i) => mf.getWorker(`edge${i}`)));
  const kv = await mf.getKVNamespace("ENTITLEMENTS", "edge0");
  return { mf, url, isolates, kv };
}

/** Publishes an API key for `customer`; returns it. */
async function enrolKey(customer) {
  const key = `tg_test_${customer}`;
  const res = await edge.isolates[0].fetch("http://edge.test/_tollgate/snapshots", {
    method: "PUT",
    headers: { "content-type": "application/json", "x-tollgate-secret": SECRET },
    body: JSON.stringify({ snapshots: [], keys: [{ hash: sha256Hex(key), customer }] }),
  });
  assert.equal(res.status, 200, await res.text());
  return key;
}

/** `customer`'s active subscription once the sync worker published it to the edge. */
function subscriptionAtEdge(customer) {
  return eventually(`${customer}'s subscription at the edge`, async () => {
    const snapshot = await edge.kv.get(`ent:v1:${customer}`, "json");
    return snapshot?.subscriptions.find((s) => s.status === "active");
  });
}

/** `n` concurrent gated requests spread over the isolates: how many were allowed, the refusals. */
async function burst(key, n) {
  const answers = await Promise.all(Array.from({ length: n }, async (_, i) => {
    const res = await edge.isolates[i % ISOLATES].fetch("http://edge.test/api/v1/call", {
      headers: { authorization: `Bearer ${key}` },
    });
    return { status: res.status, body: await res.json() };
  }));
  return {
    allowed: answers.filter((a) => a.status === 200).length,
    refused: answers.filter((a) => a.status === 402),
  };
}

const query = (sql) => sync.query(sql);
/** `customer`'s counters, `<period start ms>:<used>` oldest first. */
const counters = (customer) =>
  query(`SELECT (extract(epoch FROM period_start) * 1000)::bigint || ':' || used FROM usage_counters
         WHERE customer = '${customer}' ORDER BY period_start`).split("\n").filter(Boolean);
/** `customer`'s leases' settled units per period, `<period start ms>:<units>` oldest first. */
const leased = (customer) =>
  query(`SELECT (extract(epoch FROM period_start) * 1000)::bigint || ':' || sum(used) FROM leases
         WHERE customer = '${customer}' GROUP BY period_start ORDER BY period_start`).split("\n").filter(Boolean);
const openLeases = (customer) =>
  Number(query(`SELECT count(*) FROM leases WHERE customer = '${customer}' AND settled_at IS NULL`));

before(async () => {
  const port = await freePort();
  const syncUrl = `http://127.0.0.1:${port}`;
  sim = await startSimulator(`${syncUrl}/webhooks/polar`);
  origin = await serveOrigin();
  proxy = await startProxy(syncUrl);
  edge = await startEdge(`${proxy.url}/v1/leases`);
  sync = await startSyncWorker(CATALOG, {
    port,
    env: {
      POLAR_WEBHOOK_SECRET: sim.secret,
      POLAR_API_URL: sim.url,
      POLAR_ORGANIZATION_TOKEN: "polar_oat_simulator",
      TOLLGATE_PUBLISH_SINK: "edge",
      TOLLGATE_EDGE_URL: edge.url,
      TOLLGATE_INTERNAL_SECRET: SECRET,
    },
  });
});

after(async () => {
  await edge?.mf.dispose();
  slow.releaseAt = 0;
  await proxy?.close();
  await origin?.close();
  await sync?.stop();
  await sim?.stop();
});

test("a period roll-over starts at zero", async () => {
  const key = await enrolKey(CUSTOMER);
  const slowKey = await enrolKey(SLOW);

  // Daily Pro subscriptions whose first period ends LEAD_MS from now.
  await sim.setClock(Date.now() + LEAD_MS - DAY_MS);
  await sim.step({ action: "create_product", name: "Pro daily", price_amount: 100, interval: "day", metadata: { plan: "pro" } });
  await sim.step({ action: "subscribe", customer: CUSTOMER, product: "pro", direct: true });
  await sim.step({ action: "subscribe", customer: SLOW, product: "pro", direct: true });
  const subscription = await subscriptionAtEdge(CUSTOMER);
  const periodStart = Date.parse(subscription.current_period_start);
  const periodEnd = Date.parse(subscription.current_period_end);
  assert.equal(periodEnd - periodStart, DAY_MS);
  const slowSubscription = await subscriptionAtEdge(SLOW);
  const slowStart = Date.parse(slowSubscription.current_period_start);
  const slowEnd = Date.parse(slowSubscription.current_period_end);

  // The old period: exactly the limit, and the refusals say when it resets.
  const old = await burst(key, LIMIT + 5);
  assert.equal(old.allowed, LIMIT);
  assert.equal(old.refused.length, 5);
  assert.equal(Date.parse(old.refused[0].body.resetsAt), periodEnd);
  // SLOW spends 3 units; the third leaves under half a lease, so the object asks for the next
  // one in the background, granted in the old period and answered 1.5 s after its end, by when
  // the new period's first request (sent as soon as the period ends) waits for it.
  assert.equal((await burst(slowKey, 1)).allowed, 1);
  slow.releaseAt = slowEnd + 1_500;
  slow.holding = true;
  assert.equal((await burst(slowKey, 2)).allowed, 2);
  await eventually("SLOW's lease answer held back", async () => slow.held === 1);
  assert.ok(Date.now() < Math.min(periodEnd, slowEnd), "the old period's requests were all sent before it ended");

  // Real time passes the period end; Polar has not renewed yet, so both the edge and the sync
  // worker project the next period from the subscription's own interval.
  await eventually("the end of the old period", async () => Date.now() > Math.max(periodEnd, slowEnd), LEAD_MS + 30_000);
  // The old period's lease, answered now, is not spent in the new period.
  const slowNext = await burst(slowKey, LIMIT + 5);
  assert.equal(slowNext.allowed, LIMIT, "the new period allows its limit, and no more");
  const next = await burst(key, LIMIT + 5);
  assert.equal(next.allowed, LIMIT, "the new period starts at zero");
  assert.equal(next.refused.length, 5);
  assert.equal(Date.parse(next.refused[0].body.resetsAt), periodEnd + DAY_MS);

  // Every lease settled into the period it was granted in: the old period counts its own
  // units only, the new one starts from zero.
  await eventually("every lease settled", async () => openLeases(CUSTOMER) + openLeases(SLOW) === 0);
  assert.deepEqual(counters(CUSTOMER), [`${periodStart}:${LIMIT}`, `${periodEnd}:${LIMIT}`]);
  assert.deepEqual(leased(CUSTOMER), [`${periodStart}:${LIMIT}`, `${periodEnd}:${LIMIT}`]);
  assert.deepEqual(counters(SLOW), [`${slowStart}:3`, `${slowEnd}:${LIMIT}`]);
  assert.deepEqual(leased(SLOW), [`${slowStart}:3`, `${slowEnd}:${LIMIT}`]);

  // Polar renews at its own pace: the renewal names the period already being counted, so it
  // starts nothing a second time.
  await sim.setClock(Math.max(periodEnd, slowEnd) + 1_000);
  await eventually("the renewal at the edge", async () => {
    const snapshot = await edge.kv.get(`ent:v1:${CUSTOMER}`, "json");
    return snapshot?.subscriptions.some((s) => Date.parse(s.current_period_start) === periodEnd);
  });
  const renewed = await burst(key, 3);
  assert.equal(renewed.allowed, 0, "the renewal gives no second allowance");
  assert.equal(renewed.refused[0].body.used, LIMIT);
  assert.deepEqual(counters(CUSTOMER), [`${periodStart}:${LIMIT}`, `${periodEnd}:${LIMIT}`]);
});
