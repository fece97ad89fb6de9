/**
 * The engine's browser-safe entry: the shapes the API answers with, the
 * status lists and the transition table, for the dashboard (components/,
 * islands/) and the command line (cli/). Nothing here reaches the database,
 * the file system or a schema library; a test bundles it for the browser to
 * keep it so.
 *
 * @example
 * ```ts
 * import { canTransition, type JobView } from "@/lib/jobpro/runtime.ts";
 * canTransition({ type: "periodic", status: "paused" }, "resume"); // true
 * ```
 * @module
 */
export {
  canTransition,
  JOB_STATUSES,
  type JobStatus,
  type Operation,
  RUN_STATUSES,
  type RunStatus,
  transition,
} from "./status.ts";
export type { Action, JobType, JobView } from "./job.ts";
export type { RunView, Trigger } from "./run.ts";
export { MAX_OUTPUT_CHARS } from "./run.ts";
export {
  mergeOutput,
  type OutputSoFar,
  type RunOutputChunk,
} from "./live_output.ts";
export {
  hasTags,
  MAX_TAG_LENGTH,
  MAX_TAGS,
  splitTags,
  TAG_PATTERN,
  tagProblem,
  tagsProblem,
} from "./tags.ts";
export type { BulkAction, BulkAnswer, BulkResult } from "./bulk.ts";
export type { ApplyAnswer, ApplyItem } from "./apply.ts";
export type { CrontabAnswer } from "./crontab_import.ts";
export type { JobStats, KeyUsage } from "./store.ts";
export type { ConcurrencyView } from "./limits.ts";
export type { DeliveryView, NotifyRule } from "./notify.ts";
export type { Preview } from "./schedule.ts";
export type { ErrorCode } from "./errors.ts";
export type {
  FunctionInfo,
  FunctionParam,
  ParamType,
} from "../jobs/registry.ts";
