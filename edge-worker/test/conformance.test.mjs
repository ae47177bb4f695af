// The engine's conformance vectors (tests/conformance/, format in its README.md), answered by
// the Worker: each case's snapshot is built by the real engine package, published through
// PUT /_tollgate/snapshots, and every check asked through GET /v1/check at the case's `now`.
// The Decision must be the vector's, field for field.

import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { Catalog, buildSnapshot, repoDir, sha256Hex, startWorker } from "./harness.mjs";

const vectorsDir = join(repoDir, "tests", "conformance");
const files = readdirSync(vectorsDir)
  .filter((name) => name.endsWith(".json") && name !== "catalog_errors.json")
  .sort();

function catalogText(kase, file) {
  for (const level of [kase, file]) {
    if (level.catalog !== undefined) return level.catalog;
    if (level.catalog_file !== undefined) return readFileSync(join(repoDir, level.catalog_file), "utf8");
  }
  throw new Error(`case ${kase.name}: no catalog`);
}

let worker;
before(async () => {
  worker = await startWorker();
});
after(() => worker.dispose());

test("there are vectors to run", () => {
  assert.ok(files.length > 0);
});

for (const name of files) {
  const file = JSON.parse(readFileSync(join(vectorsDir, name), "utf8"));
  describe(name, () => {
    // Each case gets its own customer (Decisions do not name the customer), all published in
    // one bulk request as the sync worker would.
    const cases = file.cases.map((kase, i) => {
      const customer = `conformance-${name.replace(/\.json$/, "")}-${i}`;
      return { kase, customer, key: `tg_conformance_${customer}` };
    });

    before(async () => {
      const snapshots = cases.map(({ kase, customer }) =>
        buildSnapshot(
          Catalog.parse(catalogText(kase, file)),
          { ...kase.account, customer },
          new Date(kase.issued_at),
        ),
      );
      const keys = cases.map(({ customer, key }) => ({ hash: sha256Hex(key), customer }));
      const res = await worker.publish({ snapshots, keys });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.written.length, cases.length);
    });

    for (const { kase, key } of cases) {
      test(kase.name, async () => {
        for (const [i, check] of kase.checks.entries()) {
          const now = Date.parse(check.now ?? kase.now);
          const { status, body } = await worker.check(key, check.feature, { amount: check.amount, now });
          assert.equal(status, 200, JSON.stringify(body));
          const { feature, failurePolicy, ...decision } = body;
          assert.equal(feature, check.feature);
          assert.deepStrictEqual(decision, kase.expected[i], `check ${i}: ${check.feature} × ${check.amount ?? 1}`);
          if (!decision.stale) assert.equal(failurePolicy, null, "a fresh snapshot needs no failure policy");
        }
      });
    }
  });
}
