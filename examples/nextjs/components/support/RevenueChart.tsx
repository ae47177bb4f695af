import type { Revenue } from "@/lib/tollgate/types";

import { formatDate, formatMoney } from "../billing/format";

const WIDTH = 640;
const HEIGHT = 200;
const PAD = { top: 12, right: 12, bottom: 28, left: 64 };

/** MRR at the end of each interval, one bar chart per currency, with the figures as a table. */
export function RevenueChart({ revenue }: { revenue: Revenue }) {
  if (revenue.currencies.length === 0) return <p>No revenue data yet.</p>;
  return (
    <>
      {revenue.currencies.map(({ currency, intervals }) => {
        const max = Math.max(1, ...intervals.map((i) => i.mrr_end));
        const plotWidth = WIDTH - PAD.left - PAD.right;
        const plotHeight = HEIGHT - PAD.top - PAD.bottom;
        const slot = plotWidth / Math.max(1, intervals.length);
        const id = `mrr-${currency}`;
        const last = intervals.at(-1);
        return (
          <figure key={currency} className="chart">
            <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} width="100%" role="img" aria-labelledby={`${id}-title`}>
              <title id={`${id}-title`}>
                {`MRR in ${currency.toUpperCase()} per ${revenue.interval}${last ? `, ${formatMoney(last.mrr_end, currency)} at the end` : ""}`}
              </title>
              <text x={PAD.left - 8} y={PAD.top + 8} textAnchor="end">
                {formatMoney(max, currency)}
              </text>
              <text x={PAD.left - 8} y={HEIGHT - PAD.bottom} textAnchor="end">
                {formatMoney(0, currency)}
              </text>
              <line
                x1={PAD.left}
                x2={WIDTH - PAD.right}
                y1={HEIGHT - PAD.bottom}
                y2={HEIGHT - PAD.bottom}
                stroke="#9ca3af"
              />
              {intervals.map((interval, index) => {
                const height = (interval.mrr_end / max) * plotHeight;
                const x = PAD.left + index * slot + slot * 0.15;
                return (
                  <g key={interval.start}>
                    <rect className="bar" x={x} width={slot * 0.7} y={HEIGHT - PAD.bottom - height} height={height}>
                      <title>{`${formatDate(interval.start)}: ${formatMoney(interval.mrr_end, currency)}`}</title>
                    </rect>
                    {index % Math.ceil(intervals.length / 6) === 0 ? (
                      <text x={x} y={HEIGHT - 10}>
                        {formatDate(interval.start)}
                      </text>
                    ) : null}
                  </g>
                );
              })}
            </svg>
            <figcaption>
              <table className="data">
                <caption className="visually-hidden">Revenue in {currency.toUpperCase()}</caption>
                <thead>
                  <tr>
                    <th scope="col">From</th>
                    <th scope="col">MRR</th>
                    <th scope="col">Net new MRR</th>
                    <th scope="col">Subscribers</th>
                    <th scope="col">Net revenue</th>
                  </tr>
                </thead>
                <tbody>
                  {intervals.map((interval) => (
                    <tr key={interval.start}>
                      <td>{formatDate(interval.start)}</td>
                      <td>{formatMoney(interval.mrr_end, currency)}</td>
                      <td>{formatMoney(interval.net_new_mrr, currency)}</td>
                      <td>{interval.subscribers_end}</td>
                      <td>{formatMoney(interval.net_revenue, currency)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </figcaption>
          </figure>
        );
      })}
    </>
  );
}
