// The whole chain, end to end: a subscription made in the (simulated) Polar reaches the edge as
// a decision. Polar → signed webhook → sync worker → PostgreSQL → snapshot → publish → Worker.

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

/** The Worker's answer for `customer`'s key, once `accept(answer)` holds. */
function edgeAnswers(key, feature, accept, what) {
  return eventually(what, async () => {
    stack.sync.assertRunning();
    const answer = await stack.edge.check(key, feature);
    return accept(answer) ? answer : false;
  });
}

test("a Polar subscription becomes a decision at the edge", async () => {
  const key = await stack.edge.enrol("user_alice");

  // Before Polar says anything, the edge has nothing to go on for this customer.
  const before = await stack.edge.check(key, "advanced_analytics");
  assert.equal(before.body.allowed, false);
  assert.equal(before.body.reason, "snapshot_unavailable");

  const { events } = await stack.sim.step({
    action: "subscribe",
    customer: "user_alice",
    product: "premium",
  });
  assert.ok(events.includes("subscription.created"), JSON.stringify(events));

  // Every webhook the simulator signed was verified and stored once, and applied (in the
  // background, shortly after it was acknowledged).
  const sent = (await stack.sim.events()).length;
  await eventually("every webhook to be applied", () => {
    const stored = stack.db.query(
      "SELECT count(*) FILTER (WHERE status IN ('applied', 'stale', 'ignored')) || '/' || count(*) FROM webhook_events",
    );
    return stored === `${sent}/${sent}`;
  });
  assert.equal(
    stack.db.query(
      "SELECT snapshot->'plan'->>'key' FROM entitlement_snapshots WHERE customer = 'user_alice' ORDER BY revision DESC LIMIT 1",
    ),
    "premium",
  );

  const answer = await edgeAnswers(
    key,
    "advanced_analytics",
    (a) => a.body.allowed,
    "the edge to allow alice's Premium feature",
  );
  assert.equal(answer.body.allowed, true);
  assert.equal(answer.body.plan, "premium");
  assert.equal(answer.body.reason, "ok");
  assert.equal(answer.body.failurePolicy, null);

  // A gated request reaches the origin with the plan the edge decided on.
  const res = await stack.edge.fetch("/api/analytics/overview", {
    headers: { authorization: `Bearer ${key}` },
  });
  assert.equal(res.status, 200);
  const forwarded = await res.json();
  assert.equal(forwarded.headers["x-tollgate-plan"], "premium");
  assert.equal(forwarded.headers["x-tollgate-customer"], "user_alice");
});

test("an upgrade in Polar changes the edge's decision", async () => {
  const key = await stack.edge.enrol("user_paul");
  await stack.sim.step({ action: "subscribe", customer: "user_paul", product: "premium" });
  const refused = await edgeAnswers(
    key,
    "priority_support",
    (a) => a.body.plan === "premium",
    "paul's Premium snapshot at the edge",
  );
  assert.equal(refused.body.allowed, false);
  assert.equal(refused.body.reason, "not_in_plan");
  assert.deepEqual(refused.body.upgrade, { plan: "premium_plus", name: "Premium Plus" });

  await stack.sim.step({
    action: "change_product",
    subscription: "user_paul",
    product: "premium_plus",
    proration: "invoice",
  });
  const allowed = await edgeAnswers(
    key,
    "priority_support",
    (a) => a.body.allowed,
    "the edge to allow priority support after the upgrade",
  );
  assert.equal(allowed.body.plan, "premium_plus");
  assert.equal(allowed.body.allowed, true);
});

test("a Free customer at a gauge limit is refused with an upgrade link, then allowed after subscribing", async () => {
  const key = await stack.edge.enrol("user_bob");
  await stack.sim.step({ action: "create_customer", external_id: "user_bob" });
  const gauges = await stack.sync.put("/v1/gauges/user_bob", { projects: 1 });
  assert.equal(gauges.status, 200, JSON.stringify(gauges.body));

  const create = () =>
    stack.edge.fetch("/api/projects", {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "second project" }),
    });

  const refusal = await eventually("bob's refusal at the Free projects limit", async () => {
    stack.sync.assertRunning();
    const res = await create();
    return res.status === 402 ? res.json() : false;
  });
  assert.equal(refusal.reason, "limit_reached");
  assert.equal(refusal.plan, "free");
  assert.equal(refusal.limit, 1);
  assert.equal(refusal.used, 1);
  assert.deepEqual(refusal.upgrade, { plan: "premium", name: "Premium" });
  assert.equal(refusal.upgradeUrl, "https://app.example.com/billing/upgrade?plan=premium");

  await stack.sim.step({ action: "subscribe", customer: "user_bob", product: "premium" });
  const res = await eventually("bob's project to be allowed on Premium", async () => {
    stack.sync.assertRunning();
    const res = await create();
    return res.status === 200 ? res : false;
  });
  const forwarded = await res.json();
  assert.equal(forwarded.headers["x-tollgate-plan"], "premium");
  assert.equal(forwarded.headers["x-tollgate-remaining"], "8");
});
