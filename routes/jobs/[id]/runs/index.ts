import { enumParam, intParam, json } from "@/lib/api.ts";
import { define } from "@/utils.ts";

/** GET: the job's runs, newest first → { runs, total, offset, limit }. */
export const handler = define.handlers({
  async GET(ctx) {
    const offset = intParam(ctx.url, "offset", 0);
    const limit = intParam(ctx.url, "limit", 10, 1000);
    const status = enumParam(
      ctx.url,
      "status",
      ["running", "complete", "failed", "cancelled"] as const,
    );
    const list = await ctx.state.manager.runs(ctx.params.id, {
      offset,
      limit,
      status,
    });
    return json({ ...list, offset, limit });
  },
});
