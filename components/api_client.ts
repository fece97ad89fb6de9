/**
 * Calls to the JSON API from islands, with the API's error contract
 * (`{ error: { code, message, field } }`) turned into plain data.
 *
 * @example
 * ```ts
 * const r = await api<JobView>("POST", "/jobs", { name: "x", action });
 * if (!r.ok) showError(r.error.field, r.error.message);
 * ```
 * @module
 */

/** An error as the API (or the network) reported it. */
export interface ApiFailure {
  status: number;
  message: string;
  /** The input field the server named, e.g. "schedule" or "action.url". */
  field?: string;
}

/** The outcome of a call. */
export type ApiResult<T> = { ok: true; data: T } | {
  ok: false;
  error: ApiFailure;
};

/**
 * Sends a JSON request and reads a JSON answer; never throws, except for an
 * abort through `signal`.
 *
 * @example
 * ```ts
 * const r = await api<{ jobs: JobView[] }>("GET", "/jobs?limit=5");
 * ```
 */
export async function api<T>(
  method: string,
  path: string,
  body?: unknown,
  signal?: AbortSignal,
): Promise<ApiResult<T>> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      signal,
      headers: body === undefined
        ? { accept: "application/json" }
        : { accept: "application/json", "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    if (signal?.aborted) throw e;
    return {
      ok: false,
      error: { status: 0, message: "the server cannot be reached" },
    };
  }
  if (res.status === 204) return { ok: true, data: undefined as T };
  const json = await res.json().catch(() => null);
  if (res.ok) return { ok: true, data: json as T };
  const error = json?.error;
  return {
    ok: false,
    error: {
      status: res.status,
      message: typeof error?.message === "string"
        ? error.message
        : `${method} ${path} failed with status ${res.status}`,
      field: typeof error?.field === "string" ? error.field : undefined,
    },
  };
}

/**
 * A query string from the given values, leaving out empty ones and defaults.
 *
 * @example
 * ```ts
 * queryString({ status: "paused", q: "", offset: 0 }, { offset: 0 }); // "?status=paused"
 * ```
 */
export function queryString(
  values: Record<string, string | number | undefined | null>,
  defaults: Record<string, string | number> = {},
): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined || value === null || value === "") continue;
    if (defaults[key] === value) continue;
    params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** The path of a job, or of something under it. */
export function jobPath(id: string, rest = ""): string {
  return `/jobs/${encodeURIComponent(id)}${rest}`;
}
