// The billing components: copy this folder into your app (with lib/tollgate/types.ts for
// `Order`) and import billing.css once, e.g. from the root layout.
export { BillingDashboard, type BillingDashboardProps } from "./BillingDashboard";
export { FeatureGrid } from "./FeatureGrid";
export { InvoiceTable } from "./InvoiceTable";
export { PlanBadge } from "./PlanBadge";
export { UpgradeButton } from "./UpgradeButton";
export { UsageBar, type UsageBarProps } from "./UsageBar";
