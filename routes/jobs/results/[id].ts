import { intParam } from "@/lib/web/api.ts";
import { runRows } from "@/lib/web/seed_rows.tsx";
import { define } from "@/utils.ts";

/** GET ?offset=: the seed's run rows: 10 runs from `offset` as HTML `<tr>`s, then a load-more row. */
export const handler = define.handlers({
  async GET(ctx) {
    const offset = intParam(ctx.url, "offset", 0);
    const list = await ctx.state.manager.runs(ctx.params.id, {
      offset,
      limit: 10,
    });
    return ctx.html(runRows(ctx.params.id, list.runs, { ...list, offset }));
  },
});
