// Compiled by types.test.mjs against the built package's declarations (never run).

import { Catalog, Gate, GateError, buildSnapshot } from "@tollgate/gate";
import type { Account, Decision, Reason, Snapshot, Warning } from "@tollgate/gate";
import { initGate, Gate as EdgeGate } from "@tollgate/gate/edge";
import wasm from "@tollgate/gate/gate.wasm";

initGate(wasm);

const account: Account = {
  customer: "user_123",
  subscriptions: [
    {
      id: "sub_1",
      status: "active",
      current_period_start: "2026-11-10T00:00:00Z",
      current_period_end: "2026-12-10T00:00:00Z",
      product_id: "prod_1",
      product: { id: "prod_1", metadata: { plan: "premium" } },
      seats: null,
    },
  ],
  usage: { api_calls: 10 },
  gauges: { projects: 2 },
  grants: [{ feature: "api_calls", amount: 500, expires_at: null }, { feature: "sso", amount: true }],
};

const catalog: Catalog = Catalog.parse("default_plan = \"free\"");
const snapshot: Snapshot = buildSnapshot(catalog, account, new Date());
const issued: string = snapshot.issued_at;
const schema: 1 = snapshot.schema;
const gate: Gate = Gate.fromSnapshot(snapshot);
const fromText: Gate = EdgeGate.fromSnapshot(JSON.stringify(snapshot));

const decision: Decision = gate.check("projects");
const allowed: boolean = decision.allowed;
const reason: Reason = decision.reason;
const warning: Warning | null = decision.warning;
const limit: number | null = decision.limit;
const overage: number = decision.overage;
const upgradeName: string | undefined = decision.upgrade?.name;
const resets: string | null = decision.resetsAt;
const pending: Decision = gate.check("api_calls", 1, new Date(), 12);
const many: Decision[] = fromText.checkMany([{ feature: "api_calls", amount: 3 }], Date.now());

try {
  gate.check("projects", 2, 1_700_000_000_000);
} catch (err) {
  if (err instanceof GateError) {
    const code: string = err.code;
    console.log(code, err.message);
  }
}

// @ts-expect-error a feature is a string
gate.check(1);
// @ts-expect-error now is a Date or a number
gate.check("projects", 1, "2026-11-24");
// @ts-expect-error pending is a number of units
gate.check("api_calls", 1, Date.now(), "12");
// @ts-expect-error reasons are a closed set
const wrong: Reason = "denied";
// @ts-expect-error Gates come from fromSnapshot
new Gate();
// @ts-expect-error an account needs a customer
buildSnapshot(catalog, { usage: {} });

console.log(issued, schema, allowed, reason, warning, limit, overage, upgradeName, resets, pending, many, wrong);
