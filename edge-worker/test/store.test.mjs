// The isolate's snapshot cache under workerd: stale-while-revalidate (a newer revision in KV is
// picked up in the background, never making a request wait), and a revision never goes back
// when KV serves an older value.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { sha256Hex, snapshotOf, startWorker } from "./harness.mjs";

let worker;
before(async () => {
  worker = await startWorker({
    // Every cached snapshot is due for a background refresh; none is too old to answer from.
    TOLLGATE_SNAPSHOT_REFRESH_SECONDS: "0",
    TOLLGATE_SNAPSHOT_MAX_AGE_SECONDS: "3600",
  });
});
after(() => worker.dispose());

/** Writes a snapshot straight into KV, as the Cloudflare REST sink does (no isolate sees it). */
async function putDirect(customer, revision, used) {
  const snapshot = snapshotOf({ customer, revision, usage: { api_calls: used } });
  await worker.kv.put(`ent:v1:${customer}`, JSON.stringify(snapshot));
}

async function key(customer) {
  const k = `tg_test_${customer}`;
  await worker.kv.put(`key:v1:${sha256Hex(k)}`, customer);
  return k;
}

/** `used` of api_calls as the Worker answers, polled until `until(used)` (bounded). */
async function usedUntil(k, until) {
  for (let i = 0; i < 50; i++) {
    const { body } = await worker.check(k, "api_calls");
    if (until(body.used)) return body.used;
  }
  return (await worker.check(k, "api_calls")).body.used;
}

test("a newer revision in KV is picked up in the background", async () => {
  const k = await key("swr");
  await putDirect("swr", 1, 10);
  assert.equal((await worker.check(k, "api_calls")).body.used, 10, "first read, before answering");

  await putDirect("swr", 2, 20);
  // The cached revision answers at once while the refresh runs; the next answers see revision 2.
  assert.equal((await worker.check(k, "api_calls")).body.used, 10);
  assert.equal(await usedUntil(k, (used) => used === 20), 20);
});

test("an older value read from KV never replaces a newer cached revision", async () => {
  const k = await key("monotonic");
  await putDirect("monotonic", 5, 50);
  assert.equal((await worker.check(k, "api_calls")).body.used, 50);

  await putDirect("monotonic", 3, 30);
  // Several refreshes read revision 3; every answer stays on revision 5.
  const seen = new Set();
  for (let i = 0; i < 10; i++) seen.add((await worker.check(k, "api_calls")).body.used);
  assert.deepEqual([...seen], [50]);
});
