// Who is signed in, in one place. The demo signs its own cookie (/login); with Clerk configured
// (CLERK_SECRET_KEY) the user id comes from Clerk's auth() instead, and that id is the customer
// id tollgate knows (the sync worker's Clerk webhooks create the Polar customer with it).

import { cookies } from "next/headers";

import { SESSION_COOKIE, verifySession, type CookieSource } from "./session";

// A variable, so that bundlers leave the import alone: the demo does not install Clerk.
const CLERK_MODULE = "@clerk/nextjs/server";

interface ClerkServer {
  auth(): Promise<{ userId: string | null }>;
}

async function clerkUserId(): Promise<string | null> {
  const clerk = (await import(/* webpackIgnore: true */ /* turbopackIgnore: true */ CLERK_MODULE)) as ClerkServer;
  return (await clerk.auth()).userId;
}

/**
 * The signed-in customer's id (Polar's external customer id), or null.
 *
 * `source` is the request's cookies where `next/headers` is not available (middleware).
 */
export async function getCustomerId(source?: CookieSource): Promise<string | null> {
  if (process.env.CLERK_SECRET_KEY) return clerkUserId();
  const session = await verifySession((source ?? (await cookies())).get(SESSION_COOKIE)?.value);
  return session?.role === "customer" ? session.subject : null;
}

/** The signed-in support staff member's name, or null. */
export async function getStaffName(): Promise<string | null> {
  const session = await verifySession((await cookies()).get(SESSION_COOKIE)?.value);
  return session?.role === "support" ? session.subject : null;
}
