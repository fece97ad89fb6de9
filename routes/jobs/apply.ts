import { json, readJson } from "@/lib/web/api.ts";
import { flagParam } from "@/lib/web/query_flags.ts";
import { define } from "@/utils.ts";

/**
 * POST a document of definitions (`{ jobs: [...] }` as `GET /jobs/export`
 * answers, an array, a `list` answer, or the Go service's job file) → 200
 * with what happened to each job: created, configured (with each field's
 * old and new value), unchanged or pruned. All or nothing: a bad job is a
 * 400 naming its place, id and field, and nothing changes. `?dryRun=1`
 * answers what it would do; `?prune=1` deletes the jobs it does not list;
 * `?createOnly=1` (`jobs add --file`) only creates, ids optional.
 */
export const handler = define.handlers({
  async POST(ctx) {
    // A document of many jobs: its own limit (JOBPRO_MAX_APPLY_BYTES, 8 MiB).
    const doc = await readJson(ctx.req, ctx.state.config.maxApplyBytes);
    return json(
      await ctx.state.manager.apply(doc, {
        dryRun: flagParam(ctx.url, "dryRun"),
        prune: flagParam(ctx.url, "prune"),
        createOnly: flagParam(ctx.url, "createOnly"),
        backendUrl: ctx.state.config.backendUrl,
      }),
    );
  },
});
