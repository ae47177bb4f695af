"use client";

import { useFormStatus } from "react-dom";

import type { Upgrade } from "@tollgate/gate";

function Submit({ plan, highlighted }: { plan: Upgrade; highlighted: boolean }) {
  const { pending } = useFormStatus();
  return (
    <button
      type="submit"
      className={`tg-button${highlighted ? " tg-button--primary" : ""}`}
      disabled={pending}
      aria-busy={pending}
    >
      {pending ? `Opening checkout for ${plan.name}…` : `Upgrade to ${plan.name}`}
    </button>
  );
}

/**
 * A button that starts an upgrade: it posts `plan` to `action` (a server action that creates
 * the checkout, or changes the plan, and redirects).
 */
export function UpgradeButton({
  plan,
  action,
  highlighted = false,
}: {
  plan: Upgrade;
  action: (form: FormData) => void | Promise<void>;
  highlighted?: boolean;
}) {
  return (
    <form action={action} className="tg-upgrade">
      <input type="hidden" name="plan" value={plan.plan} />
      <Submit plan={plan} highlighted={highlighted} />
    </form>
  );
}
