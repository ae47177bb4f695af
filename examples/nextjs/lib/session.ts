// The demo session: a cookie holding who signed in, signed with HMAC-SHA-256 so the browser
// cannot change it. Web Crypto only, so the same code runs in the edge middleware and on Node.
// Replace it with your identity provider (see getCustomerId in lib/identity.ts).

import { sessionSecret } from "./env";

export const SESSION_COOKIE = "tollgate_demo_session";
const LIFETIME_SECONDS = 7 * 24 * 3600;

/** A customer of the app, or a member of the support staff. */
export interface Session {
  role: "customer" | "support";
  /** The customer id (Polar's external id) or the staff member's name. */
  subject: string;
  /** Seconds since the epoch. */
  expires: number;
}

const encoder = new TextEncoder();

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64url(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

async function key(): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", encoder.encode(sessionSecret()), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
    "verify",
  ]);
}

/** The cookie's value for a new session. */
export async function signSession(role: Session["role"], subject: string, now = Date.now()): Promise<string> {
  const session: Session = { role, subject, expires: Math.floor(now / 1000) + LIFETIME_SECONDS };
  const payload = base64url(encoder.encode(JSON.stringify(session)));
  const signature = new Uint8Array(await crypto.subtle.sign("HMAC", await key(), encoder.encode(payload)));
  return `${payload}.${base64url(signature)}`;
}

/** The session a cookie value holds, or null when it is missing, forged, malformed or expired. */
export async function verifySession(value: string | undefined, now = Date.now()): Promise<Session | null> {
  if (value === undefined) return null;
  const [payload, signature, extra] = value.split(".");
  if (payload === undefined || signature === undefined || extra !== undefined) return null;
  try {
    // crypto.subtle.verify compares in constant time.
    const valid = await crypto.subtle.verify("HMAC", await key(), fromBase64url(signature), encoder.encode(payload));
    if (!valid) return null;
    const session = JSON.parse(new TextDecoder().decode(fromBase64url(payload))) as Session;
    if (typeof session.subject !== "string" || session.subject === "") return null;
    if (session.role !== "customer" && session.role !== "support") return null;
    return session.expires * 1000 > now ? session : null;
  } catch {
    return null;
  }
}

/** Anything with Next's cookie-store `get`: `request.cookies` in middleware, `await cookies()` elsewhere. */
export interface CookieSource {
  get(name: string): { value: string } | undefined;
}

export const SESSION_MAX_AGE = LIFETIME_SECONDS;
