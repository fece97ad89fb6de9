import { json } from "@/lib/web/api.ts";
import { define } from "@/utils.ts";

/** GET: the seed's history: the job's last 10 runs as a JSON array, newest first. */
export const handler = define.handlers({
  async GET(ctx) {
    const { runs } = await ctx.state.manager.runs(ctx.params.id, { limit: 10 });
    return json(runs);
  },
});
