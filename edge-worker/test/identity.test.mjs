// Identity under workerd: API keys looked up by hash in KV, and JWTs from an OIDC issuer
// (RS256 and ES256, keys generated here, JWKS served by a local stand-in of the issuer).

import assert from "node:assert/strict";
import { generateKeyPairSync, sign } from "node:crypto";
import { after, before, describe, test } from "node:test";

import { enrol, serve, sha256Hex, startWorker } from "./harness.mjs";

const ISSUER = "https://issuer.test";
const AUDIENCE = "tollgate";

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const rotated = generateKeyPairSync("ec", { namedCurve: "P-256" });

const jwk = (pair, kid, alg) => ({ ...pair.publicKey.export({ format: "jwk" }), kid, alg, use: "sig" });
const b64url = (value) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

/** A signed JWT; `claims` over good defaults for customer `jwt-user`. */
function token({ alg = "RS256", kid = alg === "RS256" ? "rsa-1" : "ec-1", key, claims = {} } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const payload = { iss: ISSUER, aud: AUDIENCE, sub: "jwt-user", iat: now, nbf: now - 5, exp: now + 60, ...claims };
  const input = `${b64url({ alg, kid, typ: "JWT" })}.${b64url(payload)}`;
  const signature =
    alg === "RS256"
      ? sign("sha256", Buffer.from(input), key ?? rsa.privateKey)
      : sign("sha256", Buffer.from(input), { key: key ?? ec.privateKey, dsaEncoding: "ieee-p1363" });
  return `${input}.${signature.toString("base64url")}`;
}

let worker;
let issuer;
let jwks = [jwk(rsa, "rsa-1", "RS256"), jwk(ec, "ec-1", "ES256")];
let jwksFetches = 0;
let apiKey;

before(async () => {
  issuer = await serve(() => {
    jwksFetches += 1;
    return { json: { keys: jwks } };
  });
  worker = await startWorker({
    TOLLGATE_JWT_ISSUER: ISSUER,
    TOLLGATE_JWT_AUDIENCE: AUDIENCE,
    TOLLGATE_JWKS_URL: `${issuer.url}/.well-known/jwks.json`,
    TOLLGATE_JWT_COOKIE: "__session",
  });
  apiKey = await enrol(worker, { customer: "key-user", revision: 1, gauges: { projects: 1 } });
  await enrol(worker, { customer: "jwt-user", revision: 1, usage: { api_calls: 7 } });
});
after(async () => {
  await worker.dispose();
  await issuer.close();
});

const reason = (res) => res.body.reason;

describe("API keys", () => {
  test("a known key answers for its customer", async () => {
    const res = await worker.check(apiKey, "projects");
    assert.equal(res.status, 200);
    assert.equal(res.body.used, 1, "key-user's own snapshot");
  });

  test("an unknown key is refused with a reason", async () => {
    const res = await worker.check("tg_live_unknown", "projects");
    assert.equal(res.status, 401);
    assert.equal(reason(res), "unknown_api_key");
  });

  test("missing or malformed credentials are refused", async () => {
    let res = await worker.fetch("/v1/check?feature=projects");
    assert.equal(res.status, 401);
    assert.equal((await res.json()).reason, "missing_credentials");
    res = await worker.fetch("/v1/check?feature=projects", { headers: { authorization: "Basic a2V5Og==" } });
    assert.equal(res.status, 401);
    assert.equal((await res.json()).reason, "malformed_authorization");
  });

  test("a revoked key stops working at once", async () => {
    const key = await enrol(worker, { customer: "revoked-user", revision: 1 });
    assert.equal((await worker.check(key, "projects")).status, 200);
    const res = await worker.publish({ keys: [{ hash: sha256Hex(key), customer: null }] });
    assert.equal(res.body.keysRevoked, 1);
    const after = await worker.check(key, "projects");
    assert.equal(after.status, 401);
    assert.equal(reason(after), "unknown_api_key");
  });
});

describe("JWTs", () => {
  test("RS256 and ES256 tokens name their customer", async () => {
    for (const alg of ["RS256", "ES256"]) {
      const res = await worker.check(token({ alg }), "api_calls");
      assert.equal(res.status, 200, `${alg}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.used, 7, "jwt-user's snapshot");
    }
  });

  test("without an Authorization header, the session cookie carries the token", async () => {
    const res = await worker.fetch("/v1/check?feature=api_calls", {
      headers: { cookie: `theme=dark; __session=${token({ alg: "ES256" })}` },
    });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).used, 7);
    const expired = await worker.fetch("/v1/check?feature=api_calls", {
      headers: { cookie: `__session=${token({ claims: { exp: Math.floor(Date.now() / 1000) - 3600 } })}` },
    });
    assert.equal(expired.status, 401);
    assert.equal((await expired.json()).reason, "token_expired");
  });

  test("the JWKS is fetched once and cached", async () => {
    const before = jwksFetches;
    for (let i = 0; i < 3; i++) {
      assert.equal((await worker.check(token({ alg: "ES256", claims: { jti: `t${i}` } }), "api_calls")).status, 200);
    }
    assert.equal(jwksFetches, before);
  });

  test("a key the issuer rotated in is fetched when a token names it", async () => {
    // Before any token with an unknown key: re-fetches for unknown keys are rate-limited.
    jwks = [...jwks, jwk(rotated, "ec-2", "ES256")];
    const res = await worker.check(token({ alg: "ES256", kid: "ec-2", key: rotated.privateKey }), "api_calls");
    assert.equal(res.status, 200, JSON.stringify(res.body));
  });

  test("expired, not yet valid, foreign and forged tokens are refused", async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases = [
      [token({ claims: { exp: now - 3600 } }), "token_expired"],
      [token({ alg: "ES256", claims: { exp: now - 3600 } }), "token_expired"],
      [token({ claims: { nbf: now + 3600 } }), "token_not_yet_valid"],
      [token({ claims: { iss: "https://evil.test" } }), "wrong_issuer"],
      [token({ claims: { aud: "someone-else" } }), "wrong_audience"],
      [token({ claims: { sub: undefined } }), "missing_customer_claim"],
      [token({ alg: "ES256", key: rotated.privateKey }), "invalid_signature"],
      [token({ alg: "ES256", kid: "nobody" }), "unknown_signing_key"],
      [`${b64url({ alg: "HS256" })}.${b64url({ sub: "x" })}.c2ln`, "unsupported_algorithm"],
      [`${b64url({ alg: "none" })}.${b64url({ sub: "x" })}.`, "unsupported_algorithm"],
    ];
    for (const [jwt, expected] of cases) {
      const res = await worker.check(jwt, "api_calls");
      assert.equal(res.status, 401, expected);
      assert.equal(reason(res), expected);
      assert.ok(res.body.message.length > 0);
    }
  });

});
