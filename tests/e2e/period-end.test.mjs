// Cancel at the period end: the customer keeps the plan until the period ends, and the edge
// downgrades once `now` passes it — from the snapshot's own facts at once, and from Polar's
// revocation when the (simulated) period really ends.

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

test("a subscription cancelled at the period end downgrades once now passes the period end", async () => {
  const key = await stack.edge.enrol("user_carol");
  await stack.sim.step({ action: "subscribe", customer: "user_carol", product: "premium" });
  const { object: subscription } = await stack.sim.step({
    action: "cancel",
    subscription: "user_carol",
    reason: "too_expensive",
  });
  assert.equal(subscription.cancel_at_period_end, true);
  const periodEnd = Date.parse(subscription.current_period_end);

  // The cancellation reached the edge: still Premium now, with the period end on record.
  const now = await eventually("carol's cancellation at the edge", async () => {
    stack.sync.assertRunning();
    const snapshot = await stack.edge.kv.get("ent:v1:user_carol", "json");
    if (!snapshot?.subscriptions.some((s) => s.cancel_at_period_end)) return false;
    return stack.edge.check(key, "advanced_analytics");
  });
  assert.equal(now.body.allowed, true);
  assert.equal(now.body.plan, "premium");

  // Just before the period end it still entitles; at the end the edge answers Free.
  const lastMoment = await stack.edge.check(key, "advanced_analytics", { now: periodEnd - 1 });
  assert.equal(lastMoment.body.allowed, true);
  assert.equal(lastMoment.body.plan, "premium");
  const ended = await stack.edge.check(key, "advanced_analytics", { now: periodEnd });
  assert.equal(ended.body.allowed, false);
  assert.equal(ended.body.plan, "free");
  assert.equal(ended.body.reason, "subscription_ended");

  // Polar's clock passes the period end: the subscription is revoked, and the edge answers
  // Free at the real time too.
  const { now: simNow } = await stack.sim.clock();
  const days = Math.ceil((periodEnd - Date.parse(simNow)) / 86_400_000) + 1;
  await stack.sim.advance({ days });
  const revoked = await eventually("the revocation at the edge", async () => {
    stack.sync.assertRunning();
    const answer = await stack.edge.check(key, "advanced_analytics");
    return answer.body.plan === "free" ? answer : false;
  });
  assert.equal(revoked.body.allowed, false);
  assert.equal(revoked.body.reason, "subscription_ended");
  assert.equal(
    stack.db.query("SELECT status FROM subscriptions s JOIN customers c ON c.id = s.customer_id WHERE c.external_id = 'user_carol'"),
    "canceled",
  );
});
