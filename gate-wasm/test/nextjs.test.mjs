// @tollgate/gate in a Next.js app, as a new user installs it: the packed tarball in a minimal
// app (test/nextjs/) that imports `{ Catalog, Gate, buildSnapshot } from "@tollgate/gate"` with
// no next.config and no init call, in a server component, a route handler, a server action, an
// edge route handler, and proxy.ts (Node runtime) or middleware.ts (edge runtime) — Next.js 16
// takes one of the two per app. Each app is built with Turbopack and with webpack, started
// with `next start`, and every place must answer the Decision the Node entry gives.
//
// Needs test/nextjs/node_modules (scripts/install-tools) and a built package (npm run build).

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";

import * as node from "../pkg/index.js";
import { gateDir, pkgDir, seedCatalog } from "./support.mjs";

const appDir = join(gateDir, "test", "nextjs");
// Next.js as installed in an app directory: each app runs its own copy.
const nextBin = (dir) => join(dir, "node_modules", "next", "dist", "bin", "next");
const env = { ...process.env, NEXT_TELEMETRY_DISABLED: "1" };

// The answer lib/gate.ts computes, from the Node entry here.
const issuedAt = Date.parse("2026-11-24T09:00:00.000Z");
const expected = node.Gate.fromSnapshot(
  node.buildSnapshot(node.Catalog.parse(seedCatalog), { customer: "user_free", gauges: { projects: 1 } }, issuedAt),
).check("projects", 1, issuedAt + 60_000);

/** The package as npm installs it: `npm pack`, then the tarball unpacked into node_modules. */
function packTarball() {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-gate-pack-"));
  const [packed] = JSON.parse(
    execFileSync("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", dir], {
      cwd: pkgDir,
      encoding: "utf8",
    }),
  );
  return join(dir, packed.filename);
}

/** A copy of the app with `entryFile` (proxy.ts or middleware.ts) and the package installed. */
function appCopy(tarball, entryFile) {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-gate-nextjs-"));
  for (const file of ["app", "lib", "package.json", "package-lock.json", "tsconfig.json"]) {
    cpSync(join(appDir, file), join(dir, file), { recursive: true });
  }
  cpSync(join(appDir, "variants", entryFile), join(dir, entryFile));
  writeFileSync(join(dir, "lib", "catalog.ts"), `export const catalogToml = ${JSON.stringify(seedCatalog)};\n`);
  // Hard links: the builds share one installed node_modules at no copying cost.
  execFileSync("cp", ["-al", join(appDir, "node_modules"), join(dir, "node_modules")]);
  const installed = join(dir, "node_modules", "@tollgate", "gate");
  rmSync(installed, { recursive: true, force: true });
  mkdirSync(installed, { recursive: true });
  execFileSync("tar", ["-xzf", tarball, "-C", installed, "--strip-components=1"]);
  return dir;
}

/** Runs `next <args>` in `dir`; resolves with its output, rejects with it on failure. */
function next(dir, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [nextBin(dir), ...args], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve(output) : reject(new Error(`next ${args.join(" ")} failed:\n${output}`))));
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** `next start` on a free port; resolves once it answers HTTP, within a bounded number of tries. */
async function start(dir) {
  const port = await freePort();
  const child = spawn(process.execPath, [nextBin(dir), "start", "-H", "127.0.0.1", "-p", String(port)], {
    cwd: dir,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  const origin = `http://127.0.0.1:${port}`;
  for (let attempt = 0; attempt < 150; attempt += 1) {
    if (child.exitCode !== null) break;
    try {
      await fetch(`${origin}/_not-found`);
      return { origin, stop: () => stop(child), output: () => output };
    } catch {
      await delay(200);
    }
  }
  stop(child);
  throw new Error(`next start did not answer on ${origin}:\n${output}`);
}

function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    // Already gone.
  }
}

/** The JSON text React wrote into the server component's <pre>, unescaped. */
function preText(html) {
  const text = /<pre id="answer">([^<]*)<\/pre>/.exec(html)?.[1];
  assert.ok(text !== undefined, `no answer in the page:\n${html.slice(0, 2000)}`);
  const entities = { "&quot;": '"', "&#x27;": "'", "&lt;": "<", "&gt;": ">", "&amp;": "&" };
  return text.replace(/&(quot|#x27|lt|gt|amp);/g, (entity) => entities[entity]);
}

const tarball = packTarball();

const builds = [
  { bundler: "Turbopack", flags: [], entryFile: "proxy.ts" },
  { bundler: "webpack", flags: ["--webpack"], entryFile: "middleware.ts" },
  { bundler: "Turbopack", flags: [], entryFile: "middleware.ts" },
  { bundler: "webpack", flags: ["--webpack"], entryFile: "proxy.ts" },
];

for (const { bundler, flags, entryFile } of builds) {
  describe(`a Next.js app with ${entryFile}, built by ${bundler}`, () => {
    let dir;
    let server;

    before(async () => {
      if (!existsSync(nextBin(appDir))) assert.fail(`${appDir}/node_modules is missing: run scripts/install-tools`);
      dir = appCopy(tarball, entryFile);
      await next(dir, ["build", ...flags]);
      server = await start(dir);
    });

    after(() => {
      server?.stop();
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    });

    async function answer(path) {
      const response = await fetch(`${server.origin}${path}`);
      const body = await response.text();
      assert.equal(response.status, 200, `${path} answered ${response.status}:\n${body}\n${server.output()}`);
      return JSON.parse(body);
    }

    test("a server component", async () => {
      const response = await fetch(`${server.origin}/`);
      assert.equal(response.status, 200, server.output());
      const out = JSON.parse(preText(await response.text()));
      assert.deepEqual(out, { where: "server component", runtime: "nodejs", decision: expected });
    });

    test("a route handler on the Node runtime", async () => {
      assert.deepEqual(await answer("/api/node"), { where: "route handler", runtime: "nodejs", decision: expected });
    });

    test("a route handler on the edge runtime", async () => {
      assert.deepEqual(await answer("/api/edge"), { where: "edge route handler", runtime: "edge", decision: expected });
    });

    test("a server action submitted by a form", async () => {
      const page = await (await fetch(`${server.origin}/action`)).text();
      const field = /name="(\$ACTION_ID_[0-9a-f]+)"/.exec(page)?.[1];
      assert.ok(field !== undefined, `no server action in the form:\n${page.slice(0, 2000)}`);
      const form = new FormData();
      form.set(field, "");
      const response = await fetch(`${server.origin}/action`, { method: "POST", body: form, redirect: "manual" });
      assert.equal(response.status, 303, server.output());
      const location = new URL(response.headers.get("location"), server.origin);
      assert.deepEqual(JSON.parse(location.searchParams.get("answer")), {
        where: "server action",
        runtime: "nodejs",
        decision: expected,
      });
    });

    // Next's local edge sandbox only warns when WebAssembly is compiled from bytes; deployed edge
    // runtimes refuse it. The edge code must import gate.wasm as a module instead.
    test("edge code carries gate.wasm as a compiled module, not as bytes", () => {
      const manifest = JSON.parse(readFileSync(join(dir, ".next", "server", "middleware-manifest.json"), "utf8"));
      const edge = { "/api/edge/route": manifest.functions["/api/edge/route"] };
      if (entryFile === "middleware.ts") edge.middleware = manifest.middleware["/"];
      for (const [name, fn] of Object.entries(edge)) {
        assert.ok(fn !== undefined, `${name} is not an edge function`);
        assert.ok(fn.wasm?.length > 0, `${name} binds no .wasm module`);
        for (const file of fn.files) {
          // "AGFzbQ" begins the base64 text of every wasm module ("\0asm").
          assert.doesNotMatch(readFileSync(join(dir, ".next", file), "utf8"), /AGFzbQ/, `${name}: ${file}`);
        }
      }
    });

    if (entryFile === "proxy.ts") {
      test("proxy.ts on the Node runtime", async () => {
        assert.deepEqual(await answer("/proxy"), { where: "proxy", runtime: "nodejs", decision: expected });
      });
    } else {
      test("middleware.ts on the edge runtime", async () => {
        assert.deepEqual(await answer("/middleware"), { where: "middleware", runtime: "edge", decision: expected });
      });
    }
  });
}
