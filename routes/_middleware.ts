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
  const type = h.get("content-type") ?? "";
  if (type.startsWith("text/html")) h.set("x-frame-options", "DENY");
  // Pages and errors answer HTML or JSON by the Accept header: a cache
  // must key them by it.
  if (type.startsWith("text/html") || type.startsWith("application/json")) {
    const vary = h.get("vary");
    if (!vary?.toLowerCase().split(/\s*,\s*/).includes("accept")) {
      h.set("vary", vary ? `${vary}, Accept` : "Accept");
    }
  }
  return res;
});

/**
 * A path with a trailing slash (`/jobs/`) is the same as the one without:
 * a permanent redirect there (308, so a POST stays a POST), query kept.
 */
const slashes = define.middleware((ctx) => {
  const { pathname, search } = ctx.url;
  if (pathname.length > 1 && pathname.endsWith("/")) {
    // One leading slash: "//host/" must not become a redirect off the site.
    const to = "/" + pathname.replace(/^\/+|\/+$/g, "");
    return new Response(null, {
      status: 308,
      headers: { location: to + search },
    });
  }
  return ctx.next();
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
export default [
  headers,
  csp<State>(),
  errors,
  requireToken, // first: without a token even a redirect is refused
  slashes,
  requireJsonBody,
];
