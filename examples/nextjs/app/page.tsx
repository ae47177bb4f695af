import { redirect } from "next/navigation";

import { getCustomerId, getStaffName } from "@/lib/identity";

export default async function Home() {
  if ((await getCustomerId()) !== null) redirect("/app");
  if ((await getStaffName()) !== null) redirect("/support");
  redirect("/login");
}
