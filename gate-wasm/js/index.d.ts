// Type declarations of @tollgate/gate (Node entry; the edge entry adds `initGate`).

/** An instant: a `Date` or milliseconds since the Unix epoch. Omitted: the current time. */
export type Instant = Date | number;

/** An ISO-8601 instant in UTC, as `Date.prototype.toISOString` writes it. */
export type IsoInstant = string;

/** Why a check was allowed or refused. */
export type Reason =
  | "ok"
  | "unknown_feature"
  | "not_in_plan"
  | "limit_reached"
  | "subscription_ended"
  | "payment_overdue"
  | "stale_snapshot";

/** A warning attached to a Decision. */
export type Warning = "soft_limit" | "payment_past_due" | "overage";

/** The cheapest higher plan under which a refused request would be allowed. */
export interface Upgrade {
  /** The plan's key in the catalog. */
  plan: string;
  /** The plan's display name. */
  name: string;
}

/** The answer to one check. */
export interface Decision {
  allowed: boolean;
  reason: Reason;
  /** The effective plan's key at `now`. */
  plan: string;
  /** `null` when unlimited, and for booleans and unknown features. */
  limit: number | null;
  /** The level before this request; `null` for booleans and unknown features. */
  used: number | null;
  /** What is left after this request's outcome, never below 0; `null` when unlimited. */
  remaining: number | null;
  /** The next reset of a metered feature; `null` for gauges, booleans and `reset = "never"`. */
  resetsAt: IsoInstant | null;
  /** Units of this request beyond the limit (overage policy `bill` or `warn`). */
  overage: number;
  warning: Warning | null;
  /** Set on refusals only. */
  upgrade: Upgrade | null;
  /** The snapshot's `issued_at`. */
  asOf: IsoInstant;
  /** Whether the snapshot is past its `stale_after`. */
  stale: boolean;
}

/** One request of `checkMany`. */
export interface CheckRequest {
  feature: string;
  /** Default 1. */
  amount?: number;
}

/** A limit: a whole number, `"unlimited"`, or `true` for a boolean that is on. */
export type Allowance = number | "unlimited" | true;

/** A grant's amount: units added to a limit, `"unlimited"`, or `true` to turn a boolean on. */
export type GrantAmount = number | "unlimited" | true;

/** Extra allowance for one customer, on top of the plan, until it expires. */
export interface Grant {
  feature: string;
  amount: GrantAmount;
  /** `null` or omitted: no expiry. */
  expires_at?: IsoInstant | number | null;
}

/** Polar's subscription statuses; values Polar adds later read as `"unknown"` in snapshots. */
export type SubscriptionStatus =
  | "incomplete"
  | "incomplete_expired"
  | "trialing"
  | "active"
  | "past_due"
  | "canceled"
  | "unpaid"
  | "paused"
  | "unknown";

export type RecurringInterval = "day" | "week" | "month" | "year" | "unknown";

/** The product nested in a Polar subscription. */
export interface PolarProduct {
  id: string;
  name?: string | null;
  metadata?: Record<string, string | number | boolean | null>;
  [field: string]: unknown;
}

/**
 * A Polar `Subscription` object exactly as Polar sends it (webhook `data`,
 * `GET /v1/subscriptions`). The fields the engine reads are typed; others are ignored.
 */
export interface PolarSubscription {
  id: string;
  status: SubscriptionStatus | (string & {});
  current_period_start: IsoInstant;
  current_period_end?: IsoInstant | null;
  recurring_interval?: RecurringInterval | (string & {});
  recurring_interval_count?: number | null;
  cancel_at_period_end?: boolean;
  canceled_at?: IsoInstant | null;
  ended_at?: IsoInstant | null;
  created_at?: IsoInstant | null;
  modified_at?: IsoInstant | null;
  product_id: string;
  product?: PolarProduct | null;
  [field: string]: unknown;
}

/** What the sync worker knows about one customer: the input of `buildSnapshot`. */
export interface Account {
  /** The app's id for the customer (Polar's `external_id`). */
  customer: string;
  subscriptions?: PolarSubscription[];
  /** Metered counts of the current period, by feature. */
  usage?: Record<string, number>;
  /** Gauge levels, by feature. */
  gauges?: Record<string, number>;
  grants?: Grant[];
  /** Grows with every change. */
  revision?: number;
}

export type FeatureType = "gauge" | "metered" | "boolean";
export type Reset = "billing_period" | "month" | "day" | "never";
export type OnStale = "last_known_good" | "open" | "closed";
export type Overage = "block" | "bill" | "warn";

/** A plan named in a snapshot. */
export interface SnapshotPlanRef {
  key: string;
  name: string;
}

export interface SnapshotPlan {
  key: string;
  name: string;
  rank: number;
}

/** What one plan allows of one feature. */
export interface PlanLimit {
  /** For a seat limit: the seats of the subscription that gives this plan, 0 for other plans. */
  limit: Allowance;
  /** `true` when the limit is the subscription's seats (`"seats"` in the catalog). */
  seats?: boolean;
  /** Omitted: `"block"`. */
  overage?: Overage;
  /** The soft-limit ratio in (0, 1]. */
  warn_at?: number;
}

/** The facts of one Polar subscription that the status rules read. */
export interface SnapshotSubscription {
  id: string;
  /** The plan its product selects; `null` for a product no plan claims. */
  plan: string | null;
  product_id: string;
  status: SubscriptionStatus;
  current_period_start: IsoInstant;
  current_period_end: IsoInstant | null;
  recurring_interval: RecurringInterval;
  recurring_interval_count: number;
  cancel_at_period_end: boolean;
  /** `past_due`: the end of the grace period. */
  grace_ends_at?: IsoInstant;
  /** `canceled`, `unpaid`: when it stopped entitling. */
  ended_at?: IsoInstant;
}

export interface SnapshotGrant {
  amount: GrantAmount;
  expires_at: IsoInstant | null;
}

/** One feature of a snapshot: its definition, what each plan allows, grants and usage. */
export interface SnapshotFeature {
  type: FeatureType;
  unit?: string;
  reset?: Reset;
  on_stale: OnStale;
  /** The limit at issue, grants included; `null` when not in the plan. */
  limit: Allowance | null;
  /** Gauge level, or the metered count of the period current at issue. */
  used?: number;
  period_start?: IsoInstant;
  resets_at?: IsoInstant;
  /** What each plan that includes this feature allows, by plan key. */
  plans: Record<string, PlanLimit>;
  grants?: SnapshotGrant[];
}

/** Something the operator should look at; never a reason to refuse. */
export interface SnapshotWarning {
  code: string;
  message: string;
}

/** One customer's entitlements (what KV holds under `ent:v1:<customer>`). Plain JSON. */
export interface Snapshot {
  schema: 1;
  customer: string;
  revision: number;
  issued_at: IsoInstant;
  stale_after: IsoInstant;
  /** The plan at issue. */
  plan: SnapshotPlanRef;
  default_plan: string;
  /** Every plan of the catalog, lowest rank first. */
  plans: SnapshotPlan[];
  subscriptions: SnapshotSubscription[];
  features: Record<string, SnapshotFeature>;
  warnings: SnapshotWarning[];
}

/** Stable error codes; catalog and snapshot codes come from the engine. */
export type GateErrorCode =
  | "invalid_toml"
  | "missing_default_plan"
  | "unknown_default_plan"
  | "unknown_feature"
  | "duplicate_rank"
  | "invalid_limit"
  | "invalid_size"
  | "invalid_policy"
  | "invalid_feature"
  | "invalid_account"
  | "invalid_snapshot"
  | "unsupported_schema"
  | "invalid_amount"
  | "invalid_pending"
  | "invalid_now"
  | "invalid_request"
  | "invalid_argument"
  | "invalid_module"
  | "not_initialized"
  | "freed"
  | (string & {});

/** Every error the package throws: `code` is stable, `message` names the problem. */
export declare class GateError extends Error {
  readonly name: "GateError";
  readonly code: GateErrorCode;
  constructor(code: string, message: string);
}

/** A parsed, validated catalog of features and plans. */
export declare class Catalog {
  private constructor();
  /** Parses and validates the catalog's TOML text; throws a `GateError` naming the place. */
  static parse(toml: string): Catalog;
  /** Releases the catalog's memory now rather than at garbage collection; later use throws `freed`. */
  free(): void;
}

/** Builds a customer's snapshot at `now`: a plain, JSON-serialisable object. */
export declare function buildSnapshot(catalog: Catalog, account: Account, now?: Instant): Snapshot;

/** A customer's snapshot, compiled once, answering checks. */
export declare class Gate {
  private constructor();
  /** Compiles a snapshot, given as the object `buildSnapshot` returns or as its JSON text. */
  static fromSnapshot(snapshot: Snapshot | string): Gate;
  /**
   * May the customer use `amount` (default 1) of `feature` at `now`, on top of `pending`
   * (default 0) units used since the snapshot was issued and not yet in it?
   */
  check(feature: string, amount?: number, now?: Instant, pending?: number): Decision;
  /** Checks each request independently against the same snapshot and `now`. */
  checkMany(requests: readonly CheckRequest[], now?: Instant): Decision[];
  /** Releases the gate's memory now rather than at garbage collection; later use throws `freed`. */
  free(): void;
}
