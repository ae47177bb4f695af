import Link from "next/link";

import { formatDate, formatMoney } from "@/components/billing/format";
import { RevenueChart } from "@/components/support/RevenueChart";
import { requireStaff } from "@/lib/staff";
import { failedPayments, revenue, searchCustomers } from "@/lib/tollgate/support-api";

export const metadata = { title: "Support — Acme Projects" };

export default async function SupportPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | undefined>>;
}) {
  const staff = await requireStaff("/support");
  const q = ((await searchParams).q ?? "").trim();
  const [found, failed, figures] = await Promise.all([
    q === "" ? null : searchCustomers(q),
    failedPayments(),
    revenue(),
  ]);
  return (
    <div className="stack">
      <h1>Support</h1>
      <p className="muted">Signed in as {staff}.</p>

      <section className="tg-card" aria-labelledby="search-heading">
        <h2 id="search-heading">Find a customer</h2>
        <form role="search" method="get" action="/support" className="row">
          <div>
            <label htmlFor="q">Customer id, Polar id or e-mail</label>
            <input id="q" name="q" defaultValue={q} minLength={2} required />
          </div>
          <button type="submit" className="tg-button">
            Search
          </button>
        </form>
        {found === null ? null : !found.ok ? (
          <p role="alert">{found.message}</p>
        ) : found.body.items.length === 0 ? (
          <p role="status">No customer matches “{q}”.</p>
        ) : (
          <table className="data">
            <caption className="visually-hidden">Customers matching {q}</caption>
            <thead>
              <tr>
                <th scope="col">Customer</th>
                <th scope="col">E-mail</th>
                <th scope="col">Plan</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {found.body.items.map((c) => (
                <tr key={c.customer}>
                  <td>
                    <Link href={`/support/customers/${encodeURIComponent(c.customer)}`}>{c.customer}</Link>
                  </td>
                  <td>{c.email ?? "—"}</td>
                  <td>{c.plan ?? "—"}</td>
                  <td>{c.status ?? "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section className="tg-card" aria-labelledby="failed-heading">
        <h2 id="failed-heading">Failed payments</h2>
        {!failed.ok ? (
          <p role="alert">{failed.message}</p>
        ) : failed.body.items.length === 0 ? (
          <p>No failed payments.</p>
        ) : (
          <table className="data">
            <thead>
              <tr>
                <th scope="col">Customer</th>
                <th scope="col">Plan</th>
                <th scope="col">Status</th>
                <th scope="col">Since</th>
                <th scope="col">Grace ends</th>
                <th scope="col">Amount due</th>
              </tr>
            </thead>
            <tbody>
              {failed.body.items.map((p) => (
                <tr key={p.subscription}>
                  <td>
                    <Link href={`/support/customers/${encodeURIComponent(p.customer)}`}>{p.email ?? p.customer}</Link>
                  </td>
                  <td>{p.plan ?? "—"}</td>
                  <td>{p.status}</td>
                  <td>{formatDate(p.since)}</td>
                  <td>{formatDate(p.grace_ends_at)}</td>
                  <td>{p.amount_due === null || p.currency === null ? "—" : formatMoney(p.amount_due, p.currency)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section className="tg-card" aria-labelledby="revenue-heading">
        <h2 id="revenue-heading">Revenue</h2>
        {figures.ok ? (
          <RevenueChart revenue={figures.body} />
        ) : figures.status === 404 ? (
          <p>No revenue data yet.</p>
        ) : (
          <p role="alert">{figures.message}</p>
        )}
      </section>
    </div>
  );
}
