// What an exact feature costs at the edge: the latency a gated request on an exact feature
// (through the customer's Durable Object, spending a lease) adds over a gated request on a
// plain metered feature (the isolate's own count), same workerd, same run, interleaved; and the
// requests the edge makes to the sync worker per 1 000 exact checks.
//
//   cargo build -p tollgate-sync && npm --prefix gate-wasm run build && \
//   npm --prefix edge-worker run build && node edge-worker/bench/exact.mjs
//
// The sync worker is the real one (`tollgate serve`, debug build) on PostgreSQL; a pass-through
// proxy in front of it counts the lease and settlement calls.

import { edgeDir, enrol, serve, startWorker } from "../test/harness.mjs";
import { startSyncWorker } from "../test/sync-worker.mjs";
import { measure, ms, quantile, warmUp } from "./interleave.mjs";

const WARMUP = Number(process.env.WARMUP ?? 300);
const ROUNDS = Number(process.env.ROUNDS ?? 3000);
const LEASE = 100;

const CATALOG = `
default_plan = "free"

[features]
plain_calls = { type = "metered", reset = "month" }
exact_calls = { type = "metered", reset = "month", exact = true, lease = ${LEASE} }

[plans.free]
name = "Free"
rank = 0
limits = { plain_calls = 100000000, exact_calls = 100000000 }
`;

const sync = await startSyncWorker(CATALOG);
const calls = { grants: 0, settles: 0 };
const proxy = await serve(async (req, body) => {
  if (req.url.endsWith("/settle")) calls.settles += 1;
  else if (req.url === "/v1/leases") calls.grants += 1;
  const res = await fetch(`${sync.url}${req.url}`, {
    method: req.method,
    headers: { authorization: req.headers.authorization, "content-type": "application/json" },
    body,
  });
  return { status: res.status, json: await res.json() };
});
const origin = await serve(() => ({ json: { ok: true } }));
const worker = await startWorker({
  TOLLGATE_ORIGIN: origin.url,
  TOLLGATE_ROUTES: JSON.stringify([
    { path: "/api/plain/*", feature: "plain_calls" },
    { path: "/api/exact/*", feature: "exact_calls" },
  ]),
  TOLLGATE_USAGE_URL: `${proxy.url}/v1/usage`,
  TOLLGATE_LEASES_URL: `${proxy.url}/v1/leases`,
});
const key = await enrol(worker, { customer: "bench", revision: 1 }, Date.now(), CATALOG);
const auth = { headers: { authorization: `Bearer ${key}` } };

const kinds = {
  "gated, plain metered": () => worker.fetch("/api/plain/x", auth),
  "gated, exact (Durable Object + lease)": () => worker.fetch("/api/exact/x", auth),
};

await warmUp(kinds, WARMUP);
const before = { ...calls };
const samples = await measure(kinds, ROUNDS);
const during = { grants: calls.grants - before.grants, settles: calls.settles - before.settles };

const [plain, exact] = Object.values(samples);
console.log(`${ROUNDS} rounds after ${WARMUP} warm-up; lease ${LEASE} units (build ${edgeDir})`);
console.log("| request | median | p99 |");
console.log("|---|---|---|");
for (const [name, xs] of Object.entries(samples)) {
  console.log(`| ${name} | ${ms(quantile(xs, 0.5))} ms | ${ms(quantile(xs, 0.99))} ms |`);
}
const paired = exact.map((x, i) => x - plain[i]);
console.log(
  `| added by exact | ${ms(quantile(exact, 0.5) - quantile(plain, 0.5))} ms (difference of medians), ` +
    `${ms(quantile(paired, 0.5))} ms (median of paired differences) | ` +
    `${ms(quantile(exact, 0.99) - quantile(plain, 0.99))} ms (difference of p99s) |`,
);
const per1000 = (n) => ((n * 1000) / ROUNDS).toFixed(1);
console.log(
  `sync worker requests per 1 000 exact checks: ${per1000(during.grants + during.settles)} ` +
    `(${per1000(during.grants)} leases, ${per1000(during.settles)} settlements)`,
);

await worker.dispose();
await proxy.close();
await origin.close();
await sync.stop();
