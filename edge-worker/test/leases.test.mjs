// Exact features under workerd against the real sync worker (`tollgate serve`) and PostgreSQL:
// four Workers stand for four isolates, all sending one customer's requests to the one
// Durable Object (`ExactLeases`) hosted by the first, which spends allowances leased from the
// sync worker. A small proxy in front of the sync worker counts its calls and, for one
// customer, loses the answers of the first settlements, as a network that fails after the
// sync worker committed.

import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { Miniflare } from "miniflare";

import { edgeDir, SECRET, serve, serveOrigin, sha256Hex, snapshotOf, USAGE_TOKEN } from "./harness.mjs";
import { eventually, startSyncWorker } from "./sync-worker.mjs";

const CATALOG = `
default_plan = "free"

[features]
api_calls = { type = "metered", reset = "month", exact = true, lease = 10 }

[plans.free]
name = "Free"
rank = 0
limits = { api_calls = 50 }

[plans.pro]
name = "Pro"
rank = 1
polar_metadata = { plan = "pro" }
limits = { api_calls = 1000 }
`;
const ISOLATES = 4;
/** The customer whose first four settlement answers are lost. */
const FLAKY = "dave";

let sync;
let syncUrl;
const query = (sql) => sync.query(sql);
let proxy;
let origin;
const calls = { grants: 0, settles: [] };
const flakyLeases = new Set();

/** Forwards to the sync worker; loses the first four settlement answers of FLAKY's leases. */
async function startProxy() {
  return serve(async (req, body) => {
    const res = await fetch(`${syncUrl}${req.url}`, {
      method: req.method,
      headers: { authorization: req.headers.authorization, "content-type": "application/json" },
      body,
    });
    const json = await res.json();
    const settle = req.url.match(/^\/v1\/leases\/([^/]+)\/settle$/);
    if (settle) {
      const id = settle[1];
      calls.settles.push({ id, status: res.status, body: json });
      const tries = calls.settles.filter((s) => s.id === id).length;
      if (flakyLeases.has(id) && tries < 5) return { status: 503, json: { code: "unavailable" } };
    } else {
      calls.grants += 1;
      if (JSON.parse(body).customer === FLAKY && json.id) flakyLeases.add(json.id);
    }
    return { status: res.status, json };
  });
}

/** Four Workers (isolates) on one KV namespace and one Durable Object namespace. */
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
      TOLLGATE_LEASE_TTL_SECONDS: "3",
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
  await mf.ready;
  const isolates = await Promise.all(Array.from({ length: ISOLATES }, (_, i) => mf.getWorker(`edge${i}`)));
  return { mf, isolates };
}

/** Publishes `customer`'s snapshot and an API key; returns the key. */
async function enrol(edge, customer) {
  const key = `tg_test_${customer}`;
  const res = await edge.isolates[0].fetch("http://edge.test/_tollgate/snapshots", {
    method: "PUT",
    headers: { "content-type": "application/json", "x-tollgate-secret": SECRET },
    body: JSON.stringify({
      snapshots: [snapshotOf({ customer, revision: 1 }, Date.now(), CATALOG)],
      keys: [{ hash: sha256Hex(key), customer }],
    }),
  });
  assert.equal(res.status, 200, await res.text());
  return key;
}

async function call(edge, isolate, key) {
  const res = await edge.isolates[isolate].fetch("http://edge.test/api/v1/call", {
    headers: { authorization: `Bearer ${key}` },
  });
  await res.arrayBuffer();
  return res.status;
}

async function consume(customer, amount) {
  const { status, body } = await sync.post("/v1/check", { customer, feature: "api_calls", amount, consume: true });
  assert.equal(status, 200);
  return body;
}

/** The period's counter: units settled (open leases not included). */
const counted = (customer) =>
  Number(query(`SELECT COALESCE(SUM(used), 0) FROM usage_counters WHERE customer = '${customer}'`));
const openLeases = (customer) =>
  Number(query(`SELECT count(*) FROM leases WHERE customer = '${customer}' AND settled_at IS NULL`));

let edge;

before(async () => {
  sync = await startSyncWorker(CATALOG);
  syncUrl = sync.url;
  origin = await serveOrigin();
  proxy = await startProxy();
  edge = await startEdge(`${proxy.url}/v1/leases`);
});

after(async () => {
  await edge?.mf.dispose();
  await proxy?.close();
  await origin?.close();
  await sync?.stop();
});

test("200 concurrent requests from 4 isolates on a limit of 50 allow exactly 50", async () => {
  const key = await enrol(edge, "ada");
  const grantsBefore = calls.grants;
  const statuses = await Promise.all(
    Array.from({ length: 200 }, (_, i) => call(edge, i % ISOLATES, key)),
  );
  assert.equal(statuses.filter((s) => s === 200).length, 50);
  assert.equal(statuses.filter((s) => s === 402).length, 150);
  assert.ok(calls.grants - grantsBefore <= 20, `${calls.grants - grantsBefore} lease requests`);
  // Once idle, the object settles: every allowed request is counted, once.
  await eventually("ada's leases settled", async () => openLeases("ada") === 0);
  assert.equal(counted("ada"), 50);
  assert.equal((await consume("ada", 1)).allowed, false);
});

test("the app's consume calls and the edge's draws together never pass the limit", async () => {
  const key = await enrol(edge, "bob");
  const results = await Promise.all([
    ...Array.from({ length: 60 }, (_, i) => call(edge, i % ISOLATES, key).then((s) => (s === 200 ? 1 : 0))),
    ...Array.from({ length: 30 }, () => consume("bob", 1).then((a) => (a.consumed ? 1 : 0))),
  ]);
  const spent = results.reduce((a, b) => a + b, 0);
  assert.ok(spent <= 50, `${spent} units spent of a limit of 50`);
  await eventually("bob's leases settled", async () => openLeases("bob") === 0);
  assert.equal(counted("bob"), spent, "every allowed unit, and nothing else, is counted");
  assert.ok(counted("bob") <= 50);
});

test("a lease whose object is gone expires and is counted as fully used", async () => {
  const lost = await startEdge(`${syncUrl}/v1/leases`);
  const key = await enrol(lost, "carol");
  assert.equal(await call(lost, 1, key), 200);
  assert.equal(openLeases("carol"), 1);
  await lost.mf.dispose();
  const expiresAt = Number(query(
    "SELECT (extract(epoch FROM expires_at) * 1000)::bigint FROM leases WHERE customer = 'carol'",
  ));
  await eventually("the lease's expiry", async () => Date.now() > expiresAt + 100);
  // The next lease on the counter (a new object's) settles the lost one first.
  const answer = await consume("carol", 0);
  assert.equal(answer.used, 10, "an open expired lease still counts as spent");
  const next = await sync.post("/v1/leases", { customer: "carol", feature: "api_calls", want: 1 });
  assert.equal(next.status, 201);
  assert.equal(query("SELECT settled_by || ':' || used FROM leases WHERE customer = 'carol' ORDER BY created_at LIMIT 1"), "expiry:10");
  assert.equal(counted("carol"), 10, "the whole lease, though one unit was spent");
});

test("a settlement retried 5 times counts once", async () => {
  const key = await enrol(edge, FLAKY);
  for (let i = 0; i < 3; i++) assert.equal(await call(edge, i % ISOLATES, key), 200);
  const [id] = await eventually("a lease of dave", async () => flakyLeases.size > 0 && [...flakyLeases]);
  await eventually("five settlements of the lease", async () =>
    calls.settles.filter((s) => s.id === id).length >= 5, 90_000);
  const tries = calls.settles.filter((s) => s.id === id);
  assert.equal(tries.length, 5, "retried until an answer arrived, then no more");
  assert.equal(tries[0].body.duplicate, false);
  assert.ok(tries.slice(1).every((t) => t.status === 200 && t.body.duplicate === true));
  assert.equal(counted(FLAKY), 3);
  assert.equal(Number(query(`SELECT count(*) FROM usage_events WHERE customer = '${FLAKY}'`)), 1);
});
