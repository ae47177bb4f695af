// The explicit-init entry @tollgate/gate/edge, for runtimes the package's conditions do not
// cover: the application compiles (or imports) the WebAssembly.Module and hands it to initGate.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { runInNewContext } from "node:vm";

import * as edge from "../pkg/edge.js";
import * as node from "../pkg/index.js";
import { ISSUED_AT, compiledModule, pkgDir, premiumAccount, seedCatalog } from "./support.mjs";

describe("@tollgate/gate/edge", () => {
  test("asks for initGate before use", () => {
    assert.throws(
      () => edge.Catalog.parse(seedCatalog),
      (err) => err instanceof edge.GateError && err.code === "not_initialized" && /initGate/.test(err.message),
    );
  });

  test("refuses anything but a WebAssembly.Module", () => {
    assert.throws(
      () => edge.initGate(new Uint8Array([0, 97, 115, 109])),
      (err) => err instanceof Error && err.code === "invalid_module",
    );
  });

  test("answers as the Node entry does once given a module compiled in another realm", () => {
    // Next.js's edge sandbox compiles the app's .wasm imports outside the sandbox's realm.
    const bytes = readFileSync(join(pkgDir, "gate.wasm"));
    const foreign = runInNewContext("new WebAssembly.Module(bytes)", { bytes });
    assert.equal(foreign instanceof WebAssembly.Module, false);
    edge.initGate(foreign);
    edge.initGate(compiledModule()); // a second call does nothing
    const at = ISSUED_AT + 60_000;
    const requests = [
      { feature: "projects", amount: 2 },
      { feature: "api_calls", amount: 10_001 },
      { feature: "priority_support" },
      { feature: "unknown" },
    ];
    const fromEdge = edge.Gate.fromSnapshot(
      edge.buildSnapshot(edge.Catalog.parse(seedCatalog), premiumAccount(), ISSUED_AT),
    );
    const fromNode = node.Gate.fromSnapshot(
      node.buildSnapshot(node.Catalog.parse(seedCatalog), premiumAccount(), ISSUED_AT),
    );
    assert.deepEqual(fromEdge.checkMany(requests, at), fromNode.checkMany(requests, at));
    assert.equal(fromEdge.check("projects", 1, at).allowed, true);
  });
});
