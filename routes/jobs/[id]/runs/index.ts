import { json, runQuery } from "@/lib/web/api.ts";
import { define } from "@/utils.ts";

/** GET: the job's runs, newest first → { runs, total, offset, limit }; `status` filter. */
export const handler = define.handlers({
  async GET(ctx) {
    const query = runQuery(ctx.url);
    const list = await ctx.state.manager.runs(ctx.params.id, query);
    return json({ ...list, offset: query.offset, limit: query.limit });
  },
});
