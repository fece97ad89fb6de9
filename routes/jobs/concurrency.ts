import { json, readJson } from "@/lib/web/api.ts";
import { define } from "@/utils.ts";

/**
 * GET → the concurrency limits and the runs now; PUT { limits: { key: n |
 * null } } → sets (or removes) limits, then the same (the engine checks
 * the body: lib/jobpro/concurrency.ts).
 */
export const handler = define.handlers({
  async GET(ctx) {
    return json(await ctx.state.manager.concurrency());
  },
  async PUT(ctx) {
    const body = await readJson(ctx.req, ctx.state.config.maxBodyBytes);
    return json(await ctx.state.manager.setConcurrency(body));
  },
});
