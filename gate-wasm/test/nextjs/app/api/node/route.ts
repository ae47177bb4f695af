// A route handler on the Node runtime.
import { decide } from "../../../lib/gate";

export const dynamic = "force-dynamic";

export function GET() {
  return Response.json(decide("route handler"));
}
