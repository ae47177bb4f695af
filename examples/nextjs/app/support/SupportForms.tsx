"use client";

import { useActionState } from "react";

import { featureLabel } from "@/components/billing/format";

import { addAdjustment, addGrant, type SupportFormState } from "./actions";

function Result({ state }: { state: SupportFormState }) {
  if (state === null) return null;
  return <p role={state.ok ? "status" : "alert"}>{state.message}</p>;
}

/** Grant and usage-adjustment forms for one customer; both need a reason (kept in the audit log). */
export function SupportForms({
  customer,
  features,
  metered,
}: {
  customer: string;
  features: string[];
  metered: string[];
}) {
  const [grantState, grant, granting] = useActionState<SupportFormState, FormData>(addGrant, null);
  const [adjustState, adjust, adjusting] = useActionState<SupportFormState, FormData>(addAdjustment, null);
  return (
    <div className="stack">
      <form action={grant} className="tg-card" aria-labelledby="grant-heading">
        <h2 id="grant-heading">Add a grant</h2>
        <input type="hidden" name="customer" value={customer} />
        <label htmlFor="grant-feature">Feature</label>
        <select id="grant-feature" name="feature" required>
          {features.map((f) => (
            <option key={f} value={f}>
              {featureLabel(f)}
            </option>
          ))}
        </select>
        <label htmlFor="grant-amount">Amount (a number, “unlimited”, or “true” for an on/off feature)</label>
        <input id="grant-amount" name="amount" required />
        <label htmlFor="grant-expires">Expires on (optional)</label>
        <input id="grant-expires" name="expires_at" type="date" />
        <label htmlFor="grant-reason">Reason</label>
        <textarea id="grant-reason" name="reason" required rows={2} />
        <p>
          <button type="submit" className="tg-button tg-button--primary" disabled={granting}>
            Add grant
          </button>
        </p>
        <Result state={grantState} />
      </form>
      <form action={adjust} className="tg-card" aria-labelledby="adjust-heading">
        <h2 id="adjust-heading">Adjust usage</h2>
        <input type="hidden" name="customer" value={customer} />
        <label htmlFor="adjust-feature">Metered feature</label>
        <select id="adjust-feature" name="feature" required>
          {metered.map((f) => (
            <option key={f} value={f}>
              {featureLabel(f)}
            </option>
          ))}
        </select>
        <label htmlFor="adjust-delta">Change (negative to credit back)</label>
        <input id="adjust-delta" name="delta" type="number" step={1} required />
        <label htmlFor="adjust-reason">Reason</label>
        <textarea id="adjust-reason" name="reason" required rows={2} />
        <p>
          <button type="submit" className="tg-button" disabled={adjusting}>
            Adjust usage
          </button>
        </p>
        <Result state={adjustState} />
      </form>
    </div>
  );
}
