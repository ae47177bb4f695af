// Metered calls through the Worker come back as usage: the Worker's queue consumer posts them to
// the sync worker, PostgreSQL counts them once, and the customer's next snapshot carries them.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { eventually, startStack } from "./stack.mjs";

let stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

test("metered calls through the Worker arrive as usage in PostgreSQL and move the snapshot", async () => {
  const key = await stack.edge.enrol("user_dave");
  await stack.sim.step({ action: "subscribe", customer: "user_dave", product: "premium" });
  const first = await eventually("dave's Premium snapshot at the edge", async () => {
    stack.sync.assertRunning();
    const snapshot = await stack.edge.kv.get("ent:v1:user_dave", "json");
    return snapshot?.plan.key === "premium" ? snapshot : false;
  });
  assert.equal(first.features.api_calls.used, 0);

  const calls = 5;
  const remaining = [];
  for (let i = 0; i < calls; i += 1) {
    const res = await stack.edge.fetch(`/api/v1/reports/${i}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    assert.equal(res.status, 200, await res.clone().text());
    remaining.push((await res.json()).headers["x-tollgate-remaining"]);
  }
  // The edge counts what it allowed before the sync worker has heard of it.
  assert.deepEqual(remaining, ["49999", "49998", "49997", "49996", "49995"]);

  // Counted once each in PostgreSQL.
  await eventually("the usage events in PostgreSQL", () => {
    stack.sync.assertRunning();
    return stack.db.query(
      "SELECT count(*) FROM usage_events WHERE customer = 'user_dave' AND feature = 'api_calls'",
    ) === String(calls);
  });
  assert.equal(
    stack.db.query(
      "SELECT sum(used) FROM usage_counters WHERE customer = 'user_dave' AND feature = 'api_calls'",
    ),
    String(calls),
  );

  // The next snapshot carries them, in the sync worker and in the Worker's KV.
  const moved = await eventually("a snapshot counting dave's calls in KV", async () => {
    stack.sync.assertRunning();
    const snapshot = await stack.edge.kv.get("ent:v1:user_dave", "json");
    return snapshot?.features.api_calls.used === calls ? snapshot : false;
  });
  assert.ok(moved.revision > first.revision, `revision ${moved.revision} after ${first.revision}`);
  const stored = await stack.sync.get("/v1/entitlements/user_dave");
  assert.equal(stored.status, 200);
  assert.equal(stored.body.features.api_calls.used, calls);

  // The edge answers from the new snapshot without counting the calls twice.
  const check = await stack.edge.check(key, "api_calls");
  assert.equal(check.body.used, calls);
  assert.equal(check.body.remaining, 50_000 - calls - 1);
});
