// The real sync worker (`tollgate serve`, the cargo target directory's debug build) on a fresh
// PostgreSQL database, for the tests and the benchmark of exact features.

import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { repoDir, USAGE_TOKEN } from "./harness.mjs";

const POSTGRES = (process.env.TOLLGATE_TEST_POSTGRES ?? "postgres://postgres@127.0.0.1:5432").replace(/\/+$/, "");

function psql(db, sql) {
  const run = spawnSync("psql", [`${POSTGRES}/${db}`, "-v", "ON_ERROR_STOP=1", "-tAc", sql], { encoding: "utf8" });
  if (run.status !== 0) throw new Error(`psql failed on \`${sql}\`: ${run.stderr}`);
  return run.stdout.trim();
}

/** Polls `probe` until it returns a truthy value; fails after `timeoutMs` naming `what`. */
export async function eventually(what, probe, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Starts `tollgate serve` with `catalogToml` on a new database; `USAGE_TOKEN` is its token.
 * `port` (else a free one) and `env` (over the defaults) configure it further.
 */
export async function startSyncWorker(catalogToml, { port: chosenPort, env = {} } = {}) {
  const binary = join(process.env.CARGO_TARGET_DIR ?? join(repoDir, "target"), "debug", "tollgate");
  if (!existsSync(binary)) throw new Error(`${binary} is missing: run \`cargo build -p tollgate-sync\` first`);
  const database = `tollgate_edge_${randomBytes(6).toString("hex")}`;
  psql("postgres", `CREATE DATABASE ${database}`);
  const dir = mkdtempSync(join(tmpdir(), "tollgate-edge-"));
  writeFileSync(join(dir, "catalog.toml"), catalogToml);
  const port = chosenPort ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(binary, ["serve"], {
    env: {
      ...process.env,
      DATABASE_URL: `${POSTGRES}/${database}`,
      TOLLGATE_CATALOG: join(dir, "catalog.toml"),
      TOLLGATE_LISTEN: `127.0.0.1:${port}`,
      TOLLGATE_API_TOKEN: USAGE_TOKEN,
      POLAR_WEBHOOK_SECRET: "whsec_dGVzdA==",
      TOLLGATE_JOBS: "false",
      RUST_LOG: process.env.RUST_LOG ?? "warn",
      ...env,
    },
    stdio: ["ignore", "ignore", "inherit"],
    detached: true,
  });
  const exited = new Promise((resolve) => child.on("exit", resolve));
  await eventually("the sync worker to be ready", async () => (await fetch(`${url}/readyz`)).ok);
  return {
    url,
    /** SQL on the sync worker's database; its unaligned, tuples-only output. */
    query: (sql) => psql(database, sql),
    /** A `/v1` call with the token. */
    async post(path, body) {
      const res = await fetch(`${url}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${USAGE_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    },
    async stop() {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // Already gone.
      }
      await exited;
      psql("postgres", `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    },
  };
}
