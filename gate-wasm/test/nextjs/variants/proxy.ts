// Next.js 16's proxy (Node runtime).
import { NextResponse } from "next/server";

import { decide } from "./lib/gate";

export function proxy() {
  return NextResponse.json(decide("proxy"));
}

export const config = { matcher: "/proxy" };
