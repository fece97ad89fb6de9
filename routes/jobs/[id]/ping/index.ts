import { takePing } from "@/lib/web/ping.ts";
import { define } from "@/utils.ts";

/**
 * POST: a heartbeat job's success ping (with `?key=` or `X-Ping-Key`, or
 * the admin token) → 200 with its run: the ping-started run going ends
 * complete, or a complete run is recorded. 403 wrong key (or no such
 * job), 409 not a heartbeat job.
 */
export const handler = define.handlers({
  POST: (ctx) => takePing(ctx, "success"),
});
