import { ApiError, json, readJson, readText } from "@/lib/web/api.ts";
import { flagParam } from "@/lib/web/query_flags.ts";
import { define } from "@/utils.ts";

/**
 * POST a crontab (text/plain, or JSON `{ "crontab": "..." }`) → 200 with
 * the jobs its lines became (shell jobs run through /bin/sh -c; the server
 * needs JOBPRO_ALLOW_SHELL=1), each created, configured or unchanged, as
 * apply answers. A line that cannot be converted is a 400 naming it, and
 * nothing is imported, unless `?partial=1`; `?dryRun=1` changes nothing.
 */
export const handler = define.handlers({
  async POST(ctx) {
    const type = ctx.req.headers.get("content-type") ?? "";
    const MAX_BYTES = ctx.state.config.maxApplyBytes;
    let text: unknown;
    if (/^text\//i.test(type)) text = await readText(ctx.req, MAX_BYTES);
    else {
      const body = await readJson(ctx.req, MAX_BYTES);
      text = (body as { crontab?: unknown } | null)?.crontab;
      if (typeof text !== "string") {
        throw new ApiError(
          400,
          "invalid",
          'crontab: is required: send the crontab as text/plain, or JSON { "crontab": "..." }',
          "crontab",
        );
      }
    }
    return json(
      await ctx.state.manager.importCrontab(text as string, {
        dryRun: flagParam(ctx.url, "dryRun"),
        partial: flagParam(ctx.url, "partial"),
        backendUrl: ctx.state.config.backendUrl,
      }),
    );
  },
});
