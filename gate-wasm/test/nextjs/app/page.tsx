// A server component.
import { decide } from "../lib/gate";

export const dynamic = "force-dynamic";

export default function Page() {
  return <pre id="answer">{JSON.stringify(decide("server component"))}</pre>;
}
