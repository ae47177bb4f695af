// Budget: the latency a gated request adds over a pass-through request, in the same workerd,
// same run, requests interleaved so both see the same machine state. Also the Worker's size.
//
//   npm --prefix edge-worker run build && npm --prefix edge-worker run bench
//
// Each request goes Node → workerd (Miniflare) → a local origin → back. A pass-through
// request matches no route: the Worker forwards it untouched. A gated request matches a route:
// API key → customer (isolate cache), snapshot (isolate cache), engine check, X-Tollgate
// headers, then the same forward. The difference of the medians is what gating costs.

import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

import { edgeDir, enrol, serve, serveUsage, startWorker } from "../test/harness.mjs";
import { measure, ms, quantile, warmUp } from "./interleave.mjs";

const WARMUP = Number(process.env.WARMUP ?? 500);
const ROUNDS = Number(process.env.ROUNDS ?? 5000);

// A minimal origin: the same small answer for every request.
const origin = await serve(() => ({ json: { ok: true } }));
const usage = await serveUsage();
const worker = await startWorker({
  TOLLGATE_ORIGIN: origin.url,
  TOLLGATE_ROUTES: JSON.stringify([
    { method: "GET", path: "/api/projects", feature: "projects" },
    { path: "/api/v1/*", feature: "api_calls" },
  ]),
  TOLLGATE_USAGE_URL: `${usage.url}/v1/usage`,
});
// Unlimited API calls (a grant) so that no request is refused; projects is a gauge below its
// limit, so it is gated but not metered.
const key = await enrol(worker, {
  customer: "bench",
  revision: 1,
  grants: [{ feature: "api_calls", amount: "unlimited" }],
});
const auth = { headers: { authorization: `Bearer ${key}` } };

const kinds = {
  "pass-through": () => worker.fetch("/public/page"),
  "gated (gauge)": () => worker.fetch("/api/projects", auth),
  "gated (metered, + queue event)": () => worker.fetch("/api/v1/items", auth),
};

await warmUp(kinds, WARMUP);
const samples = await measure(kinds, ROUNDS);

const base = quantile(samples["pass-through"], 0.5);
// Paired: each gated request against the pass-through request of the same round, so that a
// slow stretch of the (shared) machine weighs on both sides.
const paired = (name) => quantile(samples[name].map((ns, i) => ns - samples["pass-through"][i]), 0.5);

console.log(`machine: ${cpus().length} × ${cpus()[0]?.model}, Node ${process.version}`);
console.log(`rounds: ${ROUNDS} interleaved (after ${WARMUP} warm-up)`);
console.log("| request | median ms | p90 ms | p99 ms | added: difference of medians ms | added: median of paired differences ms |");
console.log("|---|---|---|---|---|---|");
for (const [name, xs] of Object.entries(samples)) {
  const median = quantile(xs, 0.5);
  console.log(
    `| ${name} | ${ms(median)} | ${ms(quantile(xs, 0.9))} | ${ms(quantile(xs, 0.99))} | ${name === "pass-through" ? "—" : ms(median - base)} | ${name === "pass-through" ? "—" : ms(paired(name))} |`,
  );
}

const sizes = ["index_bg.wasm", "index.js"].map((file) => {
  const bytes = readFileSync(join(edgeDir, "build", file));
  return { file, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
});
console.log("\n| file | raw KiB | gzip KiB |\n|---|---|---|");
for (const { file, raw, gzip } of sizes) console.log(`| build/${file} | ${(raw / 1024).toFixed(1)} | ${(gzip / 1024).toFixed(1)} |`);

await worker.dispose();
await usage.close();
await origin.close();
