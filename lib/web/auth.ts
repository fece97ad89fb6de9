/**
 * Who may do what. With `JOBPRO_TOKEN` set, every `/jobs` route and
 * `/metrics` need it (everything but `/healthz` and the sign-in pages): scripts send `Authorization: Bearer <token>`, browsers
 * sign in once on `/login` and carry an HttpOnly, SameSite=Strict session
 * cookie; a write made with the cookie must come from this site: its `Origin`
 * names this site or, without an `Origin`, its `Sec-Fetch-Site` is
 * `same-origin` ({@link fromThisSite}).
 * `JOBPRO_READ_TOKEN` gives read-only access (GET and event streams). Tokens
 * are compared in constant time and never logged; the cookie holds an HMAC
 * of the token, never the token itself.
 *
 * @example
 * ```ts
 * import { requireToken } from "@/lib/web/auth.ts";
 * export default [requireToken];
 * ```
 * @module
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { Context } from "fresh";
import { prefersHtml } from "./negotiate.ts";
import { ApiError } from "./api.ts";
import type { Config } from "../config.ts";
import { isPing } from "./ping.ts";

/** What a request may do. */
export type Access = "full" | "read" | "none";

/** The session cookie's name. */
export const SESSION_COOKIE = "jobpro_session";

/** Paths open without a token: health checks and the way to sign in. */
const OPEN_PATHS = new Set(["/", "/healthz", "/login", "/logout"]);

/**
 * Whether a path needs a token when one is configured: everything the app
 * routes (every `/jobs` page, API route and event stream, `/metrics`, and any
 * route added later) except `/`, `/healthz`, `/login` and `/logout`. Static
 * files are served before this check and stay open.
 *
 * @example
 * ```ts
 * isProtected("/jobs/a/run"); // true
 * isProtected("/healthz"); // false
 * ```
 */
export function isProtected(pathname: string): boolean {
  return !OPEN_PATHS.has(pathname);
}

const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Compares two secrets in constant time (both are hashed first, so their
 * lengths leak nothing either).
 *
 * @example
 * ```ts
 * sameSecret("a".repeat(16), "a".repeat(16)); // true
 * ```
 */
export function sameSecret(a: string, b: string): boolean {
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * The cookie value for a token and access level: an HMAC keyed by the token,
 * so it survives restarts, dies when the token changes, and reveals nothing.
 *
 * @example
 * ```ts
 * sessionValue("s3cret-s3cret-s3cret", "full"); // "qk2…" (base64url)
 * ```
 */
export function sessionValue(token: string, access: "full" | "read"): string {
  return createHmac("sha256", token).update(`jobpro-session:v1:${access}`)
    .digest("base64url");
}

/**
 * The access a token grants under this configuration.
 *
 * @example
 * ```ts
 * tokenAccess(config, "the-read-only-token"); // "read"
 * ```
 */
export function tokenAccess(
  config: Pick<Config, "token" | "readToken">,
  presented: string,
): Access {
  if (config.token && sameSecret(presented, config.token)) return "full";
  if (config.readToken && sameSecret(presented, config.readToken)) {
    return "read";
  }
  return "none";
}

/** How a request proved who it is. */
export interface Credentials {
  access: Access;
  via: "bearer" | "cookie" | null;
}

/**
 * Reads the bearer token or the session cookie of a request.
 *
 * @example
 * ```ts
 * credentials(config, req); // { access: "read", via: "bearer" }
 * ```
 */
export function credentials(
  config: Pick<Config, "token" | "readToken">,
  req: Request,
): Credentials {
  const auth = req.headers.get("authorization");
  if (auth !== null) {
    const m = auth.match(/^Bearer\s+(\S+)\s*$/i);
    return { access: m ? tokenAccess(config, m[1]) : "none", via: "bearer" };
  }
  const session = cookie(req, SESSION_COOKIE);
  if (session === null) return { access: "none", via: null };
  for (const [token, access] of sessionTokens(config)) {
    if (sameSecret(session, sessionValue(token, access))) {
      return { access, via: "cookie" };
    }
  }
  return { access: "none", via: "cookie" };
}

function sessionTokens(
  config: Pick<Config, "token" | "readToken">,
): [string, "full" | "read"][] {
  const out: [string, "full" | "read"][] = [];
  if (config.token) out.push([config.token, "full"]);
  if (config.readToken) out.push([config.readToken, "read"]);
  return out;
}

/**
 * One cookie's value from the request, or null.
 *
 * @example
 * ```ts
 * cookie(new Request("http://x/", { headers: { cookie: "a=1; b=2" } }), "b"); // "2"
 * ```
 */
export function cookie(req: Request, name: string): string | null {
  for (const part of (req.headers.get("cookie") ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      return part.slice(eq + 1).trim();
    }
  }
  return null;
}

/**
 * Splits a Host header into its name (lower case, brackets kept for IPv6)
 * and port.
 *
 * @example
 * ```ts
 * hostParts("LocalHost:8000"); // { name: "localhost", port: "8000" }
 * ```
 */
export function hostParts(host: string): { name: string; port: string } {
  const m = host.toLowerCase().match(/^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/);
  return { name: m?.[1] ?? host.toLowerCase(), port: m?.[2] ?? "" };
}

/**
 * Whether an Origin names the site the Host header addresses. Schemes are
 * not compared (behind a TLS proxy the browser says https, the Host header
 * cannot say); a missing port is the origin's default.
 */
export function sameAuthority(origin: URL, host: string): boolean {
  const h = hostParts(host);
  if (origin.hostname.toLowerCase() !== h.name) return false;
  const byDefault = origin.protocol === "https:" ? "443" : "80";
  return (origin.port || byDefault) === (h.port || byDefault);
}

/**
 * Whether the request's `Origin` is this site (a cross-site page cannot forge
 * it). Browsers do not send it on every same-origin write: Chromium leaves it
 * off same-origin `fetch` POSTs; see {@link fromThisSite}.
 *
 * @example
 * ```ts
 * sameOrigin(new Request("http://h/jobs", { method: "POST", headers: { origin: "http://h" } })); // true
 * ```
 */
export function sameOrigin(req: Request): boolean {
  const origin = req.headers.get("origin");
  if (origin === null) return false;
  try {
    return sameAuthority(
      new URL(origin),
      req.headers.get("host") ?? new URL(req.url).host,
    );
  } catch {
    return false;
  }
}

/**
 * Whether a write comes from this site, as a cookie write must: when an
 * `Origin` is sent it decides (it must name this site); without one,
 * `Sec-Fetch-Site` must be `same-origin`. Both are forbidden header names
 * (pages cannot set them) and browsers set `Sec-Fetch-Site` on every request;
 * Chromium leaves `Origin` off same-origin `fetch` POSTs. `cross-site`,
 * `same-site` (a sibling subdomain is another site here), `none` and neither
 * header are refused.
 *
 * @example
 * ```ts
 * fromThisSite(new Request("http://h/jobs/a/run", { method: "POST", headers: { "sec-fetch-site": "same-origin" } })); // true
 * ```
 */
export function fromThisSite(req: Request): boolean {
  if (req.headers.has("origin")) return sameOrigin(req);
  return req.headers.get("sec-fetch-site") === "same-origin";
}

/**
 * The `Set-Cookie` value that signs a browser in (or out, with `null`).
 *
 * @example
 * ```ts
 * sessionCookie(req, "abc"); // "jobpro_session=abc; Path=/; HttpOnly; SameSite=Strict"
 * ```
 */
export function sessionCookie(req: Request, value: string | null): string {
  const secure = new URL(req.url).protocol === "https:" ? "; Secure" : "";
  const life = value === null ? "; Max-Age=0" : "";
  return `${SESSION_COOKIE}=${
    value ?? ""
  }; Path=/; HttpOnly; SameSite=Strict${secure}${life}`;
}

/**
 * A same-origin path: one `/`, then neither `/` nor `\`, and only printable
 * ASCII other than `\` (no control or whitespace characters): browsers drop
 * tabs and read `\` as `/`, which would turn `/\t/host` into `//host`, and a
 * control character cannot go in a Location header. The paths jobpro sends
 * people back to are percent-encoded, so they pass.
 */
const SAME_ORIGIN_PATH = /^\/(?![\/\\])[\x21-\x5b\x5d-\x7e]*$/;

/**
 * A local path to go back to after signing in; anything else becomes `/jobs`.
 *
 * @example
 * ```ts
 * safeNext("/jobs/a?run=2"); // "/jobs/a?run=2"
 * safeNext("//evil.example"); // "/jobs"
 * safeNext("/\t/127.0.0.1:9/x"); // "/jobs"
 * ```
 */
export function safeNext(next: string | null | undefined): string {
  if (!next || next.length > 2048 || !SAME_ORIGIN_PATH.test(next)) {
    return "/jobs";
  }
  return next;
}

const unauthorized = () =>
  new ApiError(
    401,
    "unauthorized",
    "a token is required: send Authorization: Bearer <JOBPRO_TOKEN>",
    undefined,
    { "www-authenticate": 'Bearer realm="jobpro"' },
  );

/**
 * The middleware: lets a request through, redirects a browser to `/login`,
 * or refuses with 401 (no or wrong token) or 403 (a write with the read-only
 * token, or a cookie write not from this site: neither this site's `Origin`
 * nor, without an `Origin`, `Sec-Fetch-Site: same-origin`).
 *
 * @example
 * ```ts
 * export default define.middleware([requireToken]);
 * ```
 */
export async function requireToken(
  ctx: Context<{ config: Config; access: "full" | "read" }>,
): Promise<Response> {
  const config = ctx.state.config;
  ctx.state.access = "full";
  if (!config.token) return await ctx.next();
  const { access, via } = credentials(config, ctx.req);
  if (access !== "full") ctx.state.access = "read";
  if (!isProtected(ctx.url.pathname)) return await ctx.next();
  // A ping may come with the job's ping key instead: its route checks that
  // (ping.ts); the admin token goes through the checks below.
  if (access !== "full" && isPing(ctx.req.method, ctx.url.pathname)) {
    return await ctx.next();
  }
  const write = !READ_METHODS.has(ctx.req.method);
  if (access === "none") {
    if (!write && via !== "bearer" && prefersHtml(ctx.req)) {
      const next = ctx.url.pathname + ctx.url.search;
      return ctx.redirect(`/login?next=${encodeURIComponent(next)}`, 303);
    }
    throw unauthorized();
  }
  if (write && access === "read") {
    throw new ApiError(
      403,
      "forbidden",
      "the read-only token (JOBPRO_READ_TOKEN) cannot change anything",
    );
  }
  if (write && via === "cookie" && !fromThisSite(ctx.req)) {
    throw new ApiError(
      403,
      "forbidden",
      "a write signed in by cookie must come from this site (an Origin header naming this site, or without one, Sec-Fetch-Site: same-origin)",
    );
  }
  return await ctx.next();
}

/**
 * Who asked, as a run cancelled at their request records it: "dashboard"
 * for a browser on this site (signed in by cookie or, when no token is
 * configured, saying so by this site's Origin or `Sec-Fetch-Site:
 * same-origin`, which browsers set and pages cannot), "api" for everything
 * else (the bearer token, scripts, the CLI). Tokens carry no names, so
 * nothing finer.
 *
 * @example
 * ```ts
 * requester(config, req); // "api"
 * ```
 */
export function requester(
  config: Pick<Config, "token" | "readToken">,
  req: Request,
): "dashboard" | "api" {
  const { via } = credentials(config, req);
  if (via === "cookie") return "dashboard";
  const browser = sameOrigin(req) ||
    req.headers.get("sec-fetch-site") === "same-origin";
  return via === null && browser ? "dashboard" : "api";
}

/**
 * Why jobpro must not listen as configured, or null: without a token it only
 * serves loopback addresses, unless JOBPRO_INSECURE=1.
 *
 * @example
 * ```ts
 * exposureRefusal(readConfig({ HOST: "0.0.0.0" })); // "refusing to listen on 0.0.0.0 ..."
 * ```
 */
export function exposureRefusal(
  config: Pick<Config, "host" | "token" | "insecure">,
): string | null {
  if (config.token || config.insecure || isLoopback(config.host)) return null;
  return `refusing to listen on ${config.host} without JOBPRO_TOKEN (anyone who can reach it could run jobs): set JOBPRO_TOKEN, use HOST=127.0.0.1, or set JOBPRO_INSECURE=1 to allow it anyway`;
}

/**
 * Whether a host name or address only reaches this machine.
 *
 * @example
 * ```ts
 * isLoopback("127.0.0.1"); // true
 * isLoopback("0.0.0.0"); // false
 * ```
 */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || /^127(\.\d{1,3}){3}$/.test(h) || h === "::1" ||
    h === "0:0:0:0:0:0:0:1";
}
