// The sync worker's admin calls behind /support, with the `support` token. Only server code
// imports this module; the token never reaches the browser.

import { supportToken } from "../env";
import { call } from "./client";
import type { CustomerMatch, FailedPayment, GrantRecord, Revenue, SupportView } from "./types";

export const searchCustomers = (q: string) =>
  call<{ items: CustomerMatch[] }>(supportToken(), "GET", `/v1/admin/customers?q=${encodeURIComponent(q)}`);

export const supportView = (customer: string) =>
  call<SupportView>(supportToken(), "GET", `/v1/admin/customers/${encodeURIComponent(customer)}`);

export const createGrant = (grant: {
  customer: string;
  feature: string;
  amount: number | "unlimited" | true;
  expires_at?: string;
  reason: string;
}) => call<GrantRecord>(supportToken(), "POST", "/v1/admin/grants", grant);

export const adjustUsage = (adjustment: { customer: string; feature: string; delta: number; reason: string }) =>
  call<{ id: string; used: number; applied: number }>(
    supportToken(),
    "POST",
    "/v1/admin/usage-adjustments",
    adjustment,
  );

export const failedPayments = () =>
  call<{ items: FailedPayment[] }>(supportToken(), "GET", "/v1/admin/failed-payments");

export const revenue = () => call<Revenue>(supportToken(), "GET", "/v1/analytics/revenue");
