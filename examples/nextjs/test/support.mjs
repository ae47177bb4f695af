// What the example's test and its budget script share: the real stack (tests/e2e/stack.mjs)
// with the tokens the app uses, `next start` of the built app, and headless Chromium.

import { spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as delay } from "node:timers/promises";

import { eventually, startStack } from "../../../tests/e2e/stack.mjs";

export { eventually };

export const appDir = join(dirname(fileURLToPath(import.meta.url)), "..");
export const repoDir = join(appDir, "..", "..");
const nextBin = join(appDir, "node_modules", "next", "dist", "bin", "next");

export const SESSION_SECRET = "example-test-session-secret-0123456789abcdef";
export const SUPPORT_PASSCODE = "support-passcode";

/** A TCP port nothing listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** The secret `tollgate tokens create` prints (the line after "shown this once"). */
function createToken(stack, name, role) {
  const lines = stack.tollgate(["tokens", "create", "--name", name, "--role", role]).trim().split("\n");
  const at = lines.findIndex((line) => line.includes("shown this once"));
  const secret = lines[at + 1]?.trim();
  if (!secret) throw new Error(`no token secret in: ${lines.join("\n")}`);
  return secret;
}

/** The stack without the edge worker, and an `app` and a `support` token for the example. */
export async function startExampleStack() {
  const stack = await startStack({ edge: false });
  try {
    return {
      stack,
      appToken: createToken(stack, "example-app", "app"),
      supportToken: createToken(stack, "example-support", "support"),
    };
  } catch (error) {
    await stack.stop();
    throw error;
  }
}

/**
 * `next start` of the built app (`appDir`, or `dir`) on a free port, pointed at the stack.
 * Resolves once it answers HTTP; `stop()` ends its process group.
 */
export async function startApp({ syncUrl, appToken, supportToken, dir = appDir, env = {} }) {
  if (!existsSync(join(dir, ".next", "BUILD_ID")))
    throw new Error(`${dir} is not built: run \`npm --prefix examples/nextjs run build\``);
  const port = await freePort();
  const child = spawn(process.execPath, [nextBin, "start", "-H", "127.0.0.1", "-p", String(port)], {
    cwd: dir,
    env: {
      ...process.env,
      NEXT_TELEMETRY_DISABLED: "1",
      TOLLGATE_SYNC_URL: syncUrl,
      TOLLGATE_APP_TOKEN: appToken,
      TOLLGATE_SUPPORT_TOKEN: supportToken,
      TOLLGATE_SESSION_SECRET: SESSION_SECRET,
      TOLLGATE_SUPPORT_PASSCODE: SUPPORT_PASSCODE,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  const url = `http://127.0.0.1:${port}`;
  const stop = () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      // Already gone.
    }
  };
  for (let attempt = 0; attempt < 300; attempt += 1) {
    if (child.exitCode !== null) break;
    try {
      await fetch(`${url}/login`);
      return { url, stop, output: () => output };
    } catch {
      await delay(100);
    }
  }
  stop();
  throw new Error(`next start did not answer on ${url}:\n${output}`);
}

/** Debian's Chromium, headless, with the flags that keep it off the network. */
export async function launchChromium() {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: process.env.CHROMIUM_BIN ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

export const screenshotDir = join(process.env.CARGO_TARGET_DIR ?? join(repoDir, "target"), "screenshots");
mkdirSync(screenshotDir, { recursive: true });
