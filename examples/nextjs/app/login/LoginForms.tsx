"use client";

import { useActionState } from "react";

import { signInCustomer, signInSupport, type LoginState } from "./actions";

export function LoginForms({ customer, email, next }: { customer: string; email: string; next: string }) {
  const [customerState, customerAction, customerPending] = useActionState<LoginState, FormData>(signInCustomer, null);
  const [supportState, supportAction, supportPending] = useActionState<LoginState, FormData>(signInSupport, null);
  return (
    <div className="stack">
      <form action={customerAction} className="tg-card" aria-labelledby="customer-login">
        <h2 id="customer-login">Customer</h2>
        <input type="hidden" name="next" value={next} />
        <label htmlFor="customer">Customer id</label>
        <input id="customer" name="customer" defaultValue={customer} required autoComplete="username" />
        <label htmlFor="email">E-mail</label>
        <input id="email" name="email" type="email" defaultValue={email} required autoComplete="email" />
        <p>
          <button type="submit" className="tg-button tg-button--primary" disabled={customerPending}>
            Sign in
          </button>
        </p>
        {customerState ? <p role="alert">{customerState.error}</p> : null}
      </form>
      <form action={supportAction} className="tg-card" aria-labelledby="support-login">
        <h2 id="support-login">Support staff</h2>
        <label htmlFor="staff">Your name</label>
        <input id="staff" name="staff" required />
        <label htmlFor="passcode">Passcode</label>
        <input id="passcode" name="passcode" type="password" required autoComplete="current-password" />
        <p>
          <button type="submit" className="tg-button" disabled={supportPending}>
            Sign in to support
          </button>
        </p>
        {supportState ? <p role="alert">{supportState.error}</p> : null}
      </form>
    </div>
  );
}
