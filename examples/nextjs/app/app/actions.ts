"use server";

import type { Reason, Upgrade } from "@tollgate/gate";
import { revalidatePath } from "next/cache";

import { getCustomerId } from "@/lib/identity";
import { entitlements } from "@/lib/snapshots";
import { setGauges } from "@/lib/tollgate/app-api";

export type ProjectState =
  | { ok: true; name: string; projects: number }
  | { ok: false; reason: Reason | "signed_out" | "unavailable"; message: string; upgrade: Upgrade | null }
  | null;

const messages: Partial<Record<Reason, string>> = {
  limit_reached: "You have reached your plan's limit of projects.",
  not_in_plan: "Your plan does not include projects.",
  subscription_ended: "Your subscription has ended.",
  payment_overdue: "Your payment is overdue.",
  stale_snapshot: "Your plan could not be confirmed right now.",
};

/**
 * "New project": checks `projects` with the package in this process (Node runtime), then
 * reports the new level to the sync worker. The demo keeps no project list: the level is the
 * count. Two concurrent submissions may both pass the check; an app that must never exceed the
 * limit checks inside its own transaction, or asks the sync worker (`POST /v1/check`).
 */
export async function createProject(_: ProjectState, form: FormData): Promise<ProjectState> {
  const customer = await getCustomerId();
  if (customer === null) return { ok: false, reason: "signed_out", message: "Sign in first.", upgrade: null };
  const current = await entitlements(customer, { fresh: true });
  if (current === null) {
    return {
      ok: false,
      reason: "unavailable",
      message: "Your account is still being set up; try again in a moment.",
      upgrade: null,
    };
  }
  const decision = current.gate.check("projects", 1);
  if (!decision.allowed) {
    const limit =
      decision.limit === null ? "" : ` (${decision.used} of ${decision.limit} on ${current.snapshot.plan.name})`;
    return {
      ok: false,
      reason: decision.reason,
      message: `${messages[decision.reason] ?? "Not allowed."}${limit}`,
      upgrade: decision.upgrade,
    };
  }
  const projects = (decision.used ?? 0) + 1;
  const reported = await setGauges(customer, { projects });
  if (!reported.ok) {
    return { ok: false, reason: "unavailable", message: `Could not save: ${reported.message}`, upgrade: null };
  }
  revalidatePath("/app");
  const name = String(form.get("name") ?? "").trim() || "Untitled";
  return { ok: true, name, projects };
}
