import { intParam, json } from "@/lib/web/api.ts";
import { define } from "@/utils.ts";

/** GET: the job's alert deliveries, newest first → { deliveries }; `limit` (default 20, at most 1000). */
export const handler = define.handlers({
  async GET(ctx) {
    const limit = intParam(ctx.url, "limit", 20, 1000);
    const deliveries = await ctx.state.manager.deliveries(
      ctx.params.id,
      limit,
    );
    return json({ deliveries });
  },
});
