"use server";

import { redirect } from "next/navigation";

import { getCustomerId } from "@/lib/identity";
import { appOrigin } from "@/lib/origin";
import { entitlements } from "@/lib/snapshots";
import { changePlan, createCheckout, createPortalSession } from "@/lib/tollgate/app-api";

function backWithError(message: string): never {
  redirect(`/billing?error=${encodeURIComponent(message)}`);
}

/**
 * Upgrade to the posted plan: a customer on the default plan pays through a Polar checkout;
 * one who already subscribes changes plans (prorated) and stays here.
 */
export async function upgrade(form: FormData) {
  const customer = await getCustomerId();
  if (customer === null) redirect("/login?next=/billing");
  const plan = String(form.get("plan") ?? "");
  const current = await entitlements(customer, { fresh: true });
  const origin = await appOrigin();
  if (current !== null && current.snapshot.plan.key !== current.snapshot.default_plan) {
    const changed = await changePlan(customer, plan);
    if (!changed.ok) backWithError(changed.message);
    redirect("/billing?changed=1");
  }
  const checkout = await createCheckout(customer, plan, `${origin}/billing?checkout=success`, `${origin}/billing`);
  if (!checkout.ok) backWithError(checkout.message);
  redirect(checkout.body.url);
}

/** "Manage billing": Polar's customer portal. */
export async function manageBilling() {
  const customer = await getCustomerId();
  if (customer === null) redirect("/login?next=/billing");
  const session = await createPortalSession(customer, `${await appOrigin()}/billing`);
  if (!session.ok) backWithError(session.message);
  redirect(session.body.url);
}
