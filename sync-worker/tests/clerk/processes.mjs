// What the Node tests of `tollgate serve` share: the binaries `cargo test` (or `cargo build -p
// tollgate-sync -p polar-sim`) built, started as process groups and killed together, a fresh
// PostgreSQL database through psql, free ports, polling for a condition with a deadline, and
// `tollgate serve` and the Polar simulator started and waited for.

import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const POSTGRES = (process.env.TOLLGATE_TEST_POSTGRES ?? "postgres://postgres@127.0.0.1:5432")
  .replace(/\/+$/, "");

export function binary(name) {
  const targetDir = process.env.CARGO_TARGET_DIR ?? join(repoDir, "target");
  const path = join(targetDir, "debug", name);
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: run \`cargo build -p tollgate-sync -p polar-sim\` first`);
  }
  return path;
}

export function psql(database, sql) {
  const run = spawnSync("psql", [`${POSTGRES}/${database}`, "-v", "ON_ERROR_STOP=1", "-tAc", sql], {
    encoding: "utf8",
  });
  if (run.status !== 0) throw new Error(`psql failed on \`${sql}\`: ${run.stderr}`);
  return run.stdout.trim();
}

export async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function eventually(what, probe, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch {
      // Not there yet.
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const processes = [];

/** Starts `command` in its own process group, stopped by `stopAll`. */
export function start(command, args, env) {
  const child = spawn(command, args, {
    env: { ...process.env, ...env },
    detached: true,
    stdio: ["ignore", "ignore", "inherit"],
  });
  processes.push(child);
  return child;
}

export function stopAll() {
  for (const child of processes) {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/**
 * Starts `tollgate serve` on `database` with the example catalog, its jobs off and `apiToken`
 * as its API token, `env` added; resolves to its URL once it is ready.
 */
export async function startServe(database, apiToken, env) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  start(binary("tollgate"), ["serve"], {
    DATABASE_URL: `${POSTGRES}/${database}`,
    TOLLGATE_CATALOG: join(repoDir, "examples", "catalog.toml"),
    TOLLGATE_LISTEN: `127.0.0.1:${port}`,
    TOLLGATE_API_TOKEN: apiToken,
    TOLLGATE_JOBS: "false",
    ...env,
  });
  await eventually("tollgate serve", async () => (await fetch(`${url}/readyz`)).ok);
  return url;
}

/** Starts the Polar simulator with the example products and no rate limit, `args` added; resolves to its URL. */
export async function startSimulator(args = []) {
  const url = `http://127.0.0.1:${await freePort()}`;
  start(binary("polar-sim"), ["serve", "--listen", url.slice(7), "--seed-catalog", "--rate-limit", "0", ...args]);
  await eventually("the simulator", async () => (await fetch(`${url}/_sim/health`)).ok);
  return url;
}
