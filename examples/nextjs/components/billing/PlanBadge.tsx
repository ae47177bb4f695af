import type { SnapshotPlanRef } from "@tollgate/gate";

/** The plan's name as a badge; `paid` plans get the accent colour. */
export function PlanBadge({ plan, isDefault = false }: { plan: SnapshotPlanRef; isDefault?: boolean }) {
  return (
    <span className={`tg-plan-badge${isDefault ? "" : " tg-plan-badge--paid"}`} data-plan={plan.key}>
      {plan.name}
    </span>
  );
}
