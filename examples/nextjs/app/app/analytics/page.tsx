import { getCustomerId } from "@/lib/identity";

export const metadata = { title: "Analytics — Acme Projects" };

// Reached only through middleware.ts, which lets customers with `advanced_analytics` in.
export default async function AnalyticsPage() {
  const customer = await getCustomerId();
  return (
    <div className="stack">
      <h1>Advanced analytics</h1>
      <p>Welcome{customer ? `, ${customer}` : ""}: your plan includes advanced analytics.</p>
    </div>
  );
}
