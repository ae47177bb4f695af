// Metering under workerd: an isolate stops at the allowance its snapshot leaves, and every
// allowed metered request reaches the usage endpoint as one event, exactly once, through the
// queue, even though the endpoint refuses the first deliveries as a sync worker that is down.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { enrol, serveOrigin, serveUsage, startWorker } from "./harness.mjs";

let origin;
let usage;
let worker;

before(async () => {
  origin = await serveOrigin();
  usage = await serveUsage({ failFirst: 2 });
  worker = await startWorker({
    TOLLGATE_ORIGIN: origin.url,
    TOLLGATE_ROUTES: JSON.stringify([
      { path: "/api/v1/*", feature: "api_calls" },
      { method: "POST", path: "/api/projects", feature: "projects" },
    ]),
    TOLLGATE_USAGE_URL: `${usage.url}/v1/usage`,
  });
});
after(async () => {
  await worker.dispose();
  await usage.close();
  await origin.close();
});

test("allowed metered requests are counted in the isolate and shipped once each", async () => {
  const key = await enrol(worker, { customer: "metered", revision: 1, usage: { api_calls: 995 } });
  const as = { headers: { authorization: `Bearer ${key}` } };

  const statuses = [];
  const remaining = [];
  for (let i = 0; i < 7; i++) {
    const res = await worker.fetch(`/api/v1/call/${i}`, as);
    statuses.push(res.status);
    const body = await res.json();
    if (res.status === 200) remaining.push(body.headers["x-tollgate-remaining"]);
  }
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 402, 402], "the snapshot left 5 calls");
  assert.deepEqual(remaining, ["4", "3", "2", "1", "0"]);

  const check = await worker.check(key, "api_calls");
  assert.equal(check.body.used, 1000, "a check sees the isolate's count and consumes nothing");
  assert.equal(check.body.allowed, false);

  // Gauges are levels the app reports, not per-request counts: no events for them.
  await worker.fetch("/api/projects", { ...as, method: "POST" });

  await usage.until(5);
  const events = usage.events();
  assert.equal(events.length, 5);
  assert.equal(new Set(events.map((e) => e.id)).size, 5, "unique ids, each delivered once");
  for (const e of events) {
    assert.equal(e.customer, "metered");
    assert.equal(e.feature, "api_calls");
    assert.equal(e.amount, 1);
    assert.match(e.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  }
  assert.equal(usage.refused.length, 2, "the first deliveries were refused and retried");
  const retried = usage.refused.flatMap((b) => b.events.map((e) => e.id));
  assert.ok(retried.every((id) => events.some((e) => e.id === id)), "nothing refused was lost");
});
