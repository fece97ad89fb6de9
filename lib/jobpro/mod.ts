/**
 * jobpro's engine: schedules, the manager, actions, the store and events.
 * Nothing here knows about HTTP.
 *
 * @example
 * ```ts
 * import { createManager, openDuckDBStore } from "@/lib/jobpro/mod.ts";
 * const manager = await createManager({ store: await openDuckDBStore("jobs.duckdb") });
 * ```
 * @module
 */
export { createManager } from "./manager.ts";
export type { JobQuery, Manager, ManagerOptions } from "./manager.ts";
export { openDuckDBStore } from "./duckdb_store.ts";
export { emptyBatch } from "./store.ts";
export type { Batch, JobStats, PruneRule, RunQuery, Store } from "./store.ts";
export { JobproError } from "./errors.ts";
export type { ErrorCode } from "./errors.ts";
export {
  ActionSchema,
  JobInputSchema,
  JobPatchSchema,
  jobView,
  parseJobInput,
  parseJobPatch,
} from "./job.ts";
export type {
  Action,
  Job,
  JobInput,
  JobPatch,
  JobType,
  JobView,
} from "./job.ts";
export type { Run, RunStatus, RunView, Trigger } from "./run.ts";
export { JOB_STATUSES, transition, TRANSITIONS } from "./status.ts";
export type { JobStatus, Operation } from "./status.ts";
export type { Delivered, EventBus, JobEvent } from "./events.ts";
export type { Clock } from "./clock.ts";
export { systemClock } from "./clock.ts";
export {
  describeSchedule,
  isPeriodic,
  nextRuns,
  parseSchedule,
  previewSchedule,
} from "./schedule.ts";
export type { Schedule } from "./schedule.ts";
export {
  definitionsOf,
  fetchJobs,
  fromSeed,
  loadDefinitions,
  readJobsFile,
} from "./sources.ts";
export { EXAMPLE_JOBS } from "./examples.ts";
export { parseRfc3339 } from "./iso.ts";
export { shellEnvironment } from "./actions.ts";
