import type { Decision, Snapshot, SnapshotSubscription } from "@tollgate/gate";

import type { Order } from "@/lib/tollgate/types";

import { FeatureGrid } from "./FeatureGrid";
import { featureLabel, formatDate, formatQuantity } from "./format";
import { InvoiceTable } from "./InvoiceTable";
import { PlanBadge } from "./PlanBadge";
import { UpgradeButton } from "./UpgradeButton";
import { UsageBar } from "./UsageBar";

type Action = (form: FormData) => void | Promise<void>;

export interface BillingDashboardProps {
  snapshot: Snapshot;
  /** A Decision for every feature of the snapshot, now (`gate.checkMany`). */
  decisions: Record<string, Decision>;
  orders: Order[];
  /** Server action: starts the upgrade to the posted `plan`. */
  upgradeAction: Action;
  /** Server action: opens the customer portal. */
  manageAction: Action;
  /** A refusal that sent the customer here (`?upgrade=<plan>&feature=<feature>`). */
  requested?: { plan: string | null; feature: string | null };
  /** One line to show on top, e.g. after a checkout or a refused call. */
  notice?: { kind: "info" | "error"; text: string };
}

/** The subscription behind the customer's plan, else the most recent one. */
function currentSubscription(snapshot: Snapshot, plan: string): SnapshotSubscription | undefined {
  const live = snapshot.subscriptions.filter(
    (s) => s.plan === plan && ["active", "trialing", "past_due"].includes(s.status),
  );
  return live[0] ?? snapshot.subscriptions.find((s) => s.plan === plan);
}

function StatusLine({ subscription }: { subscription: SnapshotSubscription | undefined }) {
  if (subscription === undefined) return <p className="tg-status">No subscription.</p>;
  const end = formatDate(subscription.current_period_end);
  if (subscription.status === "past_due") {
    return (
      <p className="tg-status tg-status--bad">
        Payment past due · access until {formatDate(subscription.grace_ends_at)}
      </p>
    );
  }
  if (subscription.cancel_at_period_end) return <p className="tg-status tg-status--warn">Cancels on {end}</p>;
  if (subscription.status === "trialing") return <p className="tg-status">Trial ends {end}</p>;
  if (subscription.status === "active") return <p className="tg-status">Renews on {end}</p>;
  return <p className="tg-status">Subscription {subscription.status}</p>;
}

/** Plan and status, banners, usage, the plans' features, upgrades and invoices: the billing page. */
export function BillingDashboard({
  snapshot,
  decisions,
  orders,
  upgradeAction,
  manageAction,
  requested,
  notice,
}: BillingDashboardProps) {
  const planKey = Object.values(decisions)[0]?.plan ?? snapshot.plan.key;
  const plans = snapshot.plans;
  const plan = plans.find((p) => p.key === planKey) ?? { key: planKey, name: planKey, rank: 0 };
  const subscription = currentSubscription(snapshot, planKey);
  const higher = plans.filter((p) => p.rank > plan.rank);
  // Gauges and metered features in the plan (limited or unlimited); booleans are in the grid.
  const limited = Object.entries(snapshot.features).filter(([key, feature]) => {
    const reason = decisions[key]?.reason;
    return (
      feature.type !== "boolean" && reason !== undefined && reason !== "not_in_plan" && reason !== "unknown_feature"
    );
  });
  const warnAt = (feature: string) => snapshot.features[feature]?.plans[planKey]?.warn_at;
  const nearLimit = limited.filter(([key]) => {
    const d = decisions[key];
    const ratio = warnAt(key);
    return d.limit !== null && d.used !== null && ratio !== undefined && d.used >= ratio * d.limit;
  });
  const requestedPlan = plans.find((p) => p.key === requested?.plan);
  const requestedFeature = requested?.feature ? featureLabel(requested.feature) : null;

  return (
    <div className="tg-billing">
      {notice ? (
        <p className={`tg-banner tg-banner--${notice.kind}`} role={notice.kind === "error" ? "alert" : "status"}>
          {notice.text}
        </p>
      ) : null}
      {subscription?.status === "past_due" ? (
        <div className="tg-banner tg-banner--error" role="alert">
          <strong>Your last payment failed.</strong> You keep {plan.name} until {formatDate(subscription.grace_ends_at)}
          ; update your payment method before then.
          <form action={manageAction}>
            <button type="submit" className="tg-button">
              Update payment method
            </button>
          </form>
        </div>
      ) : null}
      {requestedFeature !== null && requestedPlan !== undefined && requestedPlan.rank > plan.rank ? (
        <div className="tg-banner tg-banner--info" role="status">
          {requestedFeature} needs the {requestedPlan.name} plan.
        </div>
      ) : null}
      {nearLimit.map(([key]) => {
        const d = decisions[key];
        const unit = snapshot.features[key]?.unit;
        const full = d.used !== null && d.limit !== null && d.used >= d.limit;
        return (
          <p key={key} className="tg-banner tg-banner--warn" role="status">
            {full ? "You have reached your limit of" : "You have used"} {formatQuantity(d.used ?? 0, unit)}
            {full ? "" : ` of ${formatQuantity(d.limit ?? 0, unit)}`} {featureLabel(key)}
            {d.resetsAt ? ` (resets ${formatDate(d.resetsAt)})` : ""}.
          </p>
        );
      })}

      <section className="tg-card" aria-labelledby="tg-plan-heading">
        <h2 id="tg-plan-heading">
          Your plan: <PlanBadge plan={plan} isDefault={plan.key === snapshot.default_plan} />
        </h2>
        <StatusLine subscription={subscription} />
        <div className="tg-actions">
          {higher.map((p) => (
            <UpgradeButton
              key={p.key}
              plan={{ plan: p.key, name: p.name }}
              action={upgradeAction}
              highlighted={p.key === (requestedPlan?.key ?? higher[0]?.key)}
            />
          ))}
          <form action={manageAction}>
            <button type="submit" className="tg-button">
              Manage billing
            </button>
          </form>
        </div>
      </section>

      <section className="tg-card" aria-labelledby="tg-usage-heading">
        <h2 id="tg-usage-heading">Usage</h2>
        {limited.length === 0 ? <p>Nothing on this plan is counted.</p> : null}
        {limited.map(([key, feature]) => (
          <UsageBar key={key} feature={key} decision={decisions[key]} warnAt={warnAt(key)} unit={feature.unit} />
        ))}
      </section>

      <section className="tg-card" aria-labelledby="tg-plans-heading">
        <h2 id="tg-plans-heading">Plans</h2>
        <FeatureGrid snapshot={snapshot} currentPlan={plan.key} />
      </section>

      <section className="tg-card" aria-labelledby="tg-invoices-heading">
        <h2 id="tg-invoices-heading">Billing history</h2>
        <InvoiceTable orders={orders} />
      </section>
    </div>
  );
}
