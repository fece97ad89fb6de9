import { takePing } from "@/lib/web/ping.ts";
import { define } from "@/utils.ts";

/**
 * POST: a heartbeat job's start ping → 200 with the run it records, going
 * until the success or fail ping (failed without one within the job's
 * timeout, or its grace).
 */
export const handler = define.handlers({
  POST: (ctx) => takePing(ctx, "start"),
});
