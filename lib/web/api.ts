/**
 * The JSON API's edges: reading a request body (size, type, schema), reading
 * query parameters, and turning errors into the error contract
 * `{ "error": { "code", "message", "field"? } }` with the right status.
 * Routes use these; the engine never sees HTTP.
 *
 * @example
 * ```ts
 * const body = await readJson(ctx.req, ctx.state.config.maxBodyBytes);
 * return json(await manager.create(body), 201);
 * ```
 * @module
 */
import type { z } from "zod";
import { HttpError } from "fresh";
import { errorPage } from "./error_page.ts";
import { JobproError, type JobView, type Manager } from "../jobpro/mod.ts";
import {
  type JobsQuery,
  type QueryProblem,
  QueryReader,
  readJobsQuery,
  readRunsQuery,
  type RunsQuery,
} from "../client/query.ts";
import { concat } from "./bytes.ts";

/** Default for the largest request body read, in bytes (JOBPRO_MAX_BODY_BYTES). */
export const MAX_BODY_BYTES = 64 * 1024;

/** An error that maps straight to an HTTP status. */
export class ApiError extends Error {
  /** @param status HTTP status; @param code machine-readable code */
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly headers?: HeadersInit,
  ) {
    super(message);
  }
}

const STATUS: Record<JobproError["code"], number> = {
  invalid: 400,
  not_found: 404,
  duplicate: 409,
  conflict: 409,
  unavailable: 503,
};

const HTTP_CODES: Record<number, string> = {
  400: "invalid",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  409: "conflict",
  413: "too_large",
  415: "unsupported_media_type",
  503: "unavailable",
};

/**
 * A JSON response.
 *
 * @example
 * ```ts
 * json({ ok: true }); // 200, application/json
 * ```
 */
export function json(
  data: unknown,
  status = 200,
  headers: HeadersInit = {},
): Response {
  const type = { "content-type": "application/json; charset=utf-8" };
  // A plain object is cheaper than a Headers instance on a hot path.
  const h = headers instanceof Headers || Array.isArray(headers)
    ? Object.fromEntries(new Headers(headers))
    : headers;
  return new Response(JSON.stringify(data), {
    status,
    headers: { ...h, ...type },
  });
}

const texts = new WeakMap<object, string>();

/**
 * JSON text of a value that is never mutated (the engine replaces job views,
 * it does not change them), made once per value: a dashboard polling the same
 * 50 jobs costs 50 lookups, not 50 serializations.
 *
 * @example
 * ```ts
 * const body = `[${jobs.map(frozenJson).join(",")}]`;
 * ```
 */
export function frozenJson(value: object): string {
  let text = texts.get(value);
  if (text === undefined) texts.set(value, text = JSON.stringify(value));
  return text;
}

/**
 * A JSON response for a list of never-mutated items plus plain fields.
 *
 * @example
 * ```ts
 * jsonList("jobs", list.jobs, { total: 3, offset: 0, limit: 100 });
 * ```
 */
export function jsonList(
  key: string,
  items: object[],
  rest: Record<string, unknown>,
): Response {
  const tail = JSON.stringify(rest).slice(1); // "}" or `"total":3,...}`
  const body = `{${JSON.stringify(key)}:[${items.map(frozenJson).join(",")}]${
    tail === "}" ? "" : ","
  }${tail}`;
  return new Response(body, {
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}

/**
 * A job as this caller may see it: in clear for full access, with its secret
 * values as `[redacted]` for the read-only token.
 *
 * @example
 * ```ts
 * return json(shown(ctx.state, await manager.start(id)));
 * ```
 */
export function shown(
  state: { manager: Manager; access: "full" | "read" },
  view: JobView,
): JobView {
  return state.access === "full" ? state.manager.revealed(view) : view;
}

/** A client's mistake, ready to answer. */
export interface Problem {
  status: number;
  code: string;
  message: string;
  field?: string;
  headers?: HeadersInit;
}

/**
 * The problem a thrown value describes when it is a client's mistake (an
 * `ApiError`, an engine `JobproError`, a Fresh `HttpError`); null for a bug.
 *
 * @example
 * ```ts
 * problemOf(new JobproError("not_found", "no job")); // { status: 404, code: "not_found", ... }
 * ```
 */
export function problemOf(err: unknown): Problem | null {
  if (err instanceof ApiError) {
    const { status, code, message, field, headers } = err;
    return { status, code, message, field, headers };
  }
  if (err instanceof JobproError) {
    const { code, message, field } = err;
    return { status: STATUS[err.code], code, message, field };
  }
  if (err instanceof HttpError) {
    const code = HTTP_CODES[err.status] ?? "error";
    return { status: err.status, code, message: err.message };
  }
  return null;
}

/**
 * The error contract for any thrown value. Unexpected errors become a 500 with
 * an id that is also logged, and no stack trace in the response. When `html`
 * is set (a browser), the same status and message come as a small HTML page.
 *
 * @example
 * ```ts
 * errorResponse(new JobproError("not_found", "no job")).status; // 404
 * ```
 */
export function errorResponse(
  err: unknown,
  opts: { html?: boolean } = {},
): Response {
  const p = problemOf(err);
  if (p && opts.html) return errorPage(p.status, p.message, p.headers);
  if (p) {
    const { code, message, field } = p;
    return json({ error: { code, message, field } }, p.status, p.headers);
  }
  const id = crypto.randomUUID().slice(0, 8);
  console.error(`[jobpro] error ${id}:`, err);
  const message = `internal error (id ${id}); see the server log`;
  if (opts.html) return errorPage(500, message);
  return json({ error: { code: "internal", message } }, 500);
}

/**
 * Reads a JSON body: 415 when it is not JSON, 413 when it is larger than
 * `maxBytes` (without reading the rest), 400 when it does not parse.
 *
 * @example
 * ```ts
 * const body = await readJson(req, 64 * 1024); // unknown
 * ```
 */
export async function readJson(
  req: Request,
  maxBytes = MAX_BODY_BYTES,
  { typeOptional = false } = {},
): Promise<unknown> {
  const type = req.headers.get("content-type") ?? "";
  const untyped = typeOptional && !req.headers.has("content-type");
  if (!untyped && !/^application\/([\w.+-]+\+)?json\b/i.test(type.trim())) {
    throw new ApiError(
      415,
      "unsupported_media_type",
      "the body must be JSON (Content-Type: application/json)",
    );
  }
  const text = await readText(req, maxBytes);
  if (text.trim() === "") {
    throw new ApiError(
      400,
      "invalid",
      "the body is empty; send a JSON object",
      "body",
    );
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ApiError(
      400,
      "invalid",
      `the body is not valid JSON: ${(e as Error).message}`,
      "body",
    );
  }
}

/**
 * Reads a JSON body and checks it against a schema; a mismatch is a 400
 * naming the first wrong field.
 *
 * @example
 * ```ts
 * const { schedule } = await readBody(req, RescheduleSchema, 65536);
 * ```
 */
export async function readBody<T extends z.ZodType>(
  req: Request,
  schema: T,
  maxBytes = MAX_BODY_BYTES,
  opts: { typeOptional?: boolean } = {},
): Promise<z.output<T>> {
  return parseWith(schema, await readJson(req, maxBytes, opts));
}

/**
 * Checks a value against a schema; a mismatch is a 400 naming the field.
 *
 * @example
 * ```ts
 * parseWith(RescheduleSchema, { schedule: "in 5m" });
 * ```
 */
export function parseWith<T extends z.ZodType>(
  schema: T,
  value: unknown,
): z.output<T> {
  const r = schema.safeParse(value, { reportInput: true });
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  let path = issue.path.map(String).join(".");
  let message = issue.message;
  if (issue.code === "unrecognized_keys") {
    path = [path, issue.keys[0]].filter(Boolean).join(".");
    message = "is not a known field";
  } else if (
    (issue.code === "invalid_type" || issue.code === "invalid_value") &&
    issue.input === undefined
  ) {
    message = "is required";
  }
  const field = path || "body";
  throw new ApiError(400, "invalid", `${field}: ${message}`, field);
}

/**
 * Reads a request body as UTF-8 text, refusing (413) more than `maxBytes`:
 * a declared Content-Length over the limit is refused before reading, and a
 * body that grows past it is cancelled at that point.
 *
 * @example
 * ```ts
 * const form = new URLSearchParams(await readText(req, 4096));
 * ```
 */
export async function readText(
  req: Request,
  maxBytes = MAX_BODY_BYTES,
): Promise<string> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > maxBytes) {
    await req.body?.cancel().catch(() => {});
    throw tooLarge(maxBytes);
  }
  if (!req.body) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch {
      // The client closed the connection (or half-closed it) mid-body.
      const of = declared ? ` of ${declared}` : "";
      throw new ApiError(
        400,
        "bad_request",
        `the request body was incomplete: the connection ended after ${size}${of} bytes`,
        "body",
      );
    }
    const { done, value } = chunk;
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(concat(chunks));
  } catch {
    throw new ApiError(400, "invalid", "the body is not valid UTF-8", "body");
  }
}

const tooLarge = (max: number) =>
  new ApiError(
    413,
    "too_large",
    `the body is larger than ${max} bytes (JOBPRO_MAX_BODY_BYTES)`,
  );

/**
 * Reads a non-negative integer query parameter; 400 naming it when malformed.
 * Values above `max` are a 400 naming the maximum.
 *
 * @example
 * ```ts
 * intParam(new URL("http://x/?limit=5"), "limit", 10); // 5
 * ```
 */
export function intParam(
  url: URL,
  name: string,
  fallback: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const r = new QueryReader(url.searchParams);
  const n = r.count(name, fallback, max);
  valid(r);
  return n;
}

/**
 * The job list's query string as an engine query: status, type, q, sort,
 * order, offset, limit. Bad values are a 400 naming the parameter.
 *
 * @example
 * ```ts
 * jobQuery(new URL("http://x/jobs?status=paused&limit=20"));
 * ```
 */
export function jobQuery(url: URL): JobsQuery {
  return valid(readJobsQuery(url.searchParams)).query;
}

/**
 * A job's runs query: status, offset, limit (default 10).
 *
 * @example
 * ```ts
 * runQuery(new URL("http://x/jobs/a/runs?status=failed")); // { status: "failed", offset: 0, limit: 10 }
 * ```
 */
export function runQuery(url: URL): RunsQuery {
  return valid(readRunsQuery(url.searchParams)).query;
}

/** What was read, or a 400 naming the first parameter that is wrong. */
function valid<T extends { problems: QueryProblem[] }>(read: T): T {
  const [p] = read.problems;
  if (p) throw new ApiError(400, "invalid", p.message, p.name);
  return read;
}

/**
 * A run number from the path; 400 naming `runId` when it is not one.
 *
 * @example
 * ```ts
 * runIdParam("42"); // 42
 * ```
 */
export function runIdParam(raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n)) {
    throw new ApiError(
      400,
      "invalid",
      `runId: must be a run number, got "${raw}"`,
      "runId",
    );
  }
  return n;
}
