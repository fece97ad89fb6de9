import { json, runIdParam } from "@/lib/web/api.ts";
import { define } from "@/utils.ts";

/** GET: one run of the job, with its captured output. */
export const handler = define.handlers({
  GET: async (ctx) =>
    json(
      await ctx.state.manager.run(
        ctx.params.id,
        runIdParam(ctx.params.runId),
      ),
    ),
});
