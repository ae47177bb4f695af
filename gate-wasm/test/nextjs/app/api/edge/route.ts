// A route handler on the edge runtime.
import { decide } from "../../../lib/gate";

export const runtime = "edge";

export function GET() {
  return Response.json(decide("edge route handler"));
}
