import Link from "next/link";

import { InvoiceTable } from "@/components/billing";
import { featureLabel, formatDate } from "@/components/billing/format";
import { requireStaff } from "@/lib/staff";
import { supportView } from "@/lib/tollgate/support-api";

import { SupportForms } from "../../SupportForms";

export const metadata = { title: "Customer — Support — Acme Projects" };

export default async function CustomerPage({ params }: { params: Promise<{ customer: string }> }) {
  const customer = decodeURIComponent((await params).customer);
  await requireStaff(`/support/customers/${encodeURIComponent(customer)}`);
  const view = await supportView(customer);
  if (!view.ok) {
    return (
      <div className="stack">
        <h1>{customer}</h1>
        <p role="alert">{view.message}</p>
        <Link href="/support">Back to support</Link>
      </div>
    );
  }
  const { customer: who, snapshot, decisions, grants, adjustments, orders, subscriptions } = view.body;
  const features = Object.keys(snapshot?.features ?? decisions);
  const metered = features.filter((f) => snapshot?.features[f]?.type === "metered");
  return (
    <div className="stack">
      <p>
        <Link href="/support">← Support</Link>
      </p>
      <h1>
        {who.name ?? who.customer}
        {who.name ? <span className="muted"> ({who.customer})</span> : null}
      </h1>
      <p>
        {who.email ?? "no e-mail"} · Polar {who.polar_id ?? "—"} · plan {view.body.plan?.name ?? "—"}
        {snapshot ? ` · revision ${snapshot.revision}` : ""}
      </p>

      <section className="tg-card" aria-labelledby="decisions-heading">
        <h2 id="decisions-heading">Entitlements now</h2>
        <table className="data">
          <thead>
            <tr>
              <th scope="col">Feature</th>
              <th scope="col">Allowed</th>
              <th scope="col">Reason</th>
              <th scope="col">Limit</th>
              <th scope="col">Used</th>
              <th scope="col">Remaining</th>
            </tr>
          </thead>
          <tbody>
            {Object.entries(decisions).map(([feature, d]) => (
              <tr key={feature} data-feature={feature}>
                <th scope="row">{featureLabel(feature)}</th>
                <td>{d.allowed ? "yes" : "no"}</td>
                <td>{d.reason}</td>
                <td>{d.limit === null ? (d.used === null ? "—" : "unlimited") : d.limit}</td>
                <td>{d.used ?? "—"}</td>
                <td>{d.remaining ?? "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      <SupportForms customer={who.customer} features={features} metered={metered} />

      <section className="tg-card" aria-labelledby="grants-heading">
        <h2 id="grants-heading">Grants</h2>
        {grants.length === 0 ? (
          <p>No grants.</p>
        ) : (
          <table className="data">
            <thead>
              <tr>
                <th scope="col">Feature</th>
                <th scope="col">Amount</th>
                <th scope="col">Ended</th>
                <th scope="col">Expires</th>
                <th scope="col">Reason</th>
                <th scope="col">By</th>
              </tr>
            </thead>
            <tbody>
              {grants.map((g) => (
                <tr key={String(g.id)}>
                  <td>{featureLabel(g.feature)}</td>
                  <td>{g.kind === "units" ? g.units : g.kind}</td>
                  <td>{g.ended_at ? formatDate(g.ended_at) : "—"}</td>
                  <td>{formatDate(g.expires_at)}</td>
                  <td>{g.reason}</td>
                  <td>{g.created_by}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section className="tg-card" aria-labelledby="adjustments-heading">
        <h2 id="adjustments-heading">Usage adjustments</h2>
        {adjustments.length === 0 ? (
          <p>No adjustments.</p>
        ) : (
          <ul>
            {adjustments.map((a) => (
              <li key={String(a.id)}>
                {formatDate(a.created_at)}: {featureLabel(a.feature)} {a.delta > 0 ? `+${a.delta}` : a.delta} (applied{" "}
                {a.applied}) — {a.reason}
              </li>
            ))}
          </ul>
        )}
      </section>

      <section className="tg-card" aria-labelledby="subscriptions-heading">
        <h2 id="subscriptions-heading">Subscriptions</h2>
        {subscriptions.length === 0 ? (
          <p>No subscriptions.</p>
        ) : (
          <ul>
            {subscriptions.map((s) => (
              <li key={s.id}>
                {s.product ?? s.id}: {s.status}
                {s.cancel_at_period_end ? `, cancels on ${formatDate(s.current_period_end)}` : ""}
              </li>
            ))}
          </ul>
        )}
        <InvoiceTable orders={orders} />
      </section>
    </div>
  );
}
