// Shared by the Worker's tests and benchmark: the built Worker under Miniflare (workerd), the
// real engine package to build snapshots, and small local HTTP servers standing in for the
// origin, the sync worker's usage endpoint and an OIDC issuer's JWKS.

import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { Miniflare } from "miniflare";

export const edgeDir = join(dirname(fileURLToPath(import.meta.url)), "..");
export const repoDir = join(edgeDir, "..");
export const SECRET = "test-internal-secret";
export const USAGE_TOKEN = "test-usage-token";
export const seedCatalog = readFileSync(join(repoDir, "examples", "catalog.toml"), "utf8");

for (const [path, how] of [
  [join(edgeDir, "build", "index.js"), "npm --prefix edge-worker run build"],
  [join(repoDir, "gate-wasm", "pkg", "index.js"), "npm --prefix gate-wasm run build"],
]) {
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`${how}\` first`);
}

const engine = await import(join(repoDir, "gate-wasm", "pkg", "index.js"));
export const { Catalog, buildSnapshot } = engine;

export const sha256Hex = (text) => createHash("sha256").update(text).digest("hex");

/** A snapshot of `account` on `catalogToml` (the seed's by default), built by the real engine. */
export function snapshotOf(account, issuedAt = Date.now(), catalogToml = seedCatalog) {
  return buildSnapshot(Catalog.parse(catalogToml), account, new Date(issuedAt));
}

/** An HTTP server on 127.0.0.1 answering with `handler(req, body)` → {status, json}. */
export async function serve(handler) {
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const { status = 200, json = {} } = (await handler(req, body)) ?? {};
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(json));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** The origin: echoes what it received, so tests see what the Worker forwarded. */
export function serveOrigin() {
  return serve((req, body) => ({
    json: { method: req.method, url: req.url, headers: req.headers, body },
  }));
}

/**
 * The sync worker's `POST /v1/usage`: records the batches it accepts. `failFirst` requests are
 * answered 503 first, as by a sync worker that is down.
 */
export async function serveUsage({ failFirst = 0 } = {}) {
  const accepted = [];
  const refused = [];
  let waiters = [];
  const server = await serve((req, body) => {
    if (req.headers.authorization !== `Bearer ${USAGE_TOKEN}`) return { status: 401 };
    const batch = JSON.parse(body);
    if (refused.length < failFirst) {
      refused.push(batch);
      return { status: 503, json: { code: "unavailable" } };
    }
    accepted.push(batch);
    waiters = waiters.filter((w) => !w());
    return { json: { accepted: batch.events.length, duplicates: 0, rejected: [] } };
  });
  const events = () => accepted.flatMap((b) => b.events);
  return {
    ...server,
    accepted,
    refused,
    events,
    /** Resolves once `count` events were accepted in all. */
    until(count) {
      return new Promise((resolve) => {
        const done = () => (events().length >= count ? (resolve(), true) : false);
        if (!done()) waiters.push(done);
      });
    },
  };
}

/** The Worker under workerd, with `bindings` over test defaults. */
export async function startWorker(bindings = {}) {
  const mf = new Miniflare({
    modules: true,
    scriptPath: join(edgeDir, "build", "index.js"),
    modulesRoot: join(edgeDir, "build"),
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: "2025-01-01",
    kvNamespaces: ["ENTITLEMENTS"],
    // Exact features' leases (wrangler.toml's binding).
    durableObjects: { LEASES: "ExactLeases" },
    queueProducers: { USAGE: { queueName: "tollgate-usage" } },
    queueConsumers: {
      "tollgate-usage": { maxBatchSize: 10, maxBatchTimeout: 1, maxRetries: 20, retryDelay: 0 },
    },
    bindings: {
      TOLLGATE_INTERNAL_SECRET: SECRET,
      TOLLGATE_USAGE_TOKEN: USAGE_TOKEN,
      ...bindings,
    },
  });
  await mf.ready;
  const kv = await mf.getKVNamespace("ENTITLEMENTS");
  const fetch = (path, init = {}) => mf.dispatchFetch(`http://edge.test${path}`, init);
  return {
    mf,
    kv,
    fetch,
    /** PUT /_tollgate/snapshots with the internal secret. */
    async publish({ snapshots = [], keys = [] }, secret = SECRET) {
      const res = await fetch("/_tollgate/snapshots", {
        method: "PUT",
        headers: { "content-type": "application/json", "x-tollgate-secret": secret },
        body: JSON.stringify({ snapshots, keys }),
      });
      return { status: res.status, body: await res.json() };
    },
    /** GET /v1/check as `credential`; `now` (ms) is sent with the internal secret. */
    async check(credential, feature, { amount, now } = {}) {
      const q = new URLSearchParams({ feature });
      if (amount !== undefined) q.set("amount", String(amount));
      const headers = { authorization: `Bearer ${credential}` };
      if (now !== undefined) {
        q.set("now", String(now));
        headers["x-tollgate-secret"] = SECRET;
      }
      const res = await fetch(`/v1/check?${q}`, { headers });
      return { status: res.status, body: await res.json() };
    },
    dispose: () => mf.dispose(),
  };
}

/** Publishes a customer's snapshot and an API key for them; returns the key. */
export async function enrol(worker, account, issuedAt = Date.now(), catalogToml = seedCatalog) {
  const key = `tg_test_${account.customer}`;
  const res = await worker.publish({
    snapshots: [snapshotOf(account, issuedAt, catalogToml)],
    keys: [{ hash: sha256Hex(key), customer: account.customer }],
  });
  if (res.status !== 200) throw new Error(`publish failed: ${JSON.stringify(res.body)}`);
  return key;
}
