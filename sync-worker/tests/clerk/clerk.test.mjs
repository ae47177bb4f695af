// Clerk's user webhooks, signed by the reference Standard Webhooks library (npm
// `standardwebhooks`, what Svix and Clerk use), reach Polar through `tollgate serve`: a sign-up
// makes the Polar customer once, a forged signature is refused, a deletion deletes it.
//
// Runs the binaries `cargo test` (or `cargo build -p tollgate-sync -p polar-sim`) built, on a
// fresh PostgreSQL database that is dropped afterwards.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";

import { Webhook } from "standardwebhooks";

import { psql, startServe, startSimulator, stopAll } from "./processes.mjs";

const SIM_TOKEN = "polar_oat_simulator";
const API_TOKEN = randomBytes(24).toString("hex");
// Clerk's signing secrets are `whsec_` and the base64 of random bytes.
const CLERK_SECRET = `whsec_${randomBytes(32).toString("base64")}`;

const database = `tollgate_clerk_${randomBytes(6).toString("hex")}`;
let simUrl;
let syncUrl;

before(async () => {
  psql("postgres", `CREATE DATABASE ${database}`);
  simUrl = await startSimulator();
  syncUrl = await startServe(database, API_TOKEN, {
    POLAR_WEBHOOK_SECRET: "whsec_unused_in_this_test_000000000000",
    POLAR_ORGANIZATION_TOKEN: SIM_TOKEN,
    POLAR_API_URL: simUrl,
    CLERK_WEBHOOK_SECRET: CLERK_SECRET,
    RUST_LOG: "warn",
  });
});

after(async () => {
  stopAll();
  psql("postgres", `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
});

/** Posts `event` to /webhooks/clerk signed with `secret` by the standardwebhooks package. */
async function deliver(svixId, event, secret = CLERK_SECRET) {
  const payload = JSON.stringify(event);
  const at = new Date();
  const signature = new Webhook(secret).sign(svixId, at, payload);
  const res = await fetch(`${syncUrl}/webhooks/clerk`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "svix-id": svixId,
      "svix-timestamp": String(Math.floor(at.getTime() / 1000)),
      "svix-signature": signature,
    },
    body: payload,
  });
  return { status: res.status, body: await res.json() };
}

async function polarCustomer(externalId) {
  const res = await fetch(`${simUrl}/v1/customers/external/${externalId}`, {
    headers: { authorization: `Bearer ${SIM_TOKEN}` },
  });
  return { status: res.status, body: res.status === 200 ? await res.json() : null };
}

const userCreated = {
  type: "user.created",
  object: "event",
  data: {
    id: "user_2node",
    object: "user",
    first_name: "Grace",
    last_name: "Hopper",
    primary_email_address_id: "idn_1",
    email_addresses: [{ id: "idn_1", object: "email_address", email_address: "grace@example.com" }],
  },
};

test("a Clerk sign-up makes the Polar customer once", async () => {
  const first = await deliver("msg_node_1", userCreated);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.equal(first.body.status, "processed");
  const again = await deliver("msg_node_1", userCreated);
  assert.equal(again.status, 200);
  assert.equal(again.body.status, "duplicate");
  const { status, body } = await polarCustomer("user_2node");
  assert.equal(status, 200);
  assert.equal(body.email, "grace@example.com");
  assert.equal(body.name, "Grace Hopper");
  const counts = await (await fetch(`${simUrl}/_sim/requests`)).json();
  assert.equal(counts["POST /v1/customers"], 1);
});

test("a signature under another secret is refused", async () => {
  const other = `whsec_${randomBytes(32).toString("base64")}`;
  const forged = await deliver("msg_node_forged", { type: "user.deleted", data: { id: "user_2node" } }, other);
  assert.equal(forged.status, 401);
  assert.equal(forged.body.code, "invalid_signature");
  assert.equal((await polarCustomer("user_2node")).status, 200);
});

test("a Clerk deletion deletes the Polar customer", async () => {
  const deleted = await deliver("msg_node_2", {
    type: "user.deleted",
    data: { id: "user_2node", object: "user", deleted: true },
  });
  assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
  assert.equal((await polarCustomer("user_2node")).status, 404);
});
