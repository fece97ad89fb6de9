import { json, readBody, shown } from "@/lib/web/api.ts";
import { RescheduleSchema } from "@/lib/web/schemas.ts";
import { define } from "@/utils.ts";

/** POST { schedule }: a new time for a one-time job that is created or scheduled, as in the seed. */
export const handler = define.handlers({
  async POST(ctx) {
    const { schedule } = await readBody(
      ctx.req,
      RescheduleSchema,
      ctx.state.config.maxBodyBytes,
    );
    const job = await ctx.state.manager.reschedule(ctx.params.id, schedule);
    return json(shown(ctx.state, job));
  },
});
