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
  /** With `unreachable`: what the network said ("Connection refused"). */
  cause?: string;
}

/** The outcome of a call. */
export type ApiResult<T> = { ok: true; data: T } | {
  ok: false;
  error: ApiFailure;
};

/** What a call sends besides its method and URL. */
export interface CallOptions {
  body?: unknown;
  /** Extra headers (a bearer token, say); they win over the defaults. */
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** How messages name the call; default `METHOD url`. */
  what?: string;
}

/**
 * Sends a request and reads its JSON answer. Never throws, except with the
 * signal's reason once `signal` aborts (the caller's timeout or cancel),
 * also while the answer is being read.
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
  const sent = await send(method, url, opts);
  if (!sent.ok) return sent;
  return await answerOf<T>(sent.data, opts.what ?? `${method} ${url}`, opts);
}

/**
 * Sends a request (JSON body, `Accept: application/json` unless the
 * headers say otherwise) and gives back the response as it is, or why the
 * server could not be reached.
 *
 * @example
 * ```ts
 * const r = await send("GET", "/jobs/events", { headers: { accept: "text/event-stream" } });
 * ```
 */
export async function send(
  method: string,
  url: string,
  opts: CallOptions = {},
): Promise<ApiResult<Response>> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  try {
    const res = await fetch(url, {
      method,
      headers: { ...headers, ...opts.headers },
      signal: opts.signal,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
    return { ok: true, data: res };
  } catch (e) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    const cause = e instanceof Error ? e.message : String(e);
    return {
      ok: false,
      error: {
        status: 0,
        code: "unreachable",
        message: `the server cannot be reached (${cause})`,
        cause,
      },
    };
  }
}

/**
 * A response's JSON as data, or the API's error (or why it is not JSON).
 * An answer cut off while it is read is a failure, never data.
 *
 * @example
 * ```ts
 * const r = await answerOf<JobView>(await fetch("/jobs/a"), "GET /jobs/a");
 * ```
 */
export async function answerOf<T>(
  res: Response,
  what: string,
  opts: { signal?: AbortSignal } = {},
): Promise<ApiResult<T>> {
  let text: string;
  try {
    text = await res.text();
  } catch (e) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    const cause = e instanceof Error ? e.message : String(e);
    return failure(
      res.status,
      "unreachable",
      `${what}: the connection broke while the answer was read (${cause})`,
    );
  }
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
  // Plain text says what went wrong; an HTML page (a proxy's) is noise.
  const snippet = type.startsWith("text/plain")
    ? text.trim().slice(0, 200)
    : "";
  const name = res.statusText ? ` ${res.statusText}` : "";
  return failure(
    res.status,
    `http_${res.status}`,
    `${what}: HTTP ${res.status}${snippet ? `: ${snippet}` : name}`,
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
 * A query string from the given values, leaving out empty ones and defaults;
 * an array is the parameter repeated (`tag=a&tag=b`).
 *
 * @example
 * ```ts
 * queryString({ status: "paused", q: "", offset: 0 }, { offset: 0 }); // "?status=paused"
 * queryString({ tag: ["a", "b"] }); // "?tag=a&tag=b"
 * ```
 */
export function queryString(
  values: Record<string, string | number | string[] | undefined | null>,
  defaults: Record<string, string | number | string[]> = {},
): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined || value === null || value === "") continue;
    if (Array.isArray(value)) {
      for (const v of value) params.append(key, v);
      continue;
    }
    if (defaults[key] === value) continue;
    params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}
