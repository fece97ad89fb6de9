import { json, shown } from "@/lib/web/api.ts";
import { define } from "@/utils.ts";

/** POST: pauses the job (see the status table in lib/jobpro/status.ts) → 200 with the job. */
export const handler = define.handlers({
  POST: async (ctx) =>
    json(shown(ctx.state, await ctx.state.manager.pause(ctx.params.id))),
});
