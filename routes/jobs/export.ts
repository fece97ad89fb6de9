import { flagParam } from "@/lib/web/query_flags.ts";
import { define } from "@/utils.ts";

/**
 * GET → { jobs: [...] }: every job's definition in the native format (what
 * `POST /jobs` and `POST /jobs/apply` take, ids included; no status,
 * counters or versions). Secrets are in clear for the full token, as
 * `[redacted]` for the read-only one. `?download=1` answers it as a file,
 * jobs.json.
 */
export const handler = define.handlers({
  GET(ctx) {
    const reveal = ctx.state.access === "full";
    const doc = ctx.state.manager.exportJobs({ reveal });
    const headers: Record<string, string> = flagParam(ctx.url, "download")
      ? { "content-disposition": 'attachment; filename="jobs.json"' }
      : {};
    return new Response(JSON.stringify(doc, null, 2) + "\n", {
      headers: {
        ...headers,
        "content-type": "application/json; charset=utf-8",
      },
    });
  },
});
