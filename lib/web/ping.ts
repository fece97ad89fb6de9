/**
 * The ping routes of heartbeat jobs (`POST /jobs/:id/ping`, `/ping/start`,
 * `/ping/fail`): an outside cron reports with the job's ping key, as
 * `?key=` or the `X-Ping-Key` header, and needs no token. The admin token
 * (or a browser signed in with it) works without the key; the read-only
 * token does not.
 *
 * - a key that is not the job's is a 403, and so is any key for a job that
 *   does not exist: a key never tells whether a job exists;
 * - no key and no admin token: 401 (403 with the read-only token);
 * - the job is not a heartbeat job (asked with its key or the token): 409.
 *
 * The body is read as text whatever its type (a fail ping's body is the
 * run's output, its tail kept), up to 1 MiB (413 beyond).
 *
 * @example
 * ```ts
 * export const handler = define.handlers({ POST: (ctx) => takePing(ctx, "success") });
 * ```
 * @module
 */
import type { Context } from "fresh";
import type { PingKind } from "../jobpro/ping.ts";
import { ApiError, json, readText } from "./api.ts";
import { credentials } from "./auth.ts";
import type { State } from "../../utils.ts";
import { RESERVED_IDS } from "./reserved_ids.ts";

/**
 * The paths the ping routes answer: `/jobs/:id/ping[/start|/fail]` where
 * the id can be a job's. A reserved id's segment is another route's (the
 * seed's `/jobs/pause/:id` answers `/jobs/pause/ping`), never a ping.
 */
export const PING_PATH = new RegExp(
  `^/jobs/(?!(?:${
    RESERVED_IDS.map((id) => id.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
      .join("|")
  })/)[^/]+/ping(?:/(?:start|fail))?$`,
  "i",
);

/** The header a ping key may come in instead of `?key=`. */
export const PING_KEY_HEADER = "x-ping-key";

/** Bodies of pings above this are refused (main.ts lets the server take them). */
export const MAX_PING_BODY = 1024 * 1024;

/**
 * Whether the request is a ping (a POST to a ping route): the token check
 * lets it through to the route, which checks the key, and its body may be
 * of any type.
 *
 * @example
 * ```ts
 * isPing("POST", "/jobs/backup/ping"); // true
 * ```
 */
export function isPing(method: string, pathname: string): boolean {
  return method === "POST" && PING_PATH.test(pathname);
}

/** The ping key the request carries, or null. */
export function pingKeyOf(req: Request, url: URL): string | null {
  return url.searchParams.get("key") ?? req.headers.get(PING_KEY_HEADER);
}

/**
 * Checks the caller may ping the job (see the module comment), then
 * records the ping: 200 with its run.
 */
export async function takePing(
  ctx: Context<State>,
  kind: PingKind,
): Promise<Response> {
  const { manager, config } = ctx.state;
  const id = ctx.params.id;
  const key = pingKeyOf(ctx.req, ctx.url);
  if (key !== null) {
    if (!manager.pingKeyMatches(id, key)) {
      throw new ApiError(
        403,
        "forbidden",
        "key: not this job's ping key (see the job's page, or GET /jobs/:id with the admin token; POST /jobs/:id/ping-key makes a new one)",
        "key",
      );
    }
  } else if (config.token && ctx.state.access !== "full") {
    const { access } = credentials(config, ctx.req);
    if (access === "read") {
      throw new ApiError(
        403,
        "forbidden",
        "the read-only token cannot ping: send the job's ping key (?key= or X-Ping-Key)",
      );
    }
    throw new ApiError(
      401,
      "unauthorized",
      "a ping needs the job's ping key (?key= or the X-Ping-Key header) or the admin token",
      undefined,
      { "www-authenticate": 'Bearer realm="jobpro"' },
    );
  }
  const body = await readText(ctx.req, MAX_PING_BODY);
  const run = await manager.ping(id, kind, body || null);
  return json(run);
}
