// The whole chain on this machine, for the end-to-end tests: the Polar simulator, the sync
// worker (`tollgate serve`) on a fresh PostgreSQL database, the edge worker under workerd
// (Miniflare) and a small origin behind it. Every part is the real one; only Polar is simulated.
//
// Each part writes its log to a directory printed when a test fails; `stop()` ends every process
// started here and drops the database.

import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream, existsSync, mkdtempSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const repoDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

// The edge worker's harness needs the built Worker as soon as it is imported, so it is loaded
// only for a stack that includes the Worker.
const edgeHarness = () => import("../../edge-worker/test/harness.mjs");

export const sha256Hex = (text) => createHash("sha256").update(text).digest("hex");

/** The route rules the tests' Worker gates with (those of edge-worker/wrangler.toml). */
export const ROUTES = [
  { method: "POST", path: "/api/projects", feature: "projects" },
  { method: "GET", path: "/api/analytics/*", feature: "advanced_analytics" },
  { path: "/api/v1/*", feature: "api_calls" },
];
export const UPGRADE_URL = "https://app.example.com/billing/upgrade?plan={plan}";

const POSTGRES = (process.env.TOLLGATE_TEST_POSTGRES ?? "postgres://postgres@127.0.0.1:5432")
  .replace(/\/+$/, "");
const SIM_TOKEN = "polar_oat_simulator";

/** A built binary of this workspace: `$<ENV>`, else the cargo target directory's debug build. */
function binary(name, envName) {
  const fromEnv = process.env[envName];
  const targetDir = process.env.CARGO_TARGET_DIR ?? join(repoDir, "target");
  const path = fromEnv ?? join(targetDir, "debug", name);
  if (!existsSync(path)) {
    throw new Error(
      `${path} is missing: run \`cargo build -p tollgate-sync -p polar-sim\` first (or set ${envName})`,
    );
  }
  return path;
}

/** Polls `probe` until it returns a truthy value, failing after `timeoutMs` with `what`. */
export async function eventually(what, probe, { timeoutMs = 30_000, intervalMs = 50 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out waiting for ${what} (last: ${detail})`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A TCP port nothing listens on right now. */
async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Runs SQL with psql; returns its unaligned, tuples-only output. */
function psql(database, sql) {
  const run = spawnSync("psql", [`${POSTGRES}/${database}`, "-v", "ON_ERROR_STOP=1", "-tAc", sql], {
    encoding: "utf8",
  });
  if (run.error) throw new Error(`psql could not run: ${run.error.message}`);
  if (run.status !== 0) throw new Error(`psql failed on \`${sql}\`: ${run.stderr.trim()}`);
  return run.stdout.trim();
}

/** A process in its own process group, its output in `logDir/<name>.log`. */
class Part {
  constructor(name, command, args, { env = {}, logDir }) {
    this.name = name;
    this.logPath = join(logDir, `${name}.log`);
    const log = createWriteStream(this.logPath);
    this.output = "";
    this.child = spawn(command, args, {
      cwd: repoDir,
      env: { ...process.env, ...env },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      stream.on("data", (chunk) => {
        log.write(chunk);
        if (this.output.length < 64 * 1024) this.output += chunk.toString("utf8");
      });
    }
    this.exited = new Promise((resolve) => {
      this.child.on("exit", (code, signal) => {
        this.exitCode = code ?? signal;
        log.end();
        resolve();
      });
    });
  }

  running() {
    return this.exitCode === undefined;
  }

  /** Fails with the log's tail when the process has ended. */
  assertRunning() {
    if (!this.running()) {
      const tail = readFileSync(this.logPath, "utf8").split("\n").slice(-20).join("\n");
      throw new Error(`${this.name} exited (${this.exitCode}); its log ${this.logPath} ends:\n${tail}`);
    }
  }

  /** SIGTERM to the process group, SIGKILL if it has not ended within 10 s. */
  async stop() {
    if (!this.running()) return;
    const signal = (name) => {
      try {
        process.kill(-this.child.pid, name);
      } catch {
        // Already gone.
      }
    };
    signal("SIGTERM");
    const timer = setTimeout(() => signal("SIGKILL"), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * Starts the chain. Returns handles on each part:
 *
 * - `sim`: the simulator (`step(action)`, `api(method, path, body)`, `advance(by)`, `clock()`);
 * - `sync`: the sync worker (`get(path)`, `put(path, body)`, `url`);
 * - `edge`: the Worker (harness handle: `fetch`, `check`, `publish`, plus `url`, `enrol(customer)`);
 * - `db`: `query(sql)` on the chain's database;
 * - `stop()`.
 *
 * `seed` is the simulator's seed: `catalog` (the products of examples/catalog.toml) or `demo`
 * (those, the per-seat Team Seats product and the demo customers). With `edge: false` no Worker
 * or origin is started and the sync worker publishes nowhere (`edge` is then null); `tollgate(args)`
 * runs the `tollgate` command on the chain's database.
 */
export async function startStack({ seed = "catalog", edge = true } = {}) {
  const logDir = mkdtempSync(join(tmpdir(), "tollgate-e2e-"));
  const database = `tollgate_e2e_${randomBytes(6).toString("hex")}`;
  const parts = [];
  let worker;
  let origin;
  const stop = async () => {
    await Promise.all(parts.map((part) => part.stop()));
    await worker?.dispose();
    await origin?.close();
    try {
      psql("postgres", `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    } catch (error) {
      console.error(`could not drop ${database}: ${error.message}`);
    }
  };

  try {
    psql("postgres", `CREATE DATABASE ${database}`);
    const databaseUrl = `${POSTGRES}/${database}`;
    const syncPort = await freePort();
    const syncUrl = `http://127.0.0.1:${syncPort}`;

    // The simulator, with the demo products and webhooks to the sync worker.
    const simBin = binary("polar-sim", "POLAR_SIM_BIN");
    const secret = spawnSync(simBin, ["secret", "--scheme", "standard"], { encoding: "utf8" })
      .stdout.trim();
    const simPart = new Part(
      "polar-sim",
      simBin,
      [
        "serve",
        "--listen", "127.0.0.1:0",
        `--seed-${seed}`,
        "--webhook-url", `${syncUrl}/webhooks/polar`,
        "--webhook-secret", secret,
        "--secret-scheme", "standard",
        "--rate-limit", "0",
        "--retry-base-ms", "200",
      ],
      { logDir },
    );
    parts.push(simPart);
    const simUrl = await eventually("polar-sim to listen", () => {
      simPart.assertRunning();
      return simPart.output.match(/listening on (http:\/\/\S+)/)?.[1];
    });

    // The origin and the Worker, whose usage goes to the sync worker.
    let edgeUrl;
    // The Worker reports usage with the harness's token; without it, any token will do.
    let apiToken = `test-api-token-${randomBytes(8).toString("hex")}`;
    let internalSecret;
    if (edge) {
      const { serveOrigin, startWorker, USAGE_TOKEN, SECRET } = await edgeHarness();
      apiToken = USAGE_TOKEN;
      internalSecret = SECRET;
      origin = await serveOrigin();
      worker = await startWorker({
        TOLLGATE_ORIGIN: origin.url,
        TOLLGATE_ROUTES: JSON.stringify(ROUTES),
        TOLLGATE_UPGRADE_URL: UPGRADE_URL,
        TOLLGATE_USAGE_URL: `${syncUrl}/v1/usage`,
      });
      edgeUrl = (await worker.mf.ready).toString().replace(/\/$/, "");
    }

    // The sync worker, publishing to the Worker.
    const syncPart = new Part(
      "tollgate",
      binary("tollgate", "TOLLGATE_BIN"),
      ["serve"],
      {
        logDir,
        env: {
          DATABASE_URL: databaseUrl,
          TOLLGATE_CATALOG: join(repoDir, "examples", "catalog.toml"),
          TOLLGATE_LISTEN: `127.0.0.1:${syncPort}`,
          TOLLGATE_API_TOKEN: apiToken,
          POLAR_WEBHOOK_SECRET: secret,
          POLAR_ORGANIZATION_TOKEN: SIM_TOKEN,
          POLAR_API_URL: simUrl,
          ...(edge
            ? { TOLLGATE_PUBLISH_SINK: "edge", TOLLGATE_EDGE_URL: edgeUrl, TOLLGATE_INTERNAL_SECRET: internalSecret }
            : { TOLLGATE_PUBLISH_SINK: "none" }),
          RUST_LOG: process.env.RUST_LOG ?? "info",
        },
      },
    );
    parts.push(syncPart);
    await eventually("the sync worker to be ready", async () => {
      syncPart.assertRunning();
      const res = await fetch(`${syncUrl}/readyz`);
      return res.ok;
    }, { timeoutMs: 60_000 });

    const simCall = async (method, path, body, headers = {}) => {
      const res = await fetch(`${simUrl}${path}`, {
        method,
        headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const json = await res.json().catch(() => null);
      if (!res.ok) throw new Error(`polar-sim ${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    };
    const syncCall = async (method, path, body) => {
      const res = await fetch(`${syncUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${apiToken}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: await res.json().catch(() => null) };
    };

    return {
      logDir,
      sim: {
        url: simUrl,
        /** One scenario step; resolves once its webhooks were delivered and answered. */
        async step(action) {
          const result = await simCall("POST", "/_sim/scenarios", action);
          await simCall("POST", "/_sim/webhooks/settle");
          return result;
        },
        /** A call to the simulator's Polar API; resolves once its webhooks were answered. */
        async api(method, path, body) {
          const result = await simCall(method, path, body, { authorization: `Bearer ${SIM_TOKEN}` });
          await simCall("POST", "/_sim/webhooks/settle");
          return result;
        },
        async advance(by) {
          const result = await simCall("POST", "/_sim/clock/advance", by);
          await simCall("POST", "/_sim/webhooks/settle");
          return result;
        },
        clock: () => simCall("GET", "/_sim/clock"),
        events: () => simCall("GET", "/_sim/webhooks/events"),
      },
      sync: {
        url: syncUrl,
        get: (path) => syncCall("GET", path),
        post: (path, body) => syncCall("POST", path, body),
        put: (path, body) => syncCall("PUT", path, body),
        assertRunning: () => syncPart.assertRunning(),
      },
      edge: edge ? {
        ...worker,
        url: edgeUrl,
        /** Registers an API key for `customer` with the Worker; returns the key. */
        async enrol(customer) {
          const key = `tg_e2e_${customer}_${randomBytes(4).toString("hex")}`;
          const res = await worker.publish({ keys: [{ hash: sha256Hex(key), customer }] });
          if (res.status !== 200) throw new Error(`key publish: ${JSON.stringify(res.body)}`);
          return key;
        },
      } : null,
      origin,
      db: { url: databaseUrl, query: (sql) => psql(database, sql) },
      tollgate: (args) => {
        const run = spawnSync(binary("tollgate", "TOLLGATE_BIN"), args, {
          encoding: "utf8",
          env: { ...process.env, DATABASE_URL: databaseUrl },
        });
        if (run.status !== 0) throw new Error(`tollgate ${args.join(" ")} failed: ${run.stderr}`);
        return run.stdout;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw new Error(`${error.message}\n(logs in ${logDir})`, { cause: error });
  }
}
