import { json } from "@/lib/web/api.ts";
import { VERSION } from "@/lib/version.ts";
import { define } from "@/utils.ts";

/** 200 when the store answers and the scheduler runs; 503 otherwise. */
export const handler = define.handlers({
  async GET(ctx) {
    const health = await ctx.state.manager.health();
    return json(
      { status: health.ok ? "ok" : "unavailable", version: VERSION, ...health },
      health.ok ? 200 : 503,
      {
        "cache-control": "no-store",
      },
    );
  },
});
