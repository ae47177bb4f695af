"use server";

import { revalidatePath } from "next/cache";

import { getStaffName } from "@/lib/identity";
import { adjustUsage, createGrant } from "@/lib/tollgate/support-api";

export type SupportFormState = { ok: boolean; message: string } | null;

const text = (form: FormData, name: string) => String(form.get(name) ?? "").trim();

/** A grant: extra allowance for one customer, with the reason the audit log keeps. */
export async function addGrant(_: SupportFormState, form: FormData): Promise<SupportFormState> {
  if ((await getStaffName()) === null) return { ok: false, message: "Sign in to support first." };
  const customer = text(form, "customer");
  const raw = text(form, "amount");
  const amount = raw === "unlimited" ? "unlimited" : raw === "true" ? true : Number(raw);
  const expires = text(form, "expires_at");
  const result = await createGrant({
    customer,
    feature: text(form, "feature"),
    amount,
    reason: text(form, "reason"),
    ...(expires === "" ? {} : { expires_at: new Date(`${expires}T00:00:00Z`).toISOString() }),
  });
  if (!result.ok) return { ok: false, message: `${result.message} (${result.code})` };
  revalidatePath(`/support/customers/${encodeURIComponent(customer)}`);
  return { ok: true, message: `Granted ${String(result.body.amount)} ${result.body.feature}.` };
}

/** A usage adjustment on a metered feature's count of the current period. */
export async function addAdjustment(_: SupportFormState, form: FormData): Promise<SupportFormState> {
  if ((await getStaffName()) === null) return { ok: false, message: "Sign in to support first." };
  const customer = text(form, "customer");
  const result = await adjustUsage({
    customer,
    feature: text(form, "feature"),
    delta: Number(text(form, "delta")),
    reason: text(form, "reason"),
  });
  if (!result.ok) return { ok: false, message: `${result.message} (${result.code})` };
  revalidatePath(`/support/customers/${encodeURIComponent(customer)}`);
  return { ok: true, message: `Adjusted: ${result.body.used} used this period.` };
}
