// Benchmark of the built package: median nanoseconds per `gate.check` on a loaded 20-feature
// snapshot, beside a plain-JavaScript object lookup doing the same comparison in the same run,
// and the size of gate.wasm.
//
// Usage: npm --prefix gate-wasm run build && node gate-wasm/bench/check.mjs

import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, gzipSync } from "node:zlib";

import { Catalog, Gate, buildSnapshot } from "../pkg/index.js";

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), "..", "pkg");

const BATCH = 1_000; // calls per timed batch: short, so most batches run unpreempted
const BATCHES = 2_001; // timed batches per candidate; the median batch is reported
const WARMUP = 200; // untimed batches first, so the JIT has settled

// A catalog of 20 features: 8 gauges, 8 metered, 4 booleans; Free and Pro plans.
const gauges = Array.from({ length: 8 }, (_, i) => `gauge_${i}`);
const metered = Array.from({ length: 8 }, (_, i) => `metered_${i}`);
const booleans = Array.from({ length: 4 }, (_, i) => `flag_${i}`);
const features = [...gauges, ...metered, ...booleans];
const catalogToml = [
  'default_plan = "free"',
  "[features]",
  ...gauges.map((f) => `${f} = { type = "gauge" }`),
  ...metered.map((f) => `${f} = { type = "metered", reset = "billing_period" }`),
  ...booleans.map((f) => `${f} = { type = "boolean" }`),
  "[plans.free]",
  'name = "Free"',
  "rank = 0",
  "[plans.free.limits]",
  ...gauges.map((f) => `${f} = 5`),
  ...metered.map((f) => `${f} = 1000`),
  "[plans.pro]",
  'name = "Pro"',
  "rank = 1",
  'polar_metadata = { plan = "pro" }',
  "[plans.pro.limits]",
  ...gauges.map((f) => `${f} = 100`),
  ...metered.map((f) => `${f} = { limit = 100000, overage = "bill", warn_at = 0.8 }`),
  ...booleans.map((f) => `${f} = true`),
].join("\n");

const issuedAt = Date.parse("2026-11-24T09:00:00.000Z");
const now = issuedAt + 3_600_000;
const account = {
  customer: "user_bench",
  subscriptions: [
    {
      id: "sub_bench",
      status: "active",
      recurring_interval: "month",
      recurring_interval_count: 1,
      current_period_start: "2026-11-10T00:00:00Z",
      current_period_end: "2026-12-10T00:00:00Z",
      cancel_at_period_end: false,
      product_id: "prod_pro",
      product: { id: "prod_pro", name: "Pro", metadata: { plan: "pro" } },
    },
  ],
  gauges: Object.fromEntries(gauges.map((f, i) => [f, 10 + i])),
  usage: Object.fromEntries(metered.map((f, i) => [f, 1000 * (i + 1)])),
};

const snapshot = buildSnapshot(Catalog.parse(catalogToml), account, issuedAt);
const gate = Gate.fromSnapshot(snapshot);

// The plain-JavaScript baseline: the same limits in an object, and the comparison
// `used + amount <= limit` (unlimited and booleans short-circuit).
const table = Object.fromEntries(
  Object.entries(snapshot.features).map(([key, f]) => [
    key,
    { limit: typeof f.limit === "number" ? f.limit : null, used: f.used ?? 0, on: f.limit !== null },
  ]),
);
function plainCheck(feature, amount) {
  const entry = table[feature];
  if (entry === undefined || !entry.on) return false;
  return entry.limit === null || entry.used + amount <= entry.limit;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * Median ns per call of each candidate over the 20 features in turn. The candidates take
 * turns batch by batch, so a busy machine slows them alike.
 */
function measure(candidates) {
  let sink = 0;
  const perCall = candidates.map(() => []);
  for (let round = 0; round < WARMUP + BATCHES; round += 1) {
    candidates.forEach(([, run], c) => {
      const start = process.hrtime.bigint();
      for (let i = 0; i < BATCH; i += 1) {
        if (run(features[i % 20])) sink += 1;
      }
      const elapsed = Number(process.hrtime.bigint() - start);
      if (round >= WARMUP) perCall[c].push(elapsed / BATCH);
    });
  }
  if (sink < 0) console.log(sink); // keeps the results alive
  return candidates.map(([name], c) => [name, median(perCall[c])]);
}

const results = measure([
  ["gate.check(feature, 1, now)", (f) => gate.check(f, 1, now).allowed],
  ["gate.check(feature)  (now = Date.now())", (f) => gate.check(f).allowed],
  ["plain JS object lookup + comparison", (f) => plainCheck(f, 1)],
]);

const wasm = readFileSync(join(pkgDir, "gate.wasm"));
const kib = (n) => `${(n / 1024).toFixed(1)} KiB (${n} bytes)`;

console.log(`node ${process.version}, ${cpus()[0]?.model ?? "unknown CPU"} × ${cpus().length}`);
console.log(`20-feature snapshot, ${BATCHES} batches of ${BATCH} calls each, median per call:`);
for (const [name, ns] of results) console.log(`  ${name.padEnd(42)} ${ns.toFixed(1).padStart(7)} ns`);
console.log("gate.wasm:");
console.log(`  raw     ${kib(wasm.length)}`);
console.log(`  gzip -9 ${kib(gzipSync(wasm, { level: 9 }).length)}`);
console.log(`  brotli  ${kib(brotliCompressSync(wasm).length)}`);
