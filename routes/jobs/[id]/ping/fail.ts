import { takePing } from "@/lib/web/ping.ts";
import { define } from "@/utils.ts";

/**
 * POST: a heartbeat job's failure ping → 200 with the failed run (the
 * ping-started one going, or a new one); the body (any text, its last
 * 64 KiB) is the run's output, its first line in the error.
 */
export const handler = define.handlers({
  POST: (ctx) => takePing(ctx, "fail"),
});
