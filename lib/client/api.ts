/**
 * Calling jobpro's REST API, for the dashboard and the command line alike:
 * JSON in and out, and the API's error contract
 * `{ "error": { "code", "message", "field"? } }` turned into plain data.
 * Browser-safe: `fetch` and URLs only.
 *
 * @example
 * ```ts
 * const r = await callApi<JobView>("POST", "/jobs", { body: { name: "x", action } });
 * if (!r.ok) console.log(r.error.field, r.error.message);
 * ```
 * @module
 */

/** An error as the API (or the network) reported it. */
export interface ApiFailure {
  /** The HTTP status; 0 when the server could not be reached. */
  status: number;
  /** The API's code (`invalid`, `not_found`, ...), else `http_<status>`, `unreachable` or `not_json`. */
  code: string;
  message: string;
  /** The input field the server named, e.g. "schedule" or "action.url". */
  field?: string;
}

/** The outcome of a call. */
export type ApiResult<T> = { ok: true; data: T } | {
  ok: false;
  error: ApiFailure;
};

/** What a call sends besides its method and URL. */
export interface CallOptions {
  body?: unknown;
  /** Extra headers (a bearer token, say). */
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/**
 * Sends a request and reads its JSON answer. Never throws, except with the
 * signal's reason once `signal` aborts (the caller's timeout or cancel).
 *
 * @example
 * ```ts
 * const r = await callApi<{ jobs: JobView[] }>("GET", "/jobs?limit=5");
 * ```
 */
export async function callApi<T>(
  method: string,
  url: string,
  opts: CallOptions = {},
): Promise<ApiResult<T>> {
  const what = `${method} ${url}`;
  const headers: Record<string, string> = {
    accept: "application/json",
    ...opts.headers,
  };
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers,
      signal: opts.signal,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
  } catch (e) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    return failure(0, "unreachable", `cannot reach ${url}: ${messageOf(e)}`);
  }
  return await answerOf<T>(res, what);
}

/** A response's JSON as data, or the API's error (or why it is not JSON). */
export async function answerOf<T>(
  res: Response,
  what: string,
): Promise<ApiResult<T>> {
  const text = await res.text().catch(() => "");
  const type = res.headers.get("content-type") ?? "";
  const parsed = type.includes("json") ? parse(text) : undefined;
  if (res.ok) {
    if (res.status === 204 || text === "") {
      return { ok: true, data: null as T };
    }
    if (parsed === undefined) {
      return failure(
        res.status,
        "not_json",
        `${what}: expected JSON from jobpro, got ${type || "no content type"}`,
      );
    }
    return { ok: true, data: parsed as T };
  }
  const err = (parsed as { error?: Record<string, unknown> } | undefined)
    ?.error;
  if (err && typeof err.message === "string") {
    return failure(
      res.status,
      typeof err.code === "string" ? err.code : `http_${res.status}`,
      err.message,
      typeof err.field === "string" ? err.field : undefined,
    );
  }
  const snippet = text.trim().slice(0, 200);
  return failure(
    res.status,
    `http_${res.status}`,
    `${what}: HTTP ${res.status}${snippet ? `: ${snippet}` : ""}`,
  );
}

function failure(
  status: number,
  code: string,
  message: string,
  field?: string,
): { ok: false; error: ApiFailure } {
  return {
    ok: false,
    error: field === undefined
      ? { status, code, message }
      : { status, code, message, field },
  };
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const messageOf = (e: unknown) => e instanceof Error ? e.message : String(e);

/**
 * A path under `/jobs` with each segment escaped.
 *
 * @example
 * ```ts
 * jobPath("a b", "runs", 7); // "/jobs/a%20b/runs/7"
 * ```
 */
export function jobPath(id: string, ...rest: (string | number)[]): string {
  return ["/jobs", id, ...rest].map((s, i) =>
    i === 0 ? s : encodeURIComponent(String(s))
  ).join("/");
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
