// The example app's budgets under `next start`, against the real stack:
//
// 1. the edge middleware's cost per request: GET /app/analytics for a Premium customer (the
//    middleware checks `advanced_analytics` and lets the request through) served by the built
//    app, and the same route served by a second `next start` of the same build with the
//    middleware taken out of its manifest — both in this run, requests interleaved, one at a time;
// 2. the JavaScript /billing sends to the browser: every <script src> of the page, gzipped.
//
// Usage: npm --prefix examples/nextjs run build && node examples/nextjs/scripts/budgets.mjs [requests]

import { execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { cpSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

import { appDir, eventually, SESSION_SECRET, startApp, startExampleStack } from "../test/support.mjs";

const requests = Number(process.argv[2] ?? 2000);
const warmup = 200;

/** The demo session cookie, as lib/session.ts signs it. */
function sessionCookie(customer) {
  const b64 = (buffer) => buffer.toString("base64url");
  const payload = b64(
    Buffer.from(JSON.stringify({ role: "customer", subject: customer, expires: Math.floor(Date.now() / 1000) + 3600 })),
  );
  const signature = b64(createHmac("sha256", SESSION_SECRET).update(payload).digest());
  return `tollgate_demo_session=${payload}.${signature}`;
}

/** The built app with the middleware taken out: a copy of .next (hard links) with an empty manifest. */
function copyWithoutMiddleware() {
  const dir = mkdtempSync(join(appDir, ".budget-"));
  execFileSync("cp", ["-al", join(appDir, ".next"), join(dir, ".next")]);
  for (const file of ["package.json", "next.config.ts"]) cpSync(join(appDir, file), join(dir, file));
  symlinkSync(join(appDir, "node_modules"), join(dir, "node_modules"));
  const manifestPath = join(dir, ".next", "server", "middleware-manifest.json");
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
  manifest.middleware = {};
  manifest.sortedMiddleware = [];
  unlinkSync(manifestPath); // a hard link: write a new file, not through the link
  writeFileSync(manifestPath, JSON.stringify(manifest));
  return dir;
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function timed(url, cookie) {
  const started = process.hrtime.bigint();
  const response = await fetch(url, { headers: { cookie }, redirect: "manual" });
  await response.arrayBuffer();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
  return ms;
}

const { stack, appToken, supportToken } = await startExampleStack();
const servers = [];
let copy;
try {
  await stack.sim.step({ action: "subscribe", customer: "user_budget", product: "premium" });
  await eventually(
    "user_budget's Premium snapshot",
    async () => (await stack.sync.get("/v1/entitlements/user_budget")).body?.plan?.key === "premium",
  );
  const options = { syncUrl: stack.sync.url, appToken, supportToken };
  const withMiddleware = await startApp(options);
  servers.push(withMiddleware);
  copy = copyWithoutMiddleware();
  const without = await startApp({ ...options, dir: copy });
  servers.push(without);

  const cookie = sessionCookie("user_budget");
  const path = "/app/analytics";
  const samples = { with: [], without: [] };
  // A Free customer is refused by the middleware: the copy must let them through.
  const free = sessionCookie("user_budget_free");
  const refused = await fetch(`${withMiddleware.url}${path}`, { headers: { cookie: free }, redirect: "manual" });
  const through = await fetch(`${without.url}${path}`, { headers: { cookie: free }, redirect: "manual" });
  if (refused.status !== 307 || through.status !== 200) {
    throw new Error(`the copy still runs the middleware (${refused.status}, ${through.status})`);
  }
  for (let i = 0; i < warmup + requests; i += 1) {
    // Alternate which server goes first, so neither always follows the other.
    const order = i % 2 === 0 ? [withMiddleware, without] : [without, withMiddleware];
    const [first, second] = [
      await timed(`${order[0].url}${path}`, cookie),
      await timed(`${order[1].url}${path}`, cookie),
    ];
    const [a, b] = order[0] === withMiddleware ? [first, second] : [second, first];
    if (i >= warmup) {
      samples.with.push(a);
      samples.without.push(b);
    }
  }
  const stats = (values) => {
    const sorted = [...values].sort((x, y) => x - y);
    return { median: percentile(sorted, 50), p99: percentile(sorted, 99) };
  };
  const w = stats(samples.with);
  const wo = stats(samples.without);
  const f = (ms) => `${ms.toFixed(2)} ms`;
  console.log(
    `GET ${path} under next start, ${requests} requests each after ${warmup} of warm-up, interleaved, one at a time:`,
  );
  console.log(`  with the middleware:    median ${f(w.median)}, p99 ${f(w.p99)}`);
  console.log(`  without the middleware: median ${f(wo.median)}, p99 ${f(wo.p99)}`);
  console.log(`  middleware overhead:    median ${f(w.median - wo.median)}, p99 ${f(w.p99 - wo.p99)}`);

  const html = await (await fetch(`${withMiddleware.url}/billing`, { headers: { cookie } })).text();
  const scripts = [...html.matchAll(/<script[^>]*\ssrc="([^"]+)"/g)].map((m) => m[1]);
  let raw = 0;
  let gzip = 0;
  for (const src of new Set(scripts)) {
    const body = Buffer.from(await (await fetch(new URL(src, withMiddleware.url))).arrayBuffer());
    raw += body.length;
    gzip += gzipSync(body).length;
  }
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
  console.log(`/billing JavaScript: ${new Set(scripts).size} scripts, ${kib(raw)} raw, ${kib(gzip)} gzipped`);
} finally {
  for (const server of servers) server.stop();
  if (copy !== undefined) rmSync(copy, { recursive: true, force: true });
  await stack.stop();
}
