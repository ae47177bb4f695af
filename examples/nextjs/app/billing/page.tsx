import type { Decision } from "@tollgate/gate";
import { redirect } from "next/navigation";

import { BillingDashboard } from "@/components/billing";
import { getCustomerId } from "@/lib/identity";
import { entitlements } from "@/lib/snapshots";
import { orders } from "@/lib/tollgate/app-api";

import { manageBilling, upgrade } from "./actions";
import { RefreshUntil } from "./RefreshUntil";

export const metadata = { title: "Billing — Acme Projects" };

type Search = Record<string, string | undefined>;

export default async function BillingPage({ searchParams }: { searchParams: Promise<Search> }) {
  const customer = await getCustomerId();
  if (customer === null) redirect("/login?next=/billing");
  const search = await searchParams;
  const [current, invoices] = await Promise.all([entitlements(customer, { fresh: true }), orders(customer)]);
  if (current === null) {
    return (
      <div className="stack">
        <h1>Billing</h1>
        <p role="status">Your account is being set up; this page refreshes in a moment.</p>
        <RefreshUntil seconds={30} />
      </div>
    );
  }
  const { snapshot, gate } = current;
  const features = Object.keys(snapshot.features);
  const answers = gate.checkMany(features.map((feature) => ({ feature })));
  const decisions: Record<string, Decision> = Object.fromEntries(features.map((feature, i) => [feature, answers[i]]));
  const onDefault = (answers[0]?.plan ?? snapshot.plan.key) === snapshot.default_plan;
  const waitingForPlan = search.checkout === "success" && onDefault;
  const notice = search.error
    ? { kind: "error" as const, text: search.error }
    : waitingForPlan
      ? { kind: "info" as const, text: "Payment received. Your new plan shows here within a few seconds." }
      : search.checkout === "success"
        ? { kind: "info" as const, text: "Payment received. Thank you!" }
        : search.changed
          ? { kind: "info" as const, text: "Plan change requested; it shows here within a few seconds." }
          : undefined;
  return (
    <div className="stack">
      <h1>Billing</h1>
      <BillingDashboard
        snapshot={snapshot}
        decisions={decisions}
        orders={invoices.ok ? invoices.body.items : []}
        upgradeAction={upgrade}
        manageAction={manageBilling}
        requested={{ plan: search.upgrade ?? null, feature: search.feature ?? null }}
        notice={notice}
      />
      {waitingForPlan || search.changed ? <RefreshUntil seconds={30} /> : null}
    </div>
  );
}
