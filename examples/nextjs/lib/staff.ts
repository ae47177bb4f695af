import { redirect } from "next/navigation";

import { getStaffName } from "./identity";

/** The signed-in support staff member; others are sent to sign in. */
export async function requireStaff(next: string): Promise<string> {
  const staff = await getStaffName();
  if (staff === null) redirect(`/login?next=${encodeURIComponent(next)}`);
  return staff;
}
