import { ApiError, json, readJson } from "@/lib/api.ts";
import { define } from "@/utils.ts";

/** POST { schedule }: a new time for a one-time job that is created or scheduled, as in the seed. */
export const handler = define.handlers({
  async POST(ctx) {
    const body = await readJson(ctx.req) as { schedule?: unknown };
    if (
      typeof body !== "object" || body === null ||
      typeof body.schedule !== "string"
    ) {
      throw new ApiError(
        400,
        "invalid",
        "schedule: is required and must be a string",
        "schedule",
      );
    }
    return json(
      await ctx.state.manager.reschedule(ctx.params.id, body.schedule),
    );
  },
});
