/**
 * The default error responses, used when the app has no `_error`/`_404`
 * page for the request: JSON `{ "error": { "code", "message" } }` for
 * clients that want JSON, a small HTML page for browsers. An unexpected
 * error's message and stack never reach the client.
 *
 * @example
 * ```ts
 * defaultErrorResponse(req, new HttpError(404, "no job 7")); // 404 {"error":{"code":"not_found","message":"no job 7"}}
 * ```
 * @module
 */
import { errorCode, HttpError, statusText } from "./http_error.ts";
import { wantsJson } from "./negotiate.ts";

/**
 * The status an error answers with: an `HttpError`'s own, else 500.
 *
 * @example
 * ```ts
 * statusOf(new HttpError(409)); // 409
 * ```
 */
export function statusOf(err: unknown): number {
  return err instanceof HttpError ? err.status : 500;
}

/**
 * The client-safe message of an error: an `HttpError`'s message, else the status text.
 *
 * @example
 * ```ts
 * publicMessage(new Error("db password wrong")); // "Internal Server Error"
 * ```
 */
export function publicMessage(err: unknown): string {
  return err instanceof HttpError ? err.message : statusText(statusOf(err));
}

/**
 * The default response for an error, negotiated between JSON and HTML.
 *
 * @example
 * ```ts
 * const res = defaultErrorResponse(ctx.req, err);
 * ```
 */
export function defaultErrorResponse(req: Request, err: unknown): Response {
  const status = statusOf(err);
  const message = publicMessage(err);
  if (wantsJson(req)) {
    return Response.json({ error: { code: errorCode(status), message } }, {
      status,
    });
  }
  const title = `${status} ${escapeHtml(statusText(status))}`;
  const body =
    `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${title}</title></head>` +
    `<body><h1>${title}</h1><p>${escapeHtml(message)}</p></body></html>`;
  return new Response(body, {
    status,
    headers: { "content-type": "text/html; charset=utf-8" },
  });
}

/**
 * Adds an `HttpError`'s headers (such as `Allow`) to a response.
 *
 * @example
 * ```ts
 * withErrorHeaders(res, new HttpError(405, undefined, { headers: { allow: "GET" } }));
 * ```
 */
export function withErrorHeaders(res: Response, err: unknown): Response {
  if (!(err instanceof HttpError) || !err.headers) return res;
  const out = new Response(res.body, res);
  new Headers(err.headers).forEach((value, name) =>
    out.headers.set(name, value)
  );
  return out;
}

/**
 * Escapes text for HTML.
 *
 * @example
 * ```ts
 * escapeHtml("<b>"); // "&#60;b&#62;"
 * ```
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
