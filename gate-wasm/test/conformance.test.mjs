// The conformance vectors of tests/conformance/ (format: its README.md), run against the built
// package: the same Decisions as the native engine, field for field.

import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";

import { Catalog, Gate, GateError, buildSnapshot } from "../pkg/index.js";
import { repoDir } from "./support.mjs";

const vectorsDir = join(repoDir, "tests", "conformance");
const files = readdirSync(vectorsDir)
  .filter((name) => name.endsWith(".json"))
  .sort();

function load(name) {
  return JSON.parse(readFileSync(join(vectorsDir, name), "utf8"));
}

/** A case's catalog TOML: its own, else the file's; inline or by path from the repository root. */
function catalogText(kase, file) {
  for (const level of [kase, file]) {
    if (level.catalog !== undefined) return level.catalog;
    if (level.catalog_file !== undefined) return readFileSync(join(repoDir, level.catalog_file), "utf8");
  }
  throw new Error(`case ${kase.name}: no catalog`);
}

test("the vectors exist", () => {
  assert.ok(files.includes("catalog_errors.json"), "catalog_errors.json");
  assert.ok(files.length > 1, "decision vectors");
});

for (const name of files.filter((f) => f !== "catalog_errors.json")) {
  const file = load(name);
  describe(name, () => {
    for (const kase of file.cases) {
      test(kase.name, () => {
        assert.equal(kase.checks.length, kase.expected.length, "one expected Decision per check");
        const catalog = Catalog.parse(catalogText(kase, file));
        const snapshot = buildSnapshot(catalog, kase.account, new Date(kase.issued_at));
        const gates = [Gate.fromSnapshot(snapshot), Gate.fromSnapshot(JSON.stringify(snapshot))];
        const now = Date.parse(kase.now);
        for (const gate of gates) {
          kase.checks.forEach((check, i) => {
            const at = check.now === undefined ? now : Date.parse(check.now);
            assert.deepStrictEqual(
              gate.check(check.feature, check.amount, at),
              kase.expected[i],
              `check ${i}: ${check.feature} × ${check.amount ?? 1}`,
            );
          });
        }
        // checkMany answers each check as check does, for the checks sharing the case's now.
        const shared = kase.checks
          .map((check, i) => ({ check, i }))
          .filter(({ check }) => check.now === undefined);
        const many = gates[0].checkMany(
          shared.map(({ check }) => ({ feature: check.feature, amount: check.amount })),
          new Date(now),
        );
        assert.deepStrictEqual(
          many,
          shared.map(({ i }) => kase.expected[i]),
        );
      });
    }
  });
}

describe("catalog_errors.json", () => {
  for (const kase of load("catalog_errors.json").cases) {
    test(kase.name, () => {
      assert.throws(
        () => Catalog.parse(kase.catalog),
        (err) => {
          assert.ok(err instanceof GateError, "a GateError");
          assert.equal(err.code, kase.error.code);
          for (const part of kase.error.message_contains ?? []) {
            assert.ok(err.message.includes(part), `message ${JSON.stringify(err.message)} names ${JSON.stringify(part)}`);
          }
          return true;
        },
      );
    });
  }
});
