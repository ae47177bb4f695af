// Customers' snapshots from the sync worker (GET /v1/entitlements/{customer}), compiled once
// into a Gate and kept in this process's memory, keyed by customer and revision.
//
// A snapshot is reused for TOLLGATE_SNAPSHOT_TTL_MS (5 s) before the sync worker is asked
// again; when it answers the same revision the compiled Gate is kept. If the sync worker cannot
// be reached, the last snapshot is used however old it is: its own time rules (period ends,
// grace, expiry, `stale_after`) keep the answers right meanwhile. The same module runs in the
// edge middleware and on Node; each runtime has its own cache.

import { Gate, type Snapshot } from "@tollgate/gate";

import { appToken, snapshotTtlMs } from "./env";
import { call } from "./tollgate/client";

interface Entry {
  snapshot: Snapshot;
  gate: Gate;
  fetchedAt: number;
}

const cache = new Map<string, Entry>();

async function fetchSnapshot(customer: string): Promise<Snapshot | null> {
  const result = await call<Snapshot>(appToken(), "GET", `/v1/entitlements/${encodeURIComponent(customer)}`);
  if (result.ok) return result.body;
  // A customer tollgate has not seen yet (the sign-up's webhook is still on its way).
  if (result.code === "unknown_customer") return null;
  throw new Error(`GET /v1/entitlements/${customer}: ${result.code}: ${result.message}`);
}

/**
 * The customer's snapshot and its Gate, or null when the sync worker has none.
 * `fresh` skips the time-to-live (after a change this process made, such as a new gauge level).
 */
export async function entitlements(customer: string, { fresh = false } = {}): Promise<Entry | null> {
  const cached = cache.get(customer);
  const now = Date.now();
  if (cached !== undefined && !fresh && now - cached.fetchedAt < snapshotTtlMs()) return cached;
  let snapshot: Snapshot | null;
  try {
    snapshot = await fetchSnapshot(customer);
  } catch (error) {
    if (cached !== undefined) return cached;
    throw error;
  }
  if (snapshot === null) {
    cache.delete(customer);
    return null;
  }
  if (cached !== undefined && cached.snapshot.revision === snapshot.revision) {
    cached.fetchedAt = now;
    return cached;
  }
  // The replaced Gate is not freed here: a request that read it may still be using it. The
  // package releases its memory when it is garbage-collected.
  const entry = { snapshot, gate: Gate.fromSnapshot(snapshot), fetchedAt: now };
  cache.set(customer, entry);
  return entry;
}
