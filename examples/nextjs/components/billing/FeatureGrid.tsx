import type { PlanLimit, Snapshot } from "@tollgate/gate";

import { featureLabel, formatAllowance } from "./format";

/** Every plan's allowance of every feature, the customer's plan highlighted. */
export function FeatureGrid({ snapshot, currentPlan }: { snapshot: Snapshot; currentPlan: string }) {
  const features = Object.entries(snapshot.features);
  return (
    <table className="tg-feature-grid">
      <caption>What each plan includes</caption>
      <thead>
        <tr>
          <th scope="col">Feature</th>
          {snapshot.plans.map((plan) => (
            <th
              scope="col"
              key={plan.key}
              className={plan.key === currentPlan ? "tg-current" : undefined}
              aria-current={plan.key === currentPlan ? "true" : undefined}
            >
              {plan.name}
              {plan.key === currentPlan ? <span className="tg-current__tag"> (your plan)</span> : null}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {features.map(([key, feature]) => (
          <tr key={key}>
            <th scope="row">{featureLabel(key)}</th>
            {snapshot.plans.map((plan) => (
              <td key={plan.key} className={plan.key === currentPlan ? "tg-current" : undefined}>
                {allowanceOf(feature.plans[plan.key], plan.key === currentPlan, feature.unit)}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A seat limit is the customer's own seat count on their plan, and "per seat" on the others. */
function allowanceOf(limit: PlanLimit | undefined, current: boolean, unit?: string): string {
  if (limit?.seats && !current) return "Per seat";
  return formatAllowance(limit?.limit ?? null, unit);
}
