// The sync worker's answers this app reads (sync-worker/README.md, "HTTP").

import type { Decision, Snapshot } from "@tollgate/gate";

export interface Order {
  id: string;
  created_at: string;
  status: string;
  billing_reason: string;
  product: { id: string; name: string } | null;
  subscription_id: string | null;
  /** Total charged, tax included, in minor units. */
  amount: number;
  tax_amount: number;
  currency: string;
  refunded_amount: number;
}

export interface Checkout {
  id: string;
  url: string;
  expires_at: string;
}

export interface CustomerMatch {
  customer: string;
  polar_id: string | null;
  email: string | null;
  plan: string | null;
  status: string | null;
}

export interface SupportView {
  customer: {
    customer: string;
    polar_id: string | null;
    email: string | null;
    name: string | null;
    deleted_at: string | null;
  };
  plan: { key: string; name: string } | null;
  subscriptions: Array<{
    id: string;
    status: string;
    product: string | null;
    current_period_end: string | null;
    cancel_at_period_end: boolean | null;
  }>;
  /** The last orders; the same fields as the invoice history, without `product`. */
  orders: Order[];
  snapshot: Snapshot | null;
  decisions: Record<string, Decision>;
  usage: Array<{ feature: string; period_start: string; resets_at: string | null; used: number }>;
  gauges: Array<{ feature: string; level: number; updated_at: string }>;
  /** Grant rows as stored: `kind` is `units`, `unlimited` or `on`. */
  grants: Array<{
    id: number;
    feature: string;
    kind: string;
    units: number | null;
    expires_at: string | null;
    reason: string;
    created_at: string;
    created_by: string;
    ended_at: string | null;
  }>;
  adjustments: Array<{
    id: number;
    feature: string;
    delta: number;
    applied: number;
    reason: string;
    created_at: string;
    created_by: string;
  }>;
}

export interface GrantRecord {
  id: string | number;
  feature: string;
  amount: number | "unlimited" | true;
  expires_at: string | null;
  reason: string;
  created_at: string;
  created_by: string;
  status: "live" | "expired" | "ended";
}

export interface FailedPayment {
  customer: string;
  email: string | null;
  subscription: string;
  status: string;
  plan: string | null;
  since: string | null;
  grace_ends_at: string | null;
  amount_due: number | null;
  currency: string | null;
}

/** GET /v1/analytics/revenue (docs: the analytics API). */
export interface Revenue {
  from: string;
  to: string;
  interval: "month" | "week" | "day";
  currencies: Array<{
    currency: string;
    intervals: Array<{
      start: string;
      end: string;
      mrr_end: number;
      net_new_mrr: number;
      subscribers_end: number;
      net_revenue: number;
      payments: { succeeded: number; failed: number; success_rate: number | null };
    }>;
  }>;
}
