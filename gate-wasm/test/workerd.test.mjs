// The package inside workerd, the Cloudflare Workers runtime (through Miniflare), where
// WebAssembly may not be compiled from bytes: the plain `@tollgate/gate` import in a Worker
// bundled by wrangler, and the explicit-init entry `@tollgate/gate/edge` with the .wasm imported
// as a compiled module.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import * as esbuild from "esbuild";
import { Miniflare } from "miniflare";

import * as node from "../pkg/index.js";
import { ISSUED_AT, consumerDir, gateDir, pkgDir, premiumAccount, seedCatalog } from "./support.mjs";

const workerSource = `
import wasm from "@tollgate/gate/gate.wasm";
import { Catalog, Gate, GateError, buildSnapshot, initGate } from "@tollgate/gate/edge";

export default {
  async fetch(request) {
    const { bytesTest, catalog, account, issuedAt, checks, now } = await request.json();
    if (bytesTest) {
      try {
        new WebAssembly.Module(new Uint8Array(bytesTest));
        return Response.json({ compiled: true });
      } catch (err) {
        return Response.json({ compiled: false, error: String(err) });
      }
    }
    initGate(wasm);
    try {
      const gate = Gate.fromSnapshot(buildSnapshot(Catalog.parse(catalog), account, issuedAt));
      return Response.json({ decisions: gate.checkMany(checks, now) });
    } catch (err) {
      return Response.json({ error: { code: err.code, message: err.message, gate: err instanceof GateError } });
    }
  },
};
`;

describe("@tollgate/gate/edge in workerd", () => {
  let mf;

  before(async () => {
    const dir = consumerDir();
    writeFileSync(join(dir, "worker.src.js"), workerSource);
    // The module's bytes ship next to the bundle, imported as a compiled module (wrangler's
    // default rule for .wasm).
    copyFileSync(join(pkgDir, "gate.wasm"), join(dir, "gate.wasm"));
    await esbuild.build({
      entryPoints: [join(dir, "worker.src.js")],
      outfile: join(dir, "worker.js"),
      bundle: true,
      format: "esm",
      platform: "neutral",
      conditions: ["workerd", "worker", "browser"],
      logLevel: "warning",
      plugins: [
        {
          name: "compiled-wasm",
          setup(build) {
            build.onResolve({ filter: /\.wasm$/ }, async (args) => {
              if (args.pluginData === "inner") return undefined;
              const resolved = await build.resolve(args.path, {
                kind: args.kind,
                resolveDir: args.resolveDir,
                pluginData: "inner",
              });
              if (resolved.errors.length > 0) return { errors: resolved.errors };
              return { path: "./gate.wasm", external: true };
            });
          },
        },
      ],
    });
    mf = new Miniflare({
      modules: true,
      scriptPath: join(dir, "worker.js"),
      modulesRoot: dir,
      modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
      compatibilityDate: "2025-01-01",
    });
    await mf.ready;
  });

  after(async () => {
    await mf?.dispose();
  });

  async function call(body) {
    const response = await mf.dispatchFetch("http://localhost/", {
      method: "POST",
      body: JSON.stringify(body),
    });
    assert.equal(response.status, 200);
    return response.json();
  }

  test("the runtime refuses to compile WebAssembly from bytes", async () => {
    const header = [0, 97, 115, 109, 1, 0, 0, 0]; // an empty but valid module
    const out = await call({ bytesTest: header });
    assert.equal(out.compiled, false, "workerd compiled wasm from bytes");
  });

  test("answers as the Node entry does", async () => {
    const at = ISSUED_AT + 60_000;
    const checks = [
      { feature: "projects", amount: 2 },
      { feature: "api_calls", amount: 10_001 },
      { feature: "priority_support" },
      { feature: "team_members" },
      { feature: "unknown" },
    ];
    const out = await call({
      catalog: seedCatalog,
      account: premiumAccount(),
      issuedAt: ISSUED_AT,
      checks,
      now: at,
    });
    const gate = node.Gate.fromSnapshot(
      node.buildSnapshot(node.Catalog.parse(seedCatalog), premiumAccount(), ISSUED_AT),
    );
    assert.deepEqual(out.decisions, gate.checkMany(checks, at));
  });

  test("reports errors with their codes", async () => {
    const out = await call({
      catalog: "default_plan = 'gold'",
      account: premiumAccount(),
      issuedAt: ISSUED_AT,
      checks: [],
      now: ISSUED_AT,
    });
    assert.equal(out.error.gate, true);
    assert.equal(out.error.code, "unknown_default_plan");
  });
});

const plainWorker = `
import { Catalog, Gate, buildSnapshot } from "@tollgate/gate";

export default {
  async fetch(request) {
    const { catalog, account, issuedAt, checks, now } = await request.json();
    const gate = Gate.fromSnapshot(buildSnapshot(Catalog.parse(catalog), account, issuedAt));
    return Response.json({ decisions: gate.checkMany(checks, now) });
  },
};
`;

describe("@tollgate/gate in a Worker bundled by wrangler", () => {
  let mf;

  before(async () => {
    const dir = consumerDir();
    writeFileSync(join(dir, "worker.js"), plainWorker);
    writeFileSync(
      join(dir, "wrangler.toml"),
      'name = "gate-plain-import"\nmain = "worker.js"\ncompatibility_date = "2025-01-01"\n',
    );
    execFileSync(
      process.execPath,
      [join(gateDir, "node_modules", "wrangler", "bin", "wrangler.js"), "deploy", "--dry-run", "--outdir", "dist"],
      {
        cwd: dir,
        stdio: ["ignore", "ignore", "inherit"],
        env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
      },
    );
    const out = join(dir, "dist");
    assert.ok(readdirSync(out).some((f) => f.endsWith(".wasm")), "wrangler bundled no .wasm module");
    mf = new Miniflare({
      modules: true,
      scriptPath: join(out, "worker.js"),
      modulesRoot: out,
      modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
      compatibilityDate: "2025-01-01",
    });
    await mf.ready;
  });

  after(async () => {
    await mf?.dispose();
  });

  test("answers as the Node entry does, with no init call", async () => {
    const at = ISSUED_AT + 60_000;
    const checks = [{ feature: "projects", amount: 2 }, { feature: "api_calls", amount: 10_001 }];
    const response = await mf.dispatchFetch("http://localhost/", {
      method: "POST",
      body: JSON.stringify({ catalog: seedCatalog, account: premiumAccount(), issuedAt: ISSUED_AT, checks, now: at }),
    });
    assert.equal(response.status, 200);
    const gate = node.Gate.fromSnapshot(
      node.buildSnapshot(node.Catalog.parse(seedCatalog), premiumAccount(), ISSUED_AT),
    );
    assert.deepEqual((await response.json()).decisions, gate.checkMany(checks, at));
  });
});
