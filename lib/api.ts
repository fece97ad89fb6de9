/**
 * The JSON API's edges: reading a request body and turning errors into the
 * error contract `{ "error": { "code", "message", "field"? } }` with the right
 * status. Routes use these; the engine never sees HTTP.
 *
 * @example
 * ```ts
 * const body = await readJson(ctx.req);
 * return json(await manager.create(body), 201);
 * ```
 * @module
 */
import { JobproError } from "./jobpro/errors.ts";

/** Largest request body read, in bytes. */
export const MAX_BODY_BYTES = 64 * 1024;

/** An error that maps straight to an HTTP status. */
export class ApiError extends Error {
  /** @param status HTTP status; @param code machine-readable code */
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
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
  const h = new Headers(headers);
  h.set("content-type", "application/json; charset=utf-8");
  return new Response(JSON.stringify(data), { status, headers: h });
}

/**
 * The error contract for any thrown value. Unexpected errors become a 500 with
 * an id that is also logged, and no stack trace in the response.
 *
 * @example
 * ```ts
 * errorResponse(new JobproError("not_found", "no job")).status; // 404
 * ```
 */
export function errorResponse(err: unknown): Response {
  if (err instanceof ApiError) {
    return json({
      error: { code: err.code, message: err.message, field: err.field },
    }, err.status);
  }
  if (err instanceof JobproError) {
    return json({
      error: { code: err.code, message: err.message, field: err.field },
    }, STATUS[err.code]);
  }
  const id = crypto.randomUUID().slice(0, 8);
  console.error(`[jobpro] error ${id}:`, err);
  return json({
    error: {
      code: "internal",
      message: `internal error (id ${id}); see the server log`,
    },
  }, 500);
}

/**
 * Reads a JSON body: 415 when it is not JSON, 413 when it is too large
 * (without reading the rest), 400 when it does not parse.
 *
 * @example
 * ```ts
 * const body = await readJson(req); // unknown
 * ```
 */
export async function readJson(
  req: Request,
  maxBytes = MAX_BODY_BYTES,
): Promise<unknown> {
  const type = req.headers.get("content-type") ?? "";
  if (!/^application\/([\w.+-]+\+)?json\b/i.test(type.trim())) {
    throw new ApiError(
      415,
      "unsupported_media_type",
      "the body must be JSON (Content-Type: application/json)",
    );
  }
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > maxBytes) throw tooLarge(maxBytes);
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

const tooLarge = (max: number) =>
  new ApiError(413, "too_large", `the body is larger than ${max} bytes`);

async function readText(req: Request, maxBytes: number): Promise<string> {
  if (!req.body) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(all);
  } catch {
    throw new ApiError(400, "invalid", "the body is not valid UTF-8", "body");
  }
}

/**
 * Reads a non-negative integer query parameter; 400 naming it when malformed.
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
  const raw = url.searchParams.get(name);
  if (raw === null || raw === "") return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n)) {
    throw new ApiError(
      400,
      "invalid",
      `${name}: must be a non-negative integer, got "${raw}"`,
      name,
    );
  }
  return Math.min(n, max);
}

/**
 * Reads a query parameter that must be one of `allowed`.
 *
 * @example
 * ```ts
 * enumParam(url, "type", ["periodic", "onetime"]);
 * ```
 */
export function enumParam<T extends string>(
  url: URL,
  name: string,
  allowed: readonly T[],
): T | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === "") return undefined;
  if (!allowed.includes(raw as T)) {
    throw new ApiError(
      400,
      "invalid",
      `${name}: must be one of ${allowed.join(", ")}, got "${raw}"`,
      name,
    );
  }
  return raw as T;
}

const JOB_STATUS_VALUES = [
  "created",
  "scheduled",
  "running",
  "paused",
  "stopped",
  "complete",
  "failed",
  "cancelled",
] as const;

/**
 * The job list's query string as an engine query: status, type, q, sort,
 * order, offset, limit. Bad values are a 400 naming the parameter.
 *
 * @example
 * ```ts
 * jobQuery(new URL("http://x/jobs?status=paused&limit=20"));
 * ```
 */
export function jobQuery(url: URL) {
  return {
    status: enumParam(url, "status", JOB_STATUS_VALUES),
    type: enumParam(url, "type", ["periodic", "onetime"] as const),
    q: url.searchParams.get("q") ?? undefined,
    sort: enumParam(
      url,
      "sort",
      ["name", "nextRunAt", "lastRunAt", "createdAt"] as const,
    ),
    order: enumParam(url, "order", ["asc", "desc"] as const),
    offset: intParam(url, "offset", 0),
    limit: intParam(url, "limit", 100, 1000),
  };
}
