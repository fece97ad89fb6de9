/**
 * What keeps other sites from driving the API through a visitor's browser,
 * checked on every request before anything else (static files included):
 *
 * - **Host**: a request must be addressed to a loopback name or address
 *   (`localhost`, `*.localhost`, `127.x.x.x`, `[::1]`), the address jobpro
 *   listens on, or a name in `JOBPRO_ALLOWED_HOSTS`; anything else is a 421.
 *   A page on `rebind.attacker.example` that re-points its name at
 *   127.0.0.1 (DNS rebinding) is refused here.
 * - **Origin**: a request that changes something (POST, PUT, PATCH, DELETE)
 *   whose `Origin` names another host, or whose `Sec-Fetch-Site` is not
 *   `same-origin` (or `none`, typed by the user), is a 403 — with or without
 *   a token, so a cross-site form cannot run a job on a jobpro without one.
 * - **Body type** ({@link requireJsonBody}, after the token check): such a
 *   request's body must be JSON; the sign-in form is the one form body, and
 *   the Go service's reschedule alias may leave out the Content-Type (its
 *   scripts did).
 *
 * @example
 * ```ts
 * app.use(requestGuard(config));
 * ```
 * @module
 */
import type { Context } from "fresh";
import { ApiError, errorResponse } from "./api.ts";
import { hostParts, isLoopback, sameAuthority } from "./auth.ts";
import type { Config } from "../config.ts";
import { isPing } from "./ping.ts";

const CHANGES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * Whether a request addressed to `name` is one this server answers.
 *
 * @example
 * ```ts
 * hostAllowed("app.localhost", config); // true
 * hostAllowed("rebind.attacker.example", config); // false
 * ```
 */
export function hostAllowed(
  name: string,
  config: Pick<Config, "host" | "allowedHosts">,
): boolean {
  if (isLoopback(name) || name.endsWith(".localhost")) return true;
  const bound = config.host.toLowerCase().replace(/^\[|\]$/g, "");
  const bare = name.replace(/^\[|\]$/g, "");
  if (bare === bound && bound !== "0.0.0.0" && bound !== "::") return true;
  return config.allowedHosts.some((allowed) =>
    allowed === "*" || allowed === name ||
    (allowed.startsWith("*.") && name.endsWith(allowed.slice(1)))
  );
}

/** Why a state-changing request came from another site, or null when it did not. */
function crossSite(req: Request, host: string): string | null {
  const site = req.headers.get("sec-fetch-site");
  if (site !== null && site !== "same-origin" && site !== "none") {
    return `it came from a ${site} page`;
  }
  const origin = req.headers.get("origin");
  if (origin === null) return null;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return `its Origin ${
      JSON.stringify(origin.slice(0, 100))
    } is not this site`;
  }
  return sameAuthority(url, host)
    ? null
    : `its Origin ${url.origin} is not this site`;
}

const JSON_TYPE = /^application\/([\w.+-]+\+)?json\s*(;|$)/i;
const FORM_TYPE = /^application\/x-www-form-urlencoded\s*(;|$)/i;
const SEED_RESCHEDULE = /^\/jobs\/reschedule\/[^/]+\/?$/;
/** A crontab import may send the crontab as it is (text/plain). */
const CRONTAB_IMPORT = /^\/jobs\/import\/crontab\/?$/;
const TEXT_TYPE = /^text\/plain\s*(;|$)/i;

/** Whether the request carries a body (a length over zero, or chunks). */
function hasBody(req: Request): boolean {
  const length = req.headers.get("content-length");
  return (length !== null && length !== "0") ||
    req.headers.has("transfer-encoding");
}

/** The body type a write must have, or null when it is fine. */
function badBodyType(req: Request, path: string): string | null {
  if (!hasBody(req)) return null;
  const type = req.headers.get("content-type");
  if (path === "/login") {
    return type && FORM_TYPE.test(type)
      ? null
      : "send the sign-in form (application/x-www-form-urlencoded)";
  }
  if (type === null && SEED_RESCHEDULE.test(path)) return null; // read as JSON
  if (type && TEXT_TYPE.test(type) && CRONTAB_IMPORT.test(path)) return null;
  if (isPing(req.method, path)) return null; // any text: a fail ping's output
  return type && JSON_TYPE.test(type)
    ? null
    : "the body must be JSON (Content-Type: application/json)";
}

/**
 * The guard as a middleware: refuses with 421 (Host) or 403 (cross-site),
 * or passes the request on.
 *
 * @example
 * ```ts
 * new App().use(requestGuard(config)).use(staticFiles());
 * ```
 */
export function requestGuard(config: Pick<Config, "host" | "allowedHosts">) {
  return async (ctx: Context<unknown>): Promise<Response> => {
    try {
      check(ctx.req, ctx.url, config);
    } catch (e) {
      // Answered here, before the app's own middleware: with its headers.
      const res = errorResponse(e);
      res.headers.set("x-content-type-options", "nosniff");
      res.headers.set("referrer-policy", "same-origin");
      res.headers.set("cache-control", "no-store");
      return res;
    }
    return await ctx.next();
  };
}

function check(
  req: Request,
  url: URL,
  config: Pick<Config, "host" | "allowedHosts">,
): void {
  const host = req.headers.get("host") ?? url.host;
  const { name } = hostParts(host);
  if (!hostAllowed(name, config)) {
    throw new ApiError(
      421,
      "misdirected",
      `this server does not answer for host "${
        name.slice(0, 100)
      }": reach it by a loopback address, or list the name in JOBPRO_ALLOWED_HOSTS`,
    );
  }
  if (CHANGES.has(req.method)) {
    const why = crossSite(req, host);
    if (why) {
      throw new ApiError(
        403,
        "forbidden",
        `a request from another site cannot change anything here: ${why}`,
      );
    }
  }
}

/**
 * Refuses (415) a write whose body is not JSON (or the sign-in form); runs
 * after the token check, so a caller without one hears 401 first.
 *
 * @example
 * ```ts
 * export default [headers, errors, requireToken, requireJsonBody];
 * ```
 */
export function requireJsonBody(ctx: Context<unknown>): Promise<Response> {
  if (CHANGES.has(ctx.req.method)) {
    const type = badBodyType(ctx.req, ctx.url.pathname);
    if (type) throw new ApiError(415, "unsupported_media_type", type);
  }
  return ctx.next();
}
