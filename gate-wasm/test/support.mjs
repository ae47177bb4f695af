// Shared by the Node tests: where the built package and the repository's fixtures live, and a
// small customer on the seed's catalog.

import { mkdtempSync, mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const gateDir = join(dirname(fileURLToPath(import.meta.url)), "..");
export const repoDir = join(gateDir, "..");
export const pkgDir = join(gateDir, "pkg");

/** The seed's catalog, examples/catalog.toml. */
export const seedCatalog = readFileSync(join(repoDir, "examples", "catalog.toml"), "utf8");

/** The built package's wasm module, compiled here. */
export function compiledModule() {
  return new WebAssembly.Module(readFileSync(join(pkgDir, "gate.wasm")));
}

/**
 * A directory whose node_modules holds the built package as `@tollgate/gate`, so imports
 * resolve through the package's `exports` as they do for its users.
 */
export function consumerDir() {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-gate-consumer-"));
  mkdirSync(join(dir, "node_modules", "@tollgate"), { recursive: true });
  symlinkSync(pkgDir, join(dir, "node_modules", "@tollgate", "gate"), "dir");
  return dir;
}

export const ISSUED_AT = Date.parse("2026-11-24T09:00:00.000Z");

/** A Polar subscription to the Premium plan (selected by product metadata), mid-period. */
export function premiumSubscription(overrides = {}) {
  return {
    id: "8f6b1c7e-2a44-4d3b-9a51-0c6f3e2d1b10",
    status: "active",
    amount: 1900,
    currency: "usd",
    recurring_interval: "month",
    recurring_interval_count: 1,
    current_period_start: "2026-11-10T00:00:00.000000Z",
    current_period_end: "2026-12-10T00:00:00.000000Z",
    cancel_at_period_end: false,
    canceled_at: null,
    ended_at: null,
    customer_id: "1b09a7dc-39e3-4af8-96d3-ae9629bac30f",
    product_id: "becccfc8-9252-4f2f-983e-4eeaaac45350",
    product: {
      id: "becccfc8-9252-4f2f-983e-4eeaaac45350",
      name: "Premium (monthly)",
      metadata: { plan: "premium" },
    },
    ...overrides,
  };
}

/** A Premium customer with some usage. */
export function premiumAccount() {
  return {
    customer: "user_123",
    subscriptions: [premiumSubscription()],
    usage: { api_calls: 39_999 },
    gauges: { projects: 3, team_members: 5 },
    grants: [],
    revision: 7,
  };
}

/** A customer on the default (Free) plan. */
export function freeAccount() {
  return { customer: "user_free", gauges: { projects: 1 }, usage: { api_calls: 10 } };
}
