import { ApiError, json } from "@/lib/api.ts";
import { define } from "@/utils.ts";

/** GET: one run of the job, with its captured output. */
export const handler = define.handlers({
  async GET(ctx) {
    const runId = Number(ctx.params.runId);
    if (!/^\d+$/.test(ctx.params.runId) || !Number.isSafeInteger(runId)) {
      throw new ApiError(
        400,
        "invalid",
        `runId: must be a run number, got "${ctx.params.runId}"`,
        "runId",
      );
    }
    return json(await ctx.state.manager.run(ctx.params.id, runId));
  },
});
