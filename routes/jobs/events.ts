import { ApiError } from "@/lib/web/api.ts";
import { define } from "@/utils.ts";
import { jobEvents, liveOptions } from "@/lib/web/live.ts";

const TYPES = [
  "job-update",
  "job-deleted",
  "run-started",
  "run-finished",
  "run-output",
] as const;
type EventType = typeof TYPES[number];

/**
 * Server-Sent Events: job-update, job-deleted, run-started, run-finished,
 * with ids for Last-Event-ID (see lib/web/live.ts). `?types=job-update,job-deleted`
 * limits the stream to those types (a table needs no run events).
 * `run-output` (runs' live output) comes only when asked for: `?output=JOB`
 * for one job's runs, or `types=` naming it for every job's.
 */
export const handler = define.handlers({
  GET(ctx) {
    const raw = ctx.url.searchParams.get("types");
    const only = raw ? raw.split(",").map((t) => t.trim()) : undefined;
    const bad = only?.find((t) => !TYPES.includes(t as EventType));
    if (bad !== undefined) {
      throw new ApiError(
        400,
        "invalid",
        `types: "${bad}" is not one of ${TYPES.join(", ")}`,
        "types",
      );
    }
    const output = ctx.url.searchParams.get("output") ?? undefined;
    if (output !== undefined && !output.trim()) {
      throw new ApiError(
        400,
        "invalid",
        "output: must name a job (its id), not be empty",
        "output",
      );
    }
    if (output !== undefined) ctx.state.manager.get(output); // 404 when unknown
    return jobEvents(ctx.req, ctx.state.manager, {
      ...liveOptions(ctx.state.config),
      only: only as EventType[] | undefined,
      output,
    });
  },
});
