/**
 * jobpro's engine, as the server uses it: the manager and its store, the
 * schedules, the job sources, and the schemas the web layer documents.
 * Nothing here knows about HTTP. The browser-safe part (types, status
 * lists, the transition table) is runtime.ts.
 *
 * @example
 * ```ts
 * import { createManager, openDuckDBStore } from "@/lib/jobpro/mod.ts";
 * const manager = await createManager({ store: await openDuckDBStore("jobs.duckdb") });
 * ```
 * @module
 */
export { createManager } from "./manager.ts";
export type { Manager, ManagerOptions } from "./manager.ts";
export { openDuckDBStore } from "./duckdb_store.ts";
export { openDatabase } from "./open_store.ts";
export { emptyBatch } from "./store.ts";
export type { JobStats } from "./store.ts";
export { JobproError } from "./errors.ts";
export {
  ActionSchema,
  JobInputSchema,
  JobPatchSchema,
  parseJobInput,
  parseJobPatch,
} from "./job.ts";
export type { JobType, JobView } from "./job.ts";
export { BulkFilterSchema, BulkSchema, MAX_BULK } from "./bulk.ts";
export type { BulkAnswer } from "./bulk.ts";
export {
  defaultRules,
  NOTIFY_EVENTS,
  NotifySchema,
  NotifyTargetSchema,
} from "./notify.ts";
export type { DeliveryView } from "./notify.ts";
export type { Run, RunView } from "./run.ts";
export { JOB_STATUSES, RUN_STATUSES } from "./status.ts";
export type { JobStatus } from "./status.ts";
export type { Delivered, EventBus } from "./events.ts";
export type { Health } from "./health.ts";
export type { Clock } from "./clock.ts";
export { nextRuns, parseSchedule, previewSchedule } from "./schedule.ts";
export {
  definitionsOf,
  fetchJobs,
  loadDefinitions,
  readJobsFile,
} from "./sources.ts";
export { EXAMPLE_JOBS } from "./examples.ts";
export { parseRfc3339 } from "./iso.ts";
export { shellEnvironment } from "./actions.ts";
