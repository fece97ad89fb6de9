import { json, shown } from "@/lib/web/api.ts";
import { define } from "@/utils.ts";

/** POST: runs the job now, outside its schedule → 200 with the job and the new run. */
export const handler = define.handlers({
  async POST(ctx) {
    const run = await ctx.state.manager.runNow(ctx.params.id);
    const job = shown(ctx.state, ctx.state.manager.get(ctx.params.id));
    return json({ ...job, run });
  },
});
