import type { Order } from "@/lib/tollgate/types";

import { formatDate, formatMoney } from "./format";

const reasons: Record<string, string> = {
  purchase: "Purchase",
  subscription_create: "New subscription",
  subscription_cycle: "Renewal",
  subscription_update: "Plan change",
};

/** The invoice history, newest first. */
export function InvoiceTable({ orders }: { orders: Order[] }) {
  return (
    <table className="tg-invoices">
      <caption>Invoices</caption>
      <thead>
        <tr>
          <th scope="col">Date</th>
          <th scope="col">Description</th>
          <th scope="col">Status</th>
          <th scope="col" className="tg-num">
            Amount
          </th>
        </tr>
      </thead>
      <tbody>
        {orders.length === 0 ? (
          <tr>
            <td colSpan={4} className="tg-empty">
              No invoices yet.
            </td>
          </tr>
        ) : (
          orders.map((order) => (
            <tr key={order.id}>
              <td>{formatDate(order.created_at)}</td>
              <td>
                {order.product?.name ?? "—"} · {reasons[order.billing_reason] ?? order.billing_reason}
              </td>
              <td>
                {order.refunded_amount > 0
                  ? `${order.status}, ${formatMoney(order.refunded_amount, order.currency)} refunded`
                  : order.status}
              </td>
              <td className="tg-num">{formatMoney(order.amount, order.currency)}</td>
            </tr>
          ))
        )}
      </tbody>
    </table>
  );
}
