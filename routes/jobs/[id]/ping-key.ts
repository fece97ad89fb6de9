import { json } from "@/lib/web/api.ts";
import { define } from "@/utils.ts";

/**
 * POST (admin token): gives the heartbeat job a new ping key; the old one
 * stops working → 200 with the job, the new key in its action. 409 for a
 * job that is not a heartbeat job.
 */
export const handler = define.handlers({
  async POST(ctx) {
    const job = await ctx.state.manager.rotatePingKey(ctx.params.id);
    return json(ctx.state.manager.revealed(job));
  },
});
