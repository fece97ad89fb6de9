import { jobQuery } from "@/lib/web/api.ts";
import { jobRows } from "@/lib/web/seed_rows.tsx";
import { define } from "@/utils.ts";

/** GET: the seed's table rows: one HTML `<tr>` per job; same filters as GET /jobs. */
export const handler = define.handlers({
  GET(ctx) {
    const { jobs, total } = ctx.state.manager.list(jobQuery(ctx.url));
    return ctx.html(jobRows(jobs), {
      headers: { "x-total-count": `${total}` },
    });
  },
});
