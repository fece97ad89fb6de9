import { json, readJson } from "@/lib/web/api.ts";
import { define } from "@/utils.ts";

/**
 * POST { action, ids | filter, all? } → 200 with each job's result: pause,
 * resume, run now or delete many jobs, each as its own route would (the
 * engine checks the body: lib/jobpro/bulk.ts).
 */
export const handler = define.handlers({
  async POST(ctx) {
    const body = await readJson(ctx.req, ctx.state.config.maxBodyBytes);
    return json(await ctx.state.manager.bulk(body));
  },
});
