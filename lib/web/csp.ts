/**
 * The pages' Content-Security-Policy: everything from this site only, scripts
 * only from this site or carrying the nonce Fresh rendered into the page, no
 * inline styles, no plugins, no `<base>`, no framing.
 *
 * Fresh renders a new nonce into each page's inline island script and leaves
 * it on the rendered `Response` under `Symbol.for("__freshNonce")`; its own
 * `csp({ useNonce: true })` reads it from there, and so does this module.
 * Fresh's `csp()` is not used because its defaults include
 * `upgrade-insecure-requests`, which would break the dashboard served over
 * plain HTTP on a LAN address, and a default directive cannot be dropped.
 *
 * @example
 * ```ts
 * import { csp } from "@/lib/web/csp.ts";
 * export default [csp(), otherMiddleware];
 * ```
 * @module
 */
import type { Middleware } from "fresh";

/** Where Fresh leaves a rendered page's nonce on its `Response`. */
export const NONCE: unique symbol = Symbol.for("__freshNonce");

/** The directives, but for the nonce `script-src` gets on a rendered page. */
export const DIRECTIVES: readonly string[] = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
];

/**
 * The policy text; with a nonce, `script-src` also allows scripts carrying it.
 *
 * @example
 * ```ts
 * policy("abc"); // "default-src 'self'; script-src 'self' 'nonce-abc'; ..."
 * policy(undefined); // "default-src 'self'; script-src 'self'; ..."
 * ```
 */
export function policy(nonce: string | undefined): string {
  return DIRECTIVES.map((d) =>
    nonce && d.startsWith("script-src ") ? `${d} 'nonce-${nonce}'` : d
  ).join("; ");
}

/**
 * The nonce Fresh rendered into a page, if this response is a rendered page.
 *
 * @example
 * ```ts
 * renderNonce(await ctx.render(<Page />)); // "q5Vd0mY8m1o7o0Tqk2n1ZQ=="
 * renderNonce(ctx.json({})); // undefined
 * ```
 */
export function renderNonce(res: Response): string | undefined {
  const nonce = (res as { [NONCE]?: unknown })[NONCE];
  return typeof nonce === "string" && nonce !== "" ? nonce : undefined;
}

/**
 * The middleware: `text/html` responses get the `Content-Security-Policy`
 * header (with their page's nonce); other responses pass unchanged.
 *
 * @example
 * ```ts
 * const app = new App().use(csp());
 * ```
 */
export function csp<State>(): Middleware<State> {
  return async (ctx) => {
    const res = await ctx.next();
    if (!res.headers.get("content-type")?.startsWith("text/html")) return res;
    const value = policy(renderNonce(res));
    try {
      res.headers.set("content-security-policy", value);
      return res;
    } catch {
      // Headers of some responses (a fetched one, say) are immutable.
      const copy = new Response(res.body, res);
      copy.headers.set("content-security-policy", value);
      return copy;
    }
  };
}
