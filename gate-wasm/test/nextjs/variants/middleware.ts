// Middleware on the edge runtime.
import { NextResponse } from "next/server";

import { decide } from "./lib/gate";

export function middleware() {
  return NextResponse.json(decide("middleware"));
}

export const config = { matcher: "/middleware" };
