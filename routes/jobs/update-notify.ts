import { jobEvents, liveOptions } from "@/lib/web/live.ts";
import { define } from "@/utils.ts";

/**
 * GET: the seed's event stream: every job change or deletion as an event
 * named `job-update` (data: the job, or `{ id, deleted: true }`).
 */
export const handler = define.handlers({
  GET: (ctx) =>
    jobEvents(ctx.req, ctx.state.manager, {
      ...liveOptions(ctx.state.config),
      only: ["job-update", "job-deleted"],
      rename: "job-update",
    }),
});
