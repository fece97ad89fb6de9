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
import { answerOf, type ApiFailure, callApi, send } from "@/lib/client/api.ts";
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
  /** Opens the event stream (`query`: its `?...`, if any); the caller reads and cancels the body. */
  openEvents(
    lastEventId: string | null,
    signal: AbortSignal,
    query?: string,
  ): Promise<Response>;
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
      const target = url + path;
      const r = await callApi<T>(method, target, {
        body,
        headers: auth,
        signal: AbortSignal.timeout(timeoutMs),
        what: `${method} ${path}`,
      }).catch((e) => {
        throw aborted(e, target);
      });
      if (!r.ok) throw cliErrorOf(r.error, target);
      return r.data;
    },
    async openEvents(lastEventId, signal, query = "") {
      const headers: Record<string, string> = {
        accept: "text/event-stream",
        ...auth,
      };
      if (lastEventId !== null) headers["last-event-id"] = lastEventId;
      const target = `${url}/jobs/events${query}`;
      const sent = await send("GET", target, { headers, signal }).catch(
        (e) => {
          throw aborted(e, target);
        },
      );
      if (!sent.ok) throw cliErrorOf(sent.error, target);
      if (sent.data.ok) return sent.data;
      const r = await answerOf(sent.data, "GET /jobs/events", { signal });
      if (!r.ok) throw cliErrorOf(r.error, target);
      throw new CliError(`${target}: HTTP ${sent.data.status}`, EXIT.server);
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

/** The API's failure as a CliError with the exit code its status means. */
function cliErrorOf(e: ApiFailure, target: string): CliError {
  if (e.status === 0) {
    return new CliError(`cannot reach ${target}: ${e.cause}`, EXIT.server);
  }
  if (e.code === "not_json" || e.code === "unreachable") {
    return new CliError(e.message, EXIT.server);
  }
  return new CliError(e.message, exitCodeForStatus(e.status), {
    status: e.status,
    code: e.code,
    field: e.field,
  });
}

/** A timeout is the CLI's own error; any other abort goes on as it is. */
function aborted(reason: unknown, url: string): unknown {
  if (reason instanceof DOMException && reason.name === "TimeoutError") {
    return new CliError(`${url}: no answer within the timeout`, EXIT.server);
  }
  return reason;
}
