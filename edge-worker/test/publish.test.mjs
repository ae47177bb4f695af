// PUT /_tollgate/snapshots: the shared secret, whole-request validation, and the revision
// guard that keeps a late or repeated publish from rolling a customer back.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { sha256Hex, snapshotOf, startWorker } from "./harness.mjs";

let worker;
before(async () => {
  worker = await startWorker();
});
after(() => worker.dispose());

const stored = async (customer) => JSON.parse(await worker.kv.get(`ent:v1:${customer}`));

test("without the shared secret nothing is written", async () => {
  for (const secret of ["wrong", ""]) {
    const res = await worker.publish({ snapshots: [snapshotOf({ customer: "intruder", revision: 1 })] }, secret);
    assert.equal(res.status, 401);
    assert.equal(res.body.code, "invalid_internal_secret");
  }
  assert.equal(await worker.kv.get("ent:v1:intruder"), null);
});

test("only a newer revision replaces the stored snapshot", async () => {
  const publish = (revision, apiCalls) =>
    worker.publish({ snapshots: [snapshotOf({ customer: "guarded", revision, usage: { api_calls: apiCalls } })] });

  let res = await publish(2, 20);
  assert.deepEqual(res.body.written, ["guarded"]);

  res = await publish(1, 10);
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.written, []);
  assert.deepEqual(res.body.ignored, [{ customer: "guarded", revision: 1, stored: 2 }]);
  res = await publish(2, 99);
  assert.deepEqual(res.body.ignored, [{ customer: "guarded", revision: 2, stored: 2 }], "a repeat is ignored too");
  assert.equal((await stored("guarded")).revision, 2);
  assert.equal((await stored("guarded")).features.api_calls.used, 20);

  res = await publish(3, 30);
  assert.deepEqual(res.body.written, ["guarded"]);
  assert.equal((await stored("guarded")).features.api_calls.used, 30);
});

test("a snapshot is stored exactly as the engine wrote it, and keys by their hash", async () => {
  const snapshot = snapshotOf({ customer: "exact", revision: 1, gauges: { projects: 1 } });
  const res = await worker.publish({ snapshots: [snapshot], keys: [{ hash: sha256Hex("k"), customer: "exact" }] });
  assert.equal(res.body.keysWritten, 1);
  assert.deepStrictEqual(await stored("exact"), snapshot);
  assert.equal(await worker.kv.get(`key:v1:${sha256Hex("k")}`), "exact");
});

test("one bad item refuses the whole request and names it", async () => {
  const good = snapshotOf({ customer: "innocent", revision: 1 });
  const bad = { ...snapshotOf({ customer: "broken", revision: 1 }), schema: 99 };
  let res = await worker.publish({ snapshots: [good, bad] });
  assert.equal(res.status, 400);
  assert.equal(res.body.code, "unsupported_schema");
  assert.match(res.body.message, /^snapshots\[1\]/);
  assert.equal(await worker.kv.get("ent:v1:innocent"), null, "nothing written");

  res = await worker.publish({ snapshots: [good], keys: [{ hash: "not-a-hash", customer: "innocent" }] });
  assert.equal(res.status, 400);
  assert.equal(res.body.code, "invalid_key_entry");
  assert.equal(await worker.kv.get("ent:v1:innocent"), null, "nothing written");
});

test("malformed bodies and other methods are refused", async () => {
  const put = (body) =>
    worker.fetch("/_tollgate/snapshots", { method: "PUT", headers: { "x-tollgate-secret": "test-internal-secret" }, body });
  let res = await put("{not json");
  assert.equal(res.status, 400);
  assert.equal((await res.json()).code, "malformed_publish_request");
  res = await put(JSON.stringify({ snapshot: [] }));
  assert.equal(res.status, 400);
  res = await worker.fetch("/_tollgate/snapshots");
  assert.equal(res.status, 405);
  assert.equal((await res.json()).code, "method_not_allowed");
});
