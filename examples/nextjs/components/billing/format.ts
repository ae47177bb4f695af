// Display helpers shared by the billing components. Dates are shown in UTC, as the engine
// computes them, so the server's and the browser's renderings agree.

import type { Allowance } from "@tollgate/gate";

export function formatDate(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return "—";
  return new Date(iso).toLocaleDateString("en-US", {
    year: "numeric",
    month: "short",
    day: "numeric",
    timeZone: "UTC",
  });
}

export function formatMoney(minor: number, currency: string): string {
  return new Intl.NumberFormat("en-US", { style: "currency", currency: currency.toUpperCase() }).format(minor / 100);
}

/** A quantity in the feature's unit: bytes as KB/MB/GB/TB (powers of 1000, as the catalog). */
export function formatQuantity(value: number, unit?: string): string {
  if (unit !== "bytes") return value.toLocaleString("en-US");
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let scaled = value;
  let index = 0;
  while (scaled >= 1000 && index < units.length - 1) {
    scaled /= 1000;
    index += 1;
  }
  const digits = Number.isInteger(scaled) ? 0 : 1;
  return `${scaled.toLocaleString("en-US", { maximumFractionDigits: digits })} ${units[index]}`;
}

export function formatAllowance(limit: Allowance | null | undefined, unit?: string): string {
  if (limit === null || limit === undefined) return "—";
  if (limit === true) return "Included";
  if (limit === "unlimited") return "Unlimited";
  return formatQuantity(limit, unit);
}

/** `api_calls` → `API calls`, `advanced_analytics` → `Advanced analytics`. */
export function featureLabel(feature: string): string {
  const words = feature.split("_").map((word) => (word === "api" ? "API" : word));
  const text = words.join(" ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}
