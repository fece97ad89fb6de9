import { define } from "@/utils.ts";
import { jobEvents } from "@/lib/live.ts";

/** Server-Sent Events: job-update, job-deleted, run-started, run-finished. */
export const handler = define.handlers({
  GET: (ctx) => jobEvents(ctx.req, ctx.state.manager),
});
