/** Plain data for the dashboard's DOM-free tests: jobs and runs as the API shows them. */
import type { JobView, RunView } from "@/lib/jobpro/runtime.ts";

/** When every fixture was created. */
export const CREATED = "2030-01-01T00:00:00.000Z";

/** A scheduled one-time job "j" calling `noop`, with any overrides. */
export function jobView(over: Partial<JobView> = {}): JobView {
  return {
    id: "j",
    name: "J",
    type: "onetime",
    schedule: "in 1h",
    description: null,
    scheduleText: "in 1 hour",
    timezone: null,
    effectiveTimezone: "UTC",
    action: { type: "function", name: "noop" },
    timeoutMs: null,
    retries: 0,
    retryDelayMs: 1000,
    overlap: "skip",
    catchUp: "skip",
    autoStart: true,
    tags: [],
    notify: [],
    onSuccess: [],
    onFailure: [],
    status: "scheduled",
    nextRunAt: CREATED,
    lastRun: null,
    lastSuccessAt: null,
    lastFailureAt: null,
    runCount: 0,
    successCount: 0,
    activeRuns: 0,
    queuedRuns: 0,
    concurrencyKey: null,
    skippedRuns: 0,
    missedRuns: 0,
    successRate: null,
    createdAt: CREATED,
    updatedAt: CREATED,
    ...over,
  };
}

/** Run `id` of `jobId`, going or ended with `status`. */
export function runView(
  id: number,
  jobId: string,
  status: RunView["status"] = "running",
): RunView {
  return {
    id,
    jobId,
    trigger: "schedule",
    attempt: 1,
    scheduledFor: null,
    startedAt: new Date(Date.parse(CREATED) + id).toISOString(),
    endedAt: null,
    durationMs: status === "running" ? null : 5,
    status,
    message: null,
    error: null,
    parentJobId: null,
    parentRunId: null,
  };
}
