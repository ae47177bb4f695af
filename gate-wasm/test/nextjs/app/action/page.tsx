// A server action, submitted by a form: it answers with a redirect carrying the decision.
import { redirect } from "next/navigation";

import { decide } from "../../lib/gate";

async function check() {
  "use server";
  redirect(`/action/done?answer=${encodeURIComponent(JSON.stringify(decide("server action")))}`);
}

export default function Page() {
  return (
    <form action={check}>
      <button type="submit">Check</button>
    </form>
  );
}
