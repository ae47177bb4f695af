// The JavaScript API of the built package, through its Node ESM entry.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { Catalog, Gate, GateError, buildSnapshot } from "../pkg/index.js";
import { ISSUED_AT, freeAccount, premiumAccount, seedCatalog } from "./support.mjs";

const catalog = Catalog.parse(seedCatalog);
const snapshot = buildSnapshot(catalog, premiumAccount(), ISSUED_AT);
const gate = Gate.fromSnapshot(snapshot);
const asOf = "2026-11-24T09:00:00.000Z";
const at = ISSUED_AT + 3_600_000;

const DECISION_FIELDS = [
  "allowed",
  "asOf",
  "limit",
  "overage",
  "plan",
  "reason",
  "remaining",
  "resetsAt",
  "stale",
  "upgrade",
  "used",
  "warning",
];

function assertGateError(run, code, pattern) {
  assert.throws(run, (err) => {
    assert.ok(err instanceof Error, "an Error");
    assert.ok(err instanceof GateError, "a GateError");
    assert.equal(err.code, code);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

describe("buildSnapshot", () => {
  test("returns a plain object that survives JSON", () => {
    assert.equal(Object.getPrototypeOf(snapshot), Object.prototype);
    assert.deepEqual(JSON.parse(JSON.stringify(snapshot)), snapshot);
    assert.equal(snapshot.schema, 1);
    assert.equal(snapshot.customer, "user_123");
    assert.equal(snapshot.revision, 7);
    assert.equal(snapshot.issued_at, asOf);
    assert.deepEqual(snapshot.plan, { key: "premium", name: "Premium" });
  });

  test("takes now as a Date or as epoch milliseconds", () => {
    const fromDate = buildSnapshot(catalog, premiumAccount(), new Date(ISSUED_AT));
    assert.deepEqual(fromDate, snapshot);
  });

  test("uses the current time when now is omitted", () => {
    const before = Date.now();
    const current = buildSnapshot(catalog, freeAccount());
    const issued = Date.parse(current.issued_at);
    assert.ok(issued >= before && issued <= Date.now(), current.issued_at);
  });

  test("refuses an account of the wrong shape with invalid_account", () => {
    assertGateError(
      () => buildSnapshot(catalog, { subscriptions: [] }),
      "invalid_account",
      /customer/,
    );
    assertGateError(() => buildSnapshot(catalog, "user_123"), "invalid_account");
    assertGateError(
      () => buildSnapshot(catalog, { customer: "u", usage: { api_calls: -1 } }),
      "invalid_account",
    );
    assertGateError(
      () => buildSnapshot(catalog, { customer: "u", usage: { api_calls: 1n } }),
      "invalid_account",
      /JSON/,
    );
  });

  test("refuses something that is not a Catalog", () => {
    assertGateError(() => buildSnapshot({}, freeAccount()), "invalid_argument", /Catalog/);
  });
});

describe("Catalog.parse", () => {
  test("rejects a bad catalog with the engine's code and the place", () => {
    const bad = seedCatalog.replace("projects = 10", "projets = 10");
    assertGateError(() => Catalog.parse(bad), "unknown_feature", /plans\.premium\.limits\.projets/);
  });

  test("rejects TOML that does not parse", () => {
    assertGateError(() => Catalog.parse("default_plan = "), "invalid_toml");
  });

  test("wants a string", () => {
    assertGateError(() => Catalog.parse(42), "invalid_argument", /string/);
  });

  test("cannot be constructed directly", () => {
    assertGateError(() => new Catalog(), "invalid_argument", /Catalog\.parse/);
  });
});

describe("Gate.fromSnapshot", () => {
  test("accepts the snapshot's JSON text as well as the object", () => {
    const fromText = Gate.fromSnapshot(JSON.stringify(snapshot));
    assert.deepEqual(fromText.check("projects", 1, at), gate.check("projects", 1, at));
  });

  test("refuses a malformed snapshot with invalid_snapshot", () => {
    assertGateError(() => Gate.fromSnapshot("{"), "invalid_snapshot");
    assertGateError(() => Gate.fromSnapshot({ schema: 1 }), "invalid_snapshot");
    assertGateError(() => Gate.fromSnapshot(null), "invalid_snapshot");
    assertGateError(() => Gate.fromSnapshot(7), "invalid_snapshot");
  });

  test("refuses a schema it does not know", () => {
    assertGateError(
      () => Gate.fromSnapshot({ ...snapshot, schema: 2 }),
      "unsupported_schema",
      /schema 2/,
    );
  });
});

describe("check", () => {
  test("answers a Decision with exactly the documented fields", () => {
    const decision = gate.check("projects", 1, at);
    assert.deepEqual(Object.keys(decision).sort(), DECISION_FIELDS);
    assert.deepEqual(decision, {
      allowed: true,
      reason: "ok",
      plan: "premium",
      limit: 10,
      used: 3,
      remaining: 6,
      resetsAt: null,
      overage: 0,
      warning: null,
      upgrade: null,
      asOf,
      stale: false,
    });
  });

  test("reports a metered feature's reset, soft limit and overage", () => {
    assert.deepEqual(gate.check("api_calls", 1, at), {
      allowed: true,
      reason: "ok",
      plan: "premium",
      limit: 50_000,
      used: 39_999,
      remaining: 10_000,
      resetsAt: "2026-12-10T00:00:00.000Z",
      overage: 0,
      warning: "soft_limit",
      upgrade: null,
      asOf,
      stale: false,
    });
    const beyond = gate.check("api_calls", 10_003, at);
    assert.equal(beyond.allowed, true);
    assert.equal(beyond.overage, 2);
    assert.equal(beyond.warning, "overage");
    assert.equal(beyond.remaining, 0);
  });

  test("names the upgrade on a refusal", () => {
    assert.deepEqual(gate.check("priority_support", 1, at), {
      allowed: false,
      reason: "not_in_plan",
      plan: "premium",
      limit: null,
      used: null,
      remaining: null,
      resetsAt: null,
      overage: 0,
      warning: null,
      upgrade: { plan: "premium_plus", name: "Premium Plus" },
      asOf,
      stale: false,
    });
    const full = gate.check("team_members", 1, at);
    assert.equal(full.reason, "limit_reached");
    assert.deepEqual(full.upgrade, { plan: "premium_plus", name: "Premium Plus" });
  });

  test("refuses an unknown feature as unknown_feature", () => {
    const decision = gate.check("teleportation", 1, at);
    assert.equal(decision.allowed, false);
    assert.equal(decision.reason, "unknown_feature");
    assert.equal(decision.upgrade, null);
    // A second unknown name gets its own answer, not the cached one of the first.
    assert.equal(gate.check("projects", 1, at).reason, "ok");
    assert.equal(gate.check("time_travel", 1, at).reason, "unknown_feature");
  });

  test("amount defaults to 1", () => {
    assert.deepEqual(gate.check("projects", undefined, at), gate.check("projects", 1, at));
    assert.equal(gate.check("team_members", 0, at).allowed, true);
    assert.equal(gate.check("projects", 8, at).allowed, false);
  });

  test("takes now as a Date or as epoch milliseconds", () => {
    assert.deepEqual(gate.check("api_calls", 1, new Date(at)), gate.check("api_calls", 1, at));
  });

  test("uses the current time when now is omitted", () => {
    // Issued in the past: a gate built now-ish is fresh, one issued long ago is stale.
    const fresh = Gate.fromSnapshot(buildSnapshot(catalog, premiumAccount()));
    assert.equal(fresh.check("projects").stale, false);
    const old = Gate.fromSnapshot(buildSnapshot(catalog, premiumAccount(), Date.UTC(2020, 0, 1)));
    assert.equal(old.check("projects").stale, true);
  });

  test("says stale once the snapshot is past stale_after", () => {
    const week = 7 * 24 * 3_600_000;
    assert.equal(gate.check("projects", 1, ISSUED_AT + week - 1).stale, false);
    assert.equal(gate.check("projects", 1, ISSUED_AT + week).stale, true);
  });

  test("refuses a bad amount with invalid_amount", () => {
    for (const amount of [-1, 1.5, Number.NaN, Infinity, 2 ** 53, "3", 3n, null]) {
      assertGateError(() => gate.check("projects", amount, at), "invalid_amount", /amount/);
    }
  });

  test("counts pending units as if the snapshot held them", () => {
    const free = Gate.fromSnapshot(buildSnapshot(catalog, freeAccount(), ISSUED_AT));
    assert.equal(free.check("api_calls", 990, at).allowed, true);
    const refused = free.check("api_calls", 990, at, 1);
    assert.equal(refused.allowed, false);
    assert.equal(refused.reason, "limit_reached");
    assert.equal(refused.used, 11);
    assert.equal(refused.remaining, 989);
    assert.deepEqual(refused.upgrade, { plan: "premium", name: "Premium" });

    const account = freeAccount();
    account.usage.api_calls += 500;
    const holding = Gate.fromSnapshot(buildSnapshot(catalog, account, ISSUED_AT));
    for (const amount of [0, 1, 489, 490, 491]) {
      assert.deepEqual(free.check("api_calls", amount, at, 500), holding.check("api_calls", amount, at));
    }
  });

  test("pending defaults to 0", () => {
    const plain = gate.check("api_calls", 1, at);
    assert.deepEqual(gate.check("api_calls", 1, at, undefined), plain);
    assert.deepEqual(gate.check("api_calls", 1, at, 0), plain);
    assert.equal(gate.check("api_calls", 1, at, 2).used, plain.used + 2);
  });

  test("refuses a bad pending with invalid_pending", () => {
    for (const pending of [-1, 1.5, Number.NaN, Infinity, 2 ** 53, "3", 3n, null]) {
      assertGateError(() => gate.check("api_calls", 1, at, pending), "invalid_pending", /pending/);
    }
  });

  test("refuses a bad now with invalid_now", () => {
    for (const now of [new Date("not a date"), Number.NaN, 9e15, "2026-11-24", {}]) {
      assertGateError(() => gate.check("projects", 1, now), "invalid_now", /now/);
    }
  });

  test("refuses a feature that is not a string with invalid_feature", () => {
    for (const feature of [undefined, 7, null, {}]) {
      assertGateError(() => gate.check(feature, 1, at), "invalid_feature", /feature/);
    }
  });

  test("returns a new object each time", () => {
    const first = gate.check("priority_support", 1, at);
    first.upgrade.plan = "mutated";
    first.allowed = true;
    assert.equal(gate.check("priority_support", 1, at).upgrade.plan, "premium_plus");
  });

  test("keeps answering after wasm memory grows", () => {
    const before = gate.check("api_calls", 5, at);
    // A 32 MB customer id forces the wasm memory to grow, which detaches old views of it.
    const big = Gate.fromSnapshot({ ...snapshot, customer: "x".repeat(32 * 1024 * 1024) });
    assert.equal(big.check("projects", 1, at).allowed, true);
    big.free();
    assert.deepEqual(gate.check("api_calls", 5, at), before);
  });
});

describe("free", () => {
  test("a freed Gate or Catalog refuses further use with code freed", () => {
    const spare = Gate.fromSnapshot(snapshot);
    spare.free();
    spare.free(); // twice is harmless
    assertGateError(() => spare.check("projects", 1, at), "freed", /Gate/);
    const spareCatalog = Catalog.parse(seedCatalog);
    spareCatalog.free();
    assertGateError(() => buildSnapshot(spareCatalog, freeAccount(), at), "freed", /Catalog/);
    assert.equal(gate.check("projects", 1, at).allowed, true);
  });
});

describe("checkMany", () => {
  test("answers each request independently at one now", () => {
    const decisions = gate.checkMany(
      [
        { feature: "projects" },
        { feature: "projects", amount: 8 },
        { feature: "api_calls", amount: 1 },
        { feature: "teleportation" },
      ],
      new Date(at),
    );
    assert.deepEqual(decisions, [
      gate.check("projects", 1, at),
      gate.check("projects", 8, at),
      gate.check("api_calls", 1, at),
      gate.check("teleportation", 1, at),
    ]);
    assert.deepEqual(
      decisions.map((d) => d.allowed),
      [true, false, true, false],
    );
  });

  test("answers an empty list with an empty list", () => {
    assert.deepEqual(gate.checkMany([], at), []);
  });

  test("names the bad request", () => {
    assertGateError(() => gate.checkMany("projects", at), "invalid_request", /array/);
    assertGateError(
      () => gate.checkMany([{ feature: "projects" }, null], at),
      "invalid_request",
      /request 1/,
    );
    assertGateError(
      () => gate.checkMany([{ feature: "projects", amount: -2 }], at),
      "invalid_amount",
      /request 0/,
    );
    assertGateError(() => gate.checkMany([{ amount: 2 }], at), "invalid_feature", /request 0/);
  });
});
