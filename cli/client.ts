/**
 * A small client for jobpro's REST API: JSON in and out, the bearer token
 * when one is set, and the API's error contract
 * `{ "error": { "code", "message", "field"? } }` turned into a
 * {@link CliError} with the right exit code.
 *
 * @example
 * ```ts
 * const client = createClient({ url: "http://127.0.0.1:8000", token: Deno.env.get("JOBPRO_TOKEN") });
 * const job = await client.request<JobView>("POST", jobPath("ping", "start"));
 * ```
 * @module
 */
import { CliError, EXIT, exitCodeForStatus } from "./errors.ts";

/** The default server address. */
export const DEFAULT_URL = "http://127.0.0.1:8000";

/** How long one request may take before the CLI gives up. */
export const REQUEST_TIMEOUT_MS = 30_000;

/** Where and how to reach the API. */
export interface ClientOptions {
  /** Base URL of the server, without `/jobs`. */
  url: string;
  /** Sent as `Authorization: Bearer <token>` when set. */
  token?: string;
  /** Per-request timeout in ms. */
  timeoutMs?: number;
}

/** A connection to one jobpro server. */
export interface Client {
  /** The base URL, without a trailing slash. */
  readonly url: string;
  /** Sends a request and returns the parsed JSON answer (null for 204). */
  request<T>(method: string, path: string, body?: unknown): Promise<T>;
  /** Opens the event stream; the caller reads and cancels the body. */
  openEvents(
    lastEventId: string | null,
    signal: AbortSignal,
  ): Promise<Response>;
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
 * A query string from the defined values, or "".
 *
 * @example
 * ```ts
 * query({ status: "failed", limit: 5, q: undefined }); // "?status=failed&limit=5"
 * ```
 */
export function query(
  params: Record<string, string | number | undefined>,
): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined) p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : "";
}

/**
 * Creates a client; nothing is sent until the first request.
 *
 * @example
 * ```ts
 * const client = createClient({ url: "http://127.0.0.1:8000" });
 * const list = await client.request<{ jobs: JobView[] }>("GET", "/jobs?limit=5");
 * ```
 */
export function createClient(opts: ClientOptions): Client {
  const url = baseUrl(opts.url);
  const timeoutMs = opts.timeoutMs ?? REQUEST_TIMEOUT_MS;
  const auth: Record<string, string> = opts.token
    ? { authorization: `Bearer ${opts.token}` }
    : {};
  return {
    url,
    async request<T>(method: string, path: string, body?: unknown) {
      const headers: Record<string, string> = {
        accept: "application/json",
        ...auth,
      };
      if (body !== undefined) headers["content-type"] = "application/json";
      const res = await send(url + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      return await readAnswer<T>(res, `${method} ${path}`);
    },
    async openEvents(lastEventId, signal) {
      const headers: Record<string, string> = {
        accept: "text/event-stream",
        ...auth,
      };
      if (lastEventId !== null) headers["last-event-id"] = lastEventId;
      const res = await send(`${url}/jobs/events`, { headers, signal });
      if (!res.ok) await readAnswer(res, "GET /jobs/events");
      return res;
    },
  };
}

/**
 * Checks and normalizes the base URL (no trailing slash); a bad one is a
 * usage error.
 *
 * @example
 * ```ts
 * baseUrl("http://localhost:8000/"); // "http://localhost:8000"
 * ```
 */
export function baseUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new CliError(
      `JOBPRO_URL/--url: "${raw}" is not a URL`,
      EXIT.usage,
    );
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new CliError(
      `JOBPRO_URL/--url: "${raw}" must be an http(s) URL`,
      EXIT.usage,
    );
  }
  return u.href.replace(/\/+$/, "");
}

async function send(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (e) {
    if ((init.signal as AbortSignal | undefined)?.aborted) {
      const reason = (init.signal as AbortSignal).reason;
      if (reason instanceof DOMException && reason.name === "TimeoutError") {
        throw new CliError(`${url}: no answer within the timeout`, EXIT.server);
      }
      throw reason;
    }
    throw new CliError(
      `cannot reach ${url}: ${(e as Error).message}`,
      EXIT.server,
    );
  }
}

/** Parses a 2xx JSON answer, or throws the API's error as a CliError. */
async function readAnswer<T>(res: Response, what: string): Promise<T> {
  const text = await res.text();
  const type = res.headers.get("content-type") ?? "";
  const parsed = type.includes("json") ? tryParse(text) : undefined;
  if (!res.ok) throw apiError(res.status, parsed, text, what);
  if (res.status === 204 || text === "") return null as T;
  if (parsed === undefined) {
    throw new CliError(
      `${what}: expected JSON from jobpro, got ${type || "no content type"}`,
      EXIT.server,
    );
  }
  return parsed as T;
}

function tryParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The API's `{ error: { code, message, field } }`, or the HTTP status when the body is something else. */
function apiError(
  status: number,
  parsed: unknown,
  text: string,
  what: string,
): CliError {
  const err = (parsed as { error?: Record<string, unknown> } | undefined)
    ?.error;
  if (err && typeof err.message === "string") {
    return new CliError(err.message, exitCodeForStatus(status), {
      status,
      code: typeof err.code === "string" ? err.code : `http_${status}`,
      field: typeof err.field === "string" ? err.field : undefined,
    });
  }
  const snippet = text.trim().slice(0, 200);
  return new CliError(
    `${what}: HTTP ${status}${snippet ? `: ${snippet}` : ""}`,
    exitCodeForStatus(status),
    { status, code: `http_${status}` },
  );
}
