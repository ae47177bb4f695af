// Gates /app/analytics on `advanced_analytics` at the edge runtime, with @tollgate/gate's edge
// entry (the package's `edge-light` export imports gate.wasm as a compiled module). The
// customer's snapshot comes from the sync worker, cached by customer and revision
// (lib/snapshots.ts). A refusal redirects to /billing, which offers the upgrade.
//
// Next.js 16 prefers proxy.ts, which runs on the Node runtime; the edge runtime needs this
// file name. The same import works in either.

import { NextResponse, type NextRequest } from "next/server";

import { getCustomerId } from "./lib/identity";
import { entitlements } from "./lib/snapshots";

const FEATURE = "advanced_analytics";

export async function middleware(request: NextRequest) {
  const customer = await getCustomerId(request.cookies);
  if (customer === null) {
    const login = new URL("/login", request.url);
    login.searchParams.set("next", request.nextUrl.pathname);
    return NextResponse.redirect(login);
  }
  let current;
  try {
    current = await entitlements(customer);
  } catch (error) {
    // No snapshot was ever fetched for this customer and the sync worker does not answer.
    console.error("middleware: entitlements unavailable", error);
    return new NextResponse("Your plan cannot be checked right now; try again in a moment.", { status: 503 });
  }
  const decision = current?.gate.check(FEATURE);
  if (decision?.allowed) return NextResponse.next();
  const billing = new URL("/billing", request.url);
  if (decision?.upgrade) billing.searchParams.set("upgrade", decision.upgrade.plan);
  billing.searchParams.set("feature", FEATURE);
  return NextResponse.redirect(billing);
}

export const config = { matcher: ["/app/analytics", "/app/analytics/:path*"] };
