// The sync worker's calls an app backend makes, with the `app` token.

import { appToken } from "../env";
import { call } from "./client";
import type { Checkout, Order } from "./types";

const customerPath = (customer: string) => encodeURIComponent(customer);

/** Makes (or finds) the Polar customer whose external id is `customer`. */
export const ensureCustomer = (customer: string, email: string) =>
  call<{ customer: string; polar_id: string; email: string }>(appToken(), "POST", "/v1/customers", { customer, email });

/** Reports gauge levels, e.g. `{ projects: 3 }`. */
export const setGauges = (customer: string, levels: Record<string, number>) =>
  call<{ customer: string; gauges: Record<string, number> }>(
    appToken(),
    "PUT",
    `/v1/gauges/${customerPath(customer)}`,
    levels,
  );

/** Invoice history, newest first. */
export const orders = (customer: string) =>
  call<{ items: Order[]; next: string | null }>(
    appToken(),
    "GET",
    `/v1/customers/${customerPath(customer)}/orders?limit=20`,
  );

export const createCheckout = (customer: string, plan: string, successUrl: string, returnUrl: string) =>
  call<Checkout>(appToken(), "POST", "/v1/checkouts", {
    customer,
    plan,
    success_url: successUrl,
    return_url: returnUrl,
  });

export const changePlan = (customer: string, plan: string) =>
  call<{ subscription: string; from: string; to: string }>(
    appToken(),
    "POST",
    `/v1/customers/${customerPath(customer)}/plan`,
    {
      plan,
    },
  );

export const createPortalSession = (customer: string, returnUrl: string) =>
  call<{ url: string; expires_at: string }>(appToken(), "POST", "/v1/portal-sessions", {
    customer,
    return_url: returnUrl,
  });
