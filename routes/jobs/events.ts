import { ApiError } from "@/lib/web/api.ts";
import { define } from "@/utils.ts";
import { jobEvents, liveOptions } from "@/lib/web/live.ts";

const TYPES = [
  "job-update",
  "job-deleted",
  "run-started",
  "run-finished",
] as const;
type EventType = typeof TYPES[number];

/**
 * Server-Sent Events: job-update, job-deleted, run-started, run-finished,
 * with ids for Last-Event-ID (see lib/web/live.ts). `?types=job-update,job-deleted`
 * limits the stream to those types (a table needs no run events).
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
    return jobEvents(ctx.req, ctx.state.manager, {
      ...liveOptions(ctx.state.config),
      only: only as EventType[] | undefined,
    });
  },
});
