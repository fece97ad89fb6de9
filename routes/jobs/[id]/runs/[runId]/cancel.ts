import { json, runIdParam } from "@/lib/web/api.ts";
import { requester } from "@/lib/web/auth.ts";
import { define } from "@/utils.ts";

/**
 * POST: cancels the run if it is going, on whichever node runs it → 200
 * with the run once it has ended cancelled (202 with it still going if it
 * has not ended within the kill grace and a margin); 404 for an unknown job
 * or run, 409 for a run that has ended.
 */
export const handler = define.handlers({
  async POST(ctx) {
    const { run, ended } = await ctx.state.manager.cancelRun(
      ctx.params.id,
      runIdParam(ctx.params.runId),
      requester(ctx.state.config, ctx.req),
    );
    return json(run, ended ? 200 : 202);
  },
});
