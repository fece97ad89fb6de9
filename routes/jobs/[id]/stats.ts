import { json } from "@/lib/web/api.ts";
import { define } from "@/utils.ts";

/** GET: { runs, successRate, avgDurationMs, p50DurationMs, p95DurationMs, lastRunAt, lastFailureAt }, computed in DuckDB. */
export const handler = define.handlers({
  GET: async (ctx) => json(await ctx.state.manager.stats(ctx.params.id)),
});
