// Seats, end to end: a Team Seats checkout in the (simulated) Polar sets the Team plan's
// `team_members` limit at the edge to the seats bought, and a seat added through Polar's
// subscription update lifts it. Polar → signed webhooks → sync worker → snapshot → Worker.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { eventually, startStack } from "./stack.mjs";

let stack;
before(async () => {
  // The demo seed sells Team Seats (metadata plan = team_seats, 1 to 50 seats).
  stack = await startStack({ seed: "demo" });
});
after(async () => {
  await stack?.stop();
});

/** The Worker's answer about `feature` for `key`, once `accept(body)` holds. */
function edgeAnswers(key, feature, accept, what, amount) {
  return eventually(what, async () => {
    stack.sync.assertRunning();
    const { status, body } = await stack.edge.check(key, feature, { amount });
    return status === 200 && accept(body) ? body : false;
  });
}

test("the seats bought limit team members at the edge, and a seat added lifts the limit", async () => {
  const key = await stack.edge.enrol("user_team");
  const products = await stack.sim.api("GET", "/v1/products/?metadata[plan]=team_seats");
  const [teamSeats] = products.items;
  assert.equal(teamSeats?.name, "Team Seats");

  // A checkout for three seats, paid.
  const checkout = await stack.sim.api("POST", "/v1/checkouts/", {
    products: [teamSeats.id],
    external_customer_id: "user_team",
    seats: 3,
  });
  assert.equal(checkout.seats, 3);
  const { object: subscription } = await stack.sim.step({
    action: "complete_checkout",
    checkout: checkout.id,
  });
  assert.equal(subscription.units, 3);

  const three = await edgeAnswers(
    key,
    "team_members",
    (body) => body.plan === "team_seats",
    "the edge to put user_team on Team Seats",
  );
  assert.equal(three.allowed, true);
  assert.equal(three.limit, 3);

  // Three members already: a fourth does not fit in three seats.
  const gauges = await stack.sync.put("/v1/gauges/user_team", { team_members: 3 });
  assert.equal(gauges.status, 200, JSON.stringify(gauges.body));
  const full = await edgeAnswers(
    key,
    "team_members",
    (body) => body.used === 3,
    "the edge to count three members",
  );
  assert.equal(full.allowed, false);
  assert.equal(full.reason, "limit_reached");
  assert.equal(full.limit, 3);
  assert.equal(full.remaining, 0);

  // A seat added through Polar's subscription update.
  const updated = await stack.sim.api("PATCH", `/v1/subscriptions/${subscription.id}`, {
    seats: 4,
    proration_behavior: "invoice",
  });
  assert.equal(updated.units, 4);
  const four = await edgeAnswers(
    key,
    "team_members",
    (body) => body.limit === 4,
    "the edge to see the fourth seat",
  );
  assert.equal(four.allowed, true);
  assert.equal(four.plan, "team_seats");
  assert.equal(four.used, 3);
  assert.equal(four.remaining, 0);
});
