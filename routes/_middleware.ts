import { HttpError, prefersHtml } from "fresh";
import { errorResponse, problemOf } from "@/lib/web/api.ts";
import { requireToken } from "@/lib/web/auth.ts";
import { requireJsonBody } from "@/lib/web/guard.ts";
import { define } from "@/utils.ts";
import {
  defaultErrorResponse,
  withErrorHeaders,
} from "@/lib/fresh/error_response.ts";

const CSP = (nonce: string) =>
  [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}'`,
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join("; ");

/**
 * Turns every error into the error contract (an unexpected one into a 500
 * whose id is logged, never its stack). For a browser, a client mistake goes
 * on to Fresh's error page as an HttpError with the same status and message.
 */
const errors = define.middleware(async (ctx) => {
  try {
    return await ctx.next();
  } catch (err) {
    const html = prefersHtml(ctx.req);
    const problem = problemOf(err);
    if (!html || !problem) return errorResponse(err, { html });
    throw err instanceof HttpError ? err : new HttpError(
      problem.status,
      problem.message,
      { headers: problem.headers },
    );
  }
});

/** Security headers on every response; a CSP without unsafe-inline on pages. */
const headers = define.middleware(async (ctx) => {
  let res: Response;
  try {
    res = mutable(await ctx.next());
  } catch (err) {
    // Fresh would render this error page outside the middleware chain, where
    // these headers never reach it: render it here instead.
    res = mutable(withErrorHeaders(defaultErrorResponse(ctx.req, err), err));
  }
  const h = res.headers;
  h.set("x-content-type-options", "nosniff");
  h.set("referrer-policy", "same-origin");
  if (!h.has("cache-control")) h.set("cache-control", "no-store");
  if (h.get("content-type")?.startsWith("text/html")) {
    h.set("content-security-policy", CSP(ctx.nonce));
    h.set("x-frame-options", "DENY");
  }
  return res;
});

/** The response itself, or a copy when its headers are immutable. */
function mutable(res: Response): Response {
  try {
    res.headers.set("x-content-type-options", "nosniff");
    return res;
  } catch {
    return new Response(res.body, res);
  }
}

export default [headers, errors, requireToken, requireJsonBody];
