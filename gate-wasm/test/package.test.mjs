// The built package as its users load it: by name, through its `exports`, from ESM and from
// CommonJS, with the files it publishes.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";

import { consumerDir, pkgDir, seedCatalog } from "./support.mjs";

const consumer = consumerDir();
writeFileSync(join(consumer, "catalog.toml"), seedCatalog);

/** Runs a script file in the consumer directory and returns its stdout, parsed as JSON. */
function runScript(name, source, nodeArgs = []) {
  const file = join(consumer, name);
  writeFileSync(file, source);
  return JSON.parse(
    execFileSync(process.execPath, [...nodeArgs, file], { cwd: consumer, encoding: "utf8" }),
  );
}

const usage = `
  const catalog = Catalog.parse(readFileSync(join(dir, "catalog.toml"), "utf8"));
  const snapshot = buildSnapshot(catalog, { customer: "u1", gauges: { projects: 1 } }, 0);
  const gate = Gate.fromSnapshot(snapshot);
  let code = null;
  try { Catalog.parse("default_plan = 'nowhere'"); } catch (err) { code = err instanceof GateError && err.code; }
  console.log(JSON.stringify({ decision: gate.check("projects", 1, 1000), code }));
`;

const expected = {
  decision: {
    allowed: false,
    reason: "limit_reached",
    plan: "free",
    limit: 1,
    used: 1,
    remaining: 0,
    resetsAt: null,
    overage: 0,
    warning: null,
    upgrade: { plan: "premium", name: "Premium" },
    asOf: "1970-01-01T00:00:00.000Z",
    stale: false,
  },
  code: "unknown_default_plan",
};

describe("@tollgate/gate", () => {
  test("imports from ESM without an init call", () => {
    const out = runScript(
      "esm.mjs",
      `import { Catalog, Gate, GateError, buildSnapshot } from "@tollgate/gate";
       import { readFileSync } from "node:fs";
       import { join } from "node:path";
       const dir = import.meta.dirname;
       ${usage}`,
    );
    assert.deepEqual(out, expected);
  });

  test("requires from CommonJS without an init call", () => {
    const out = runScript(
      "cjs.cjs",
      `const { Catalog, Gate, GateError, buildSnapshot } = require("@tollgate/gate");
       const { readFileSync } = require("node:fs");
       const { join } = require("node:path");
       const dir = __dirname;
       ${usage}`,
    );
    assert.deepEqual(out, expected);
  });

  test("exports the edge entry and the wasm file", () => {
    const out = runScript(
      "resolve.cjs",
      `console.log(JSON.stringify({
         main: require.resolve("@tollgate/gate"),
         edge: require.resolve("@tollgate/gate/edge"),
         wasm: require.resolve("@tollgate/gate/gate.wasm"),
       }));`,
    );
    assert.match(out.main, /index\.cjs$/);
    assert.match(out.edge, /edge\.js$/);
    assert.match(out.wasm, /gate\.wasm$/);
    const esm = runScript(
      "resolve.mjs",
      `console.log(JSON.stringify({
         main: import.meta.resolve("@tollgate/gate"),
         edge: import.meta.resolve("@tollgate/gate/edge"),
       }));`,
    );
    assert.match(esm.main, /index\.js$/);
    assert.match(esm.edge, /edge\.js$/);
  });

  test("resolves the edge runtimes' conditions to the entries that import the module", () => {
    const resolve = `console.log(JSON.stringify(import.meta.resolve("@tollgate/gate")));`;
    for (const [condition, entry] of [
      ["edge-light", /edge-light\.js$/],
      ["workerd", /workerd\.js$/],
      ["worker", /workerd\.js$/],
      ["browser", /index\.js$/],
    ]) {
      const resolved = runScript(`resolve-${condition}.mjs`, resolve, [`--conditions=${condition}`]);
      assert.match(resolved, entry, condition);
    }
  });

  test("packs its entries, declarations, wasm and README", () => {
    const [packed] = JSON.parse(
      execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
        cwd: pkgDir,
        encoding: "utf8",
      }),
    );
    assert.equal(packed.name, "@tollgate/gate");
    assert.deepEqual(packed.files.map((f) => f.path).sort(), [
      "README.md",
      "edge-light.js",
      "edge.d.ts",
      "edge.js",
      "gate.wasm",
      "gate.wasm.d.ts",
      "index.cjs",
      "index.d.cts",
      "index.d.ts",
      "index.js",
      "package.json",
      "wasm-base64.cjs",
      "workerd.js",
    ]);
    const manifest = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
    assert.match(manifest.version, /^\d+\.\d+\.\d+/);
    assert.notEqual(manifest.version, "0.0.0");
  });
});
