/**
 * `csp()`: a Content-Security-Policy for HTML responses whose `script-src`
 * trusts only this site and the request's nonce (`ctx.nonce`), which the
 * island script carries, so no `'unsafe-inline'` is needed for scripts.
 *
 * @example
 * ```ts
 * import { App, csp } from "fresh";
 * const app = new App().use(csp({ csp: ["img-src 'self' data:"] }));
 * ```
 * @module
 */
import type { Middleware } from "./middleware.ts";

/** Options of {@linkcode csp}. */
export interface CspOptions {
  /** Extra directives; one with the name of a default directive replaces it. */
  csp?: string[];
  /** Send `Content-Security-Policy-Report-Only` instead. */
  reportOnly?: boolean;
  /** A `report-uri` to add. */
  reportTo?: string;
}

/**
 * The CSP middleware; only `text/html` responses get the header.
 *
 * @example
 * ```ts
 * app.use(csp());
 * // content-security-policy: default-src 'self'; script-src 'self' 'nonce-…'; ...
 * ```
 */
export function csp<State>(options: CspOptions = {}): Middleware<State> {
  return async (ctx) => {
    const res = await ctx.next();
    if (!res.headers.get("content-type")?.startsWith("text/html")) return res;
    const header = options.reportOnly
      ? "content-security-policy-report-only"
      : "content-security-policy";
    const value = policy(ctx.nonce, options);
    try {
      res.headers.set(header, value);
      return res;
    } catch {
      // Headers of some responses (e.g. proxied ones) are immutable.
      const copy = new Response(res.body, res);
      copy.headers.set(header, value);
      return copy;
    }
  };
}

/**
 * The policy text for a nonce.
 *
 * @example
 * ```ts
 * policy("abc", {}); // "default-src 'self'; script-src 'self' 'nonce-abc'; ..."
 * ```
 */
export function policy(nonce: string, options: CspOptions): string {
  const directives = new Map<string, string>();
  const add = (directive: string) =>
    directives.set(directive.trim().split(/\s+/)[0], directive.trim());
  [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}'`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].forEach(add);
  (options.csp ?? []).forEach(add);
  if (options.reportTo) add(`report-uri ${options.reportTo}`);
  return [...directives.values()].join("; ");
}
