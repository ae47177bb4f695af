import { headers } from "next/headers";

/** This app's origin as the browser sees it, for the URLs Polar sends customers back to. */
export async function appOrigin(): Promise<string> {
  const configured = process.env.TOLLGATE_APP_URL;
  if (configured) return configured.replace(/\/+$/, "");
  const h = await headers();
  const host = h.get("x-forwarded-host") ?? h.get("host") ?? "localhost:3000";
  const proto = h.get("x-forwarded-proto") ?? "http";
  return `${proto}://${host}`;
}
