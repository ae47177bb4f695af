"use server";

import { timingSafeEqual } from "node:crypto";

import { cookies } from "next/headers";
import { redirect } from "next/navigation";

import { entitlements } from "@/lib/snapshots";
import { SESSION_COOKIE, SESSION_MAX_AGE, signSession, type Session } from "@/lib/session";
import { ensureCustomer } from "@/lib/tollgate/app-api";

export type LoginState = { error: string } | null;

async function startSession(role: Session["role"], subject: string) {
  (await cookies()).set(SESSION_COOKIE, await signSession(role, subject), {
    httpOnly: true,
    sameSite: "lax",
    path: "/",
    maxAge: SESSION_MAX_AGE,
    secure: process.env.NODE_ENV === "production" && process.env.TOLLGATE_INSECURE_COOKIES !== "1",
  });
}

/** Only paths of this app: an open redirect would let a link send users elsewhere. */
function localPath(next: FormDataEntryValue | null): string {
  return typeof next === "string" && next.startsWith("/") && !next.startsWith("//") ? next : "/app";
}

// Polls until the sync worker holds the new customer's snapshot (the sign-up's webhook has to
// arrive first), for at most a few seconds; pages cope without it meanwhile.
async function awaitSnapshot(customer: string) {
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    if ((await entitlements(customer, { fresh: true })) !== null) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Signs a customer in, making their Polar customer first when it does not exist (a sign-up). */
export async function signInCustomer(_: LoginState, form: FormData): Promise<LoginState> {
  const customer = String(form.get("customer") ?? "").trim();
  const email = String(form.get("email") ?? "").trim();
  if (customer === "" || email === "") return { error: "Enter a customer id and an e-mail address." };
  const made = await ensureCustomer(customer, email);
  if (!made.ok) return { error: `Could not sign in: ${made.message} (${made.code})` };
  await awaitSnapshot(customer);
  await startSession("customer", customer);
  redirect(localPath(form.get("next")));
}

function passcodeMatches(given: string): boolean {
  const expected = Buffer.from(process.env.TOLLGATE_SUPPORT_PASSCODE ?? "");
  const actual = Buffer.from(given);
  return expected.length > 0 && actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** Signs a member of the support staff in with the shared passcode (TOLLGATE_SUPPORT_PASSCODE). */
export async function signInSupport(_: LoginState, form: FormData): Promise<LoginState> {
  const staff = String(form.get("staff") ?? "").trim();
  if (staff === "") return { error: "Enter your name." };
  if (!passcodeMatches(String(form.get("passcode") ?? ""))) return { error: "That passcode is not right." };
  await startSession("support", staff);
  redirect("/support");
}
