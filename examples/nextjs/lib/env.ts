// The app's settings, read from the environment on the server (and in the edge middleware).
// None of them reaches the browser: Next.js only inlines variables named NEXT_PUBLIC_*.

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") {
    throw new Error(`${name} is not set (see examples/nextjs/README.md)`);
  }
  return value;
}

/** The sync worker's origin, e.g. http://127.0.0.1:8080. */
export const syncUrl = () => required("TOLLGATE_SYNC_URL").replace(/\/+$/, "");

/** A `/v1` token of role `app`: entitlements, gauges, checkouts, portal, orders. */
export const appToken = () => required("TOLLGATE_APP_TOKEN");

/** A `/v1` token of role `support`, used only by /support's server code. */
export const supportToken = () => required("TOLLGATE_SUPPORT_TOKEN");

/** The key that signs the demo session cookie (at least 32 characters). */
export function sessionSecret(): string {
  const secret = required("TOLLGATE_SESSION_SECRET");
  if (secret.length < 32) throw new Error("TOLLGATE_SESSION_SECRET must be at least 32 characters");
  return secret;
}

/** How long a fetched snapshot is reused before the sync worker is asked again. */
export function snapshotTtlMs(): number {
  const value = Number(process.env.TOLLGATE_SNAPSHOT_TTL_MS ?? "5000");
  return Number.isFinite(value) && value >= 0 ? value : 5000;
}
