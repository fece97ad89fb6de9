import { errorResponse } from "@/lib/web/api.ts";
import { requireToken } from "@/lib/web/auth.ts";
import { csp } from "@/lib/web/csp.ts";
import { requireJsonBody } from "@/lib/web/guard.ts";
import { prefersHtml } from "@/lib/web/negotiate.ts";
import { define, type State } from "@/utils.ts";

/**
 * Turns every error into the error contract (an unexpected one into a 500
 * whose id is logged, never its stack); a browser gets the same status and
 * message as a small HTML page. Nothing is thrown past it, so every error
 * answer gets the headers below.
 */
const errors = define.middleware(async (ctx) => {
  try {
    return await ctx.next();
  } catch (err) {
    return errorResponse(err, { html: prefersHtml(ctx.req) });
  }
});

/** Security headers on every response; framing refused for pages. */
const headers = define.middleware(async (ctx) => {
  const res = mutable(await ctx.next());
  const h = res.headers;
  h.set("x-content-type-options", "nosniff");
  h.set("referrer-policy", "same-origin");
  if (!h.has("cache-control")) h.set("cache-control", "no-store");
  if (h.get("content-type")?.startsWith("text/html")) {
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

// csp() sits inside headers so it sees the rendered page's own Response (and
// its nonce), not a copy.
export default [headers, csp<State>(), errors, requireToken, requireJsonBody];
