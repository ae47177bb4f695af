// One call to the sync worker's /v1 API. Answers are data: a refusal carries the API's stable
// `code` and its message, so pages can show it; only a network failure throws.

import { syncUrl } from "../env";

export type ApiResult<T> =
  | { ok: true; status: number; body: T }
  | { ok: false; status: number; code: string; message: string };

export async function call<T>(
  token: string,
  method: "GET" | "POST" | "PUT" | "DELETE",
  path: string,
  body?: unknown,
): Promise<ApiResult<T>> {
  const response = await fetch(`${syncUrl()}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  const text = await response.text();
  let json: unknown = null;
  try {
    json = text === "" ? null : JSON.parse(text);
  } catch {
    // Not JSON (a proxy's error page): reported below with the status.
  }
  if (response.ok) return { ok: true, status: response.status, body: json as T };
  const error = (json ?? {}) as { code?: unknown; message?: unknown };
  return {
    ok: false,
    status: response.status,
    code: typeof error.code === "string" ? error.code : `http_${response.status}`,
    message: typeof error.message === "string" ? error.message : `the sync worker answered ${response.status}`,
  };
}

/** The body of a successful answer; otherwise an Error naming the call and the refusal. */
export function unwrap<T>(what: string, result: ApiResult<T>): T {
  if (result.ok) return result.body;
  throw new Error(`${what}: ${result.code}: ${result.message}`);
}
