import type { Decision } from "@tollgate/gate";

import { featureLabel, formatDate, formatQuantity } from "./format";

export interface UsageBarProps {
  feature: string;
  /** A Decision for this feature now (its `limit`, `used` and `resetsAt`). */
  decision: Decision;
  /** The plan's soft-limit ratio (`warn_at`); from 0.8 by default. */
  warnAt?: number;
  unit?: string;
}

/** Used / limit of one limited feature, with its reset date; amber from `warnAt`, red at the limit. */
export function UsageBar({ feature, decision, warnAt = 0.8, unit }: UsageBarProps) {
  const label = featureLabel(feature);
  const id = `tg-usage-${feature}`;
  const used = decision.used ?? 0;
  const reset =
    decision.resetsAt === null ? null : <span className="tg-usage__reset">Resets {formatDate(decision.resetsAt)}</span>;
  if (decision.limit === null) {
    return (
      <div className="tg-usage tg-usage--unlimited" data-feature={feature}>
        <div className="tg-usage__head">
          <span>{label}</span>
          <span>{formatQuantity(used, unit)} used · Unlimited</span>
        </div>
        {reset}
      </div>
    );
  }
  const limit = decision.limit;
  const ratio = limit === 0 ? 1 : Math.min(1, used / limit);
  const level = used >= limit ? "full" : ratio >= warnAt ? "warn" : "ok";
  const text = `${formatQuantity(used, unit)} of ${formatQuantity(limit, unit)}`;
  return (
    <div className={`tg-usage tg-usage--${level}`} data-feature={feature}>
      <div className="tg-usage__head">
        <span id={id}>{label}</span>
        <span>{text}</span>
      </div>
      <div
        className="tg-usage__track"
        role="progressbar"
        aria-labelledby={id}
        aria-valuemin={0}
        aria-valuemax={limit}
        aria-valuenow={Math.min(used, limit)}
        aria-valuetext={`${text}${level === "ok" ? "" : level === "warn" ? ", nearly used up" : ", limit reached"}`}
      >
        <div className="tg-usage__fill" style={{ width: `${(ratio * 100).toFixed(1)}%` }} />
      </div>
      {reset}
    </div>
  );
}
