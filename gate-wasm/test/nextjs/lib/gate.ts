// The one import, as an app writes it; the same in every runtime.
import { Catalog, Gate, buildSnapshot } from "@tollgate/gate";

// examples/catalog.toml as a string, written by the test (../../nextjs.test.mjs).
import { catalogToml } from "./catalog";

const issuedAt = Date.parse("2026-11-24T09:00:00.000Z");

/** A Free customer with one project asks for another: the answer and where it was computed. */
export function decide(where: string) {
  const catalog = Catalog.parse(catalogToml);
  const snapshot = buildSnapshot(catalog, { customer: "user_free", gauges: { projects: 1 } }, issuedAt);
  const decision = Gate.fromSnapshot(snapshot).check("projects", 1, issuedAt + 60_000);
  const runtime = typeof (globalThis as { EdgeRuntime?: string }).EdgeRuntime === "string" ? "edge" : "nodejs";
  return { where, runtime, decision };
}
