/**
 * The REST API's bodies and answers as zod schemas. Request bodies are
 * checked with them (POST /jobs and PATCH /jobs/:id through the engine, which
 * owns those two), and the OpenAPI document is generated from the same
 * objects, so the document cannot drift from what the server checks.
 * Response schemas are strict: a field the server sends that is not
 * documented fails the OpenAPI test.
 *
 * @example
 * ```ts
 * import { RescheduleSchema } from "@/lib/web/schemas.ts";
 * RescheduleSchema.parse({ schedule: "in 5m" });
 * ```
 * @module
 */
import { z } from "zod";
import {
  ActionSchema,
  type BulkAnswer,
  BulkFilterSchema,
  BulkSchema,
  type DeliveryView,
  type Health,
  JOB_STATUSES,
  JobInputSchema,
  JobPatchSchema,
  type JobStats,
  type JobView,
  MAX_BULK,
  NOTIFY_EVENTS,
  NotifySchema,
  NotifyTargetSchema,
  RUN_STATUSES,
  type RunView,
} from "../jobpro/mod.ts";
import type { FunctionInfo } from "../jobs/mod.ts";
import type { ConcurrencyView } from "../jobpro/limits.ts";
import type { ApplyAnswer } from "../jobpro/apply.ts";
import type { CrontabAnswer } from "../jobpro/crontab_import.ts";

export {
  ActionSchema,
  BulkFilterSchema,
  BulkSchema,
  JobInputSchema,
  JobPatchSchema,
};

/** The body of `POST /jobs/:id/reschedule` (and the seed's `/jobs/reschedule/:id`). */
export const RescheduleSchema = z.strictObject({
  schedule: z.string().max(256).meta({
    description: "A one-time schedule: `in 30s`, an absolute time, or empty",
    examples: ["in 10m"],
  }),
});

const isoTime = z.iso.datetime();
const nullableTime = isoTime.nullable();
const RUN_STATUS = z.enum(RUN_STATUSES);
const TRIGGER = z.enum([
  "schedule",
  "manual",
  "retry",
  "startup",
  "ping",
  "chain",
]);

/** A run as the API shows it; `output` only on `GET /jobs/:id/runs/:runId`. */
export const RunSchema = z.strictObject({
  id: z.int(),
  jobId: z.string(),
  trigger: TRIGGER,
  attempt: z.int(),
  scheduledFor: nullableTime,
  startedAt: isoTime,
  endedAt: nullableTime,
  durationMs: z.number().nullable(),
  status: RUN_STATUS,
  message: z.string().nullable(),
  error: z.string().nullable(),
  parentJobId: z.string().nullable().meta({
    description:
      'A chained run (trigger "chain"): the job whose run\'s end started it; null otherwise',
  }),
  parentRunId: z.int().nullable().meta({
    description: "A chained run: the run whose end started it; null otherwise",
  }),
  node: z.string().optional().meta({
    description:
      "The name of the node that ran it; only on a cluster's runs (several nodes on one PostgreSQL)",
  }),
  output: z.string().nullable().optional().meta({
    description:
      "The captured tail of the action's output; of a run going, its output so far (the last 64 KiB)",
  }),
  outputOffset: z.int().min(0).optional().meta({
    description:
      "Only on a run going, read with its output: where `output` starts in all the run wrote (how many characters were dropped before it). Live `run-output` events go on from `outputOffset + output.length`",
  }),
});

/** A `run-output` event's data: a piece of a run's live output and where it starts. */
export const RunOutputSchema = z.strictObject({
  jobId: z.string(),
  runId: z.int(),
  offset: z.int().min(0).meta({
    description:
      "Where `chunk` starts in all the run wrote. A reader that has the output up to here appends the chunk; one that has part of it skips that part; one that has less missed the characters between (the run printed faster than they were sent) and may read the run again (`GET /jobs/{id}/runs/{runId}`) for the last 64 KiB",
  }),
  chunk: z.string().meta({
    description: "What the run wrote next (at most 16 KiB per event)",
  }),
});

/** What a job shows of its last run. */
export const RunSummarySchema = z.strictObject({
  id: z.int(),
  status: RUN_STATUS,
  trigger: TRIGGER,
  startedAt: isoTime,
  endedAt: nullableTime,
  durationMs: z.number().nullable(),
  error: z.string().nullable(),
});

/** A job as the API shows it. */
export const JobSchema = z.strictObject({
  id: z.string(),
  name: z.string(),
  type: z.enum(["periodic", "onetime"]),
  schedule: z.string(),
  description: z.string().nullable().meta({
    description: "What the job is for, as its owner wrote it; null: none",
  }),
  scheduleText: z.string().meta({
    description: 'The schedule in English: "Every 15 seconds", "manual"',
  }),
  timezone: z.string().nullable().meta({
    description:
      "The job's own IANA zone, as set (or by a CRON_TZ= prefix); null: it runs in the server's default zone",
  }),
  effectiveTimezone: z.string().meta({
    description:
      "The zone its schedule runs in: `timezone`, or the server's default (JOBPRO_TIMEZONE, default UTC) when that is null",
    examples: ["Europe/Berlin"],
  }),
  action: ActionSchema,
  timeoutMs: z.int().nullable(),
  retries: z.int(),
  retryDelayMs: z.int(),
  overlap: z.enum(["skip", "allow", "replace"]),
  catchUp: z.enum(["skip", "once"]),
  autoStart: z.boolean(),
  tags: z.array(z.string()),
  notify: NotifySchema,
  onSuccess: z.array(z.string()).meta({
    description: 'Jobs run (trigger "chain") when a run of this job completes',
  }),
  onFailure: z.array(z.string()).meta({
    description:
      "Jobs run when a run of this job fails on its last attempt (a failure that will be retried starts nothing yet)",
  }),
  status: z.enum(JOB_STATUSES),
  nextRunAt: nullableTime,
  lastRun: RunSummarySchema.nullable(),
  lastSuccessAt: nullableTime.meta({
    description:
      "When a run of it last succeeded (its end), from the stored runs; null: never",
  }),
  lastFailureAt: nullableTime.meta({
    description: "When a run of it last failed (its end); null: never",
  }),
  runCount: z.int(),
  successCount: z.int(),
  activeRuns: z.int().meta({
    description:
      "Runs going now, those waiting `queued` for a concurrency slot included",
  }),
  queuedRuns: z.int().meta({
    description: "Of `activeRuns`, those waiting `queued` (concurrency limits)",
  }),
  concurrencyKey: z.string().nullable().meta({
    description:
      "The concurrency key whose limit its runs share (GET /jobs/concurrency); null: none",
  }),
  skippedRuns: z.int(),
  missedRuns: z.int().describe(
    "ticks due since the server started that could not be fired in time",
  ),
  successRate: z.number().nullable(),
  createdAt: isoTime,
  updatedAt: isoTime,
});

/** `POST /jobs/:id/run`: the job and the run it started. */
export const RunNowSchema = JobSchema.extend({ run: RunSchema });

const page = { total: z.int(), offset: z.int(), limit: z.int() };

/** `GET /jobs` as JSON. */
export const JobListSchema = z.strictObject({
  jobs: z.array(JobSchema),
  ...page,
});

/** One job's outcome in a bulk request. */
export const BulkResultSchema = z.union([
  z.strictObject({
    id: z.string(),
    ok: z.literal(true),
    status: z.enum([...JOB_STATUSES, "deleted"]).meta({
      description: 'The job\'s status afterwards; "deleted" once deleted',
    }),
    runId: z.int().optional().meta({
      description: "With action run: the run it started",
    }),
  }),
  z.strictObject({
    id: z.string(),
    ok: z.literal(false),
    code: z.string().meta({
      description:
        "not_found (no such job), conflict (its status does not allow it; error says why), unavailable (nothing changed), internal",
    }),
    error: z.string(),
  }),
]);

/** `POST /jobs/bulk`. */
export const BulkAnswerSchema = z.strictObject({
  action: BulkSchema.shape.action,
  matched: z.int().meta({
    description: `The jobs named or selected (at most ${MAX_BULK})`,
  }),
  succeeded: z.int(),
  failed: z.int(),
  results: z.array(BulkResultSchema).meta({
    description: "One per job, in the order named (or the list's order)",
  }),
});

/** `GET /jobs/export`, and the body `POST /jobs/apply` takes: job definitions with their ids. */
export const JobsDocumentSchema = z.strictObject({
  jobs: z.array(JobInputSchema.required({ id: true })).meta({
    description:
      "Each job as `POST /jobs` takes it, with its id; no status, counters or versions. Apply also takes an array of them, a `GET /jobs` answer (its read-only fields ignored) and the Go service's job file",
  }),
});

/** One job's outcome in an apply (or a crontab import). */
export const ApplyItemSchema = z.strictObject({
  id: z.string(),
  name: z.string(),
  action: z.enum(["created", "configured", "unchanged", "pruned"]),
  changes: z.array(z.strictObject({
    field: z.string(),
    old: z.unknown(),
    new: z.unknown(),
  })).optional().meta({
    description:
      "configured: each definition field that changes, its old and new value (secrets redacted)",
  }),
  keptSecrets: z.array(z.string()).optional().meta({
    description:
      "Fields the document gave as `[redacted]` whose stored secret was kept",
  }),
});

/** `POST /jobs/apply`. */
export const ApplyAnswerSchema = z.strictObject({
  dryRun: z.boolean().meta({
    description: "Nothing was changed (`?dryRun=1`)",
  }),
  created: z.int(),
  configured: z.int(),
  unchanged: z.int(),
  pruned: z.int(),
  jobs: z.array(ApplyItemSchema).meta({
    description: "The document's jobs in its order, then the pruned ones",
  }),
});

/** The JSON body of `POST /jobs/import/crontab` (text/plain takes the crontab as it is). */
export const CrontabImportSchema = z.strictObject({
  crontab: z.string().meta({
    description: "The crontab's text, as `crontab -l` prints it",
    examples: ["MAILTO=ops@example.com\n0 2 * * * /usr/local/bin/backup\n"],
  }),
});

/** `POST /jobs/import/crontab`. */
export const CrontabAnswerSchema = ApplyAnswerSchema.extend({
  lines: z.array(z.strictObject({ line: z.int(), id: z.string() })).meta({
    description: "The job each converted line became",
  }),
  problems: z.array(z.strictObject({
    line: z.int(),
    text: z.string(),
    reason: z.string(),
  })).meta({
    description:
      "With `?partial=1`: the lines left out and why (without it, such a line is a 400)",
  }),
});

/** `GET /jobs/:id/runs`. */
export const RunListSchema = z.strictObject({
  runs: z.array(RunSchema),
  ...page,
});

/** `GET /jobs/history/:id` (seed alias): the last 10 runs. */
export const RunArraySchema = z.array(RunSchema);

/** `GET /jobs/:id/stats`, computed in DuckDB over the job's finished runs. */
export const StatsSchema = z.strictObject({
  runs: z.int(),
  successRate: z.number().nullable(),
  avgDurationMs: z.number().nullable(),
  p50DurationMs: z.number().nullable(),
  p95DurationMs: z.number().nullable(),
  lastRunAt: nullableTime,
  lastFailureAt: nullableTime,
});

/** `GET /jobs/schedule`. */
export const PreviewSchema = z.strictObject({
  type: z.enum(["periodic", "onetime", "manual"]),
  description: z.string(),
  next: z.array(isoTime),
  warnings: z.array(z.string()).optional().describe(
    "what the schedule means that its text may not say, such as a step larger than its field",
  ),
});

/** One param a function reads. */
export const FunctionParamSchema = z.strictObject({
  name: z.string(),
  type: z.enum(["string", "number", "integer", "boolean"]),
  required: z.boolean(),
  description: z.string(),
  title: z.string().optional().meta({
    description: 'A short label for a form, such as "Sleep (ms)"',
  }),
  default: z.union([z.string(), z.number(), z.boolean()]).optional().meta({
    description: "What the function uses when the param is left out",
  }),
  minimum: z.number().optional(),
  maximum: z.number().optional(),
});

/** A function a `function` action may call. */
export const FunctionInfoSchema = z.strictObject({
  name: z.string(),
  description: z.string().meta({
    description: "Empty when it was registered without a description",
  }),
  params: z.array(FunctionParamSchema).nullable().meta({
    description:
      "The params it reads; null when it was registered without a spec (any JSON object)",
  }),
});

/** `GET /jobs/functions`. */
export const FunctionListSchema = z.strictObject({
  functions: z.array(FunctionInfoSchema),
});

/** `GET /healthz`. */
export const HealthSchema = z.strictObject({
  status: z.enum(["ok", "unavailable"]),
  ok: z.boolean(),
  version: z.string().meta({
    description: "The jobpro release that answered",
    examples: ["1.0.0"],
  }),
  jobs: z.int(),
  running: z.int(),
  reason: z.string().optional().describe("why it is unavailable"),
  node: z.strictObject({
    name: z.string(),
    epoch: z.int().nullable().meta({
      description:
        "The epoch of its lease; null while it holds none (it is joining again)",
    }),
    jobs: z.int().meta({ description: "The jobs this node owns" }),
    live: z.array(z.strictObject({ epoch: z.int(), name: z.string() })).meta(
      { description: "The cluster's live nodes, this one included" },
    ),
  }).optional().meta({
    description:
      "The node that answered; only on a node of a cluster (several nodes on one PostgreSQL)",
  }),
});

/** Every error answer. */
export const ErrorSchema = z.strictObject({
  error: z.strictObject({
    code: z.string().meta({
      description:
        "invalid, unauthorized, forbidden, not_found, method_not_allowed, duplicate, conflict, too_large, unsupported_media_type, unavailable, internal",
    }),
    message: z.string(),
    field: z.string().optional().meta({
      description: "The input that is wrong, for a 400",
    }),
  }),
});

/** What the Go service's action routes answer. */
export const SeedAnswerSchema = z.strictObject({
  jobID: z.string(),
  status: z.enum([
    "started",
    "stopped",
    "paused",
    "resumed",
    "triggered",
    "rescheduled",
  ]),
});

/** One alert delivery (notify.ts): its event, target and outcome. */
export const DeliverySchema = z.strictObject({
  id: z.string().describe(
    "An opaque id: a hash of the dedupe key (the run or missed episode, the event, the target)",
  ),
  jobId: z.string(),
  runId: z.int().nullable(),
  event: z.enum(NOTIFY_EVENTS),
  target: NotifyTargetSchema,
  status: z.enum(["pending", "sent", "failed"]).describe(
    "pending: to be (re)tried; sent; failed: given up after the last attempt",
  ),
  attempts: z.int(),
  error: z.string().nullable().describe("The last attempt's error"),
  createdAt: isoTime,
  nextAttemptAt: nullableTime,
  sentAt: nullableTime,
});

/** `GET /jobs/:id/deliveries`: newest first. */
export const DeliveryListSchema = z.strictObject({
  deliveries: z.array(DeliverySchema),
});

/** One concurrency key: its limit, and its runs now (on every node). */
export const KeyUsageSchema = z.strictObject({
  key: z.string(),
  limit: z.int().meta({
    description: "The most runs of the key going at once, across the cluster",
  }),
  running: z.int(),
  queued: z.int(),
});

/** `GET /jobs/concurrency` (and the answer of PUT). */
export const ConcurrencySchema = z.strictObject({
  maxConcurrentRuns: z.int().nullable().meta({
    description:
      "The most runs going at once on the node that answered (JOBPRO_MAX_CONCURRENT_RUNS, per node: it protects that machine); null: no cap",
  }),
  activeRuns: z.int().meta({ description: "Runs going on this node now" }),
  queuedRuns: z.int().meta({ description: "Runs queued on this node now" }),
  keys: z.array(KeyUsageSchema).meta({
    description: "Each key with a limit (stored, shared by every node), by key",
  }),
});

/** The body of `PUT /jobs/concurrency`: limits to set (null removes one); other keys stay. */
export const ConcurrencyLimitsSchema = z.strictObject({
  limits: z.record(
    z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/),
    z.int().min(1).max(10_000).nullable(),
  ).meta({
    description:
      "Key to limit: the most runs of jobs with that `concurrencyKey` going at once, 1-10000; null removes the key's limit",
    examples: [{ backups: 1, reports: 2 }],
  }),
});

/** Schemas the OpenAPI document lists under `components.schemas`, by name. */
export const COMPONENTS = {
  JobInput: JobInputSchema,
  JobPatch: JobPatchSchema,
  Reschedule: RescheduleSchema,
  Action: ActionSchema,
  Job: JobSchema,
  RunNow: RunNowSchema,
  JobList: JobListSchema,
  Bulk: BulkSchema,
  BulkFilter: BulkFilterSchema,
  BulkAnswer: BulkAnswerSchema,
  BulkResult: BulkResultSchema,
  Run: RunSchema,
  RunOutput: RunOutputSchema,
  RunSummary: RunSummarySchema,
  RunList: RunListSchema,
  RunArray: RunArraySchema,
  Stats: StatsSchema,
  Delivery: DeliverySchema,
  DeliveryList: DeliveryListSchema,
  Preview: PreviewSchema,
  FunctionList: FunctionListSchema,
  FunctionInfo: FunctionInfoSchema,
  FunctionParam: FunctionParamSchema,
  Health: HealthSchema,
  Error: ErrorSchema,
  SeedAnswer: SeedAnswerSchema,
  Concurrency: ConcurrencySchema,
  ConcurrencyLimits: ConcurrencyLimitsSchema,
  KeyUsage: KeyUsageSchema,
  JobsDocument: JobsDocumentSchema,
  ApplyAnswer: ApplyAnswerSchema,
  ApplyItem: ApplyItemSchema,
  CrontabImport: CrontabImportSchema,
  CrontabAnswer: CrontabAnswerSchema,
} as const;

/** A name in {@link COMPONENTS}. */
export type ComponentName = keyof typeof COMPONENTS;

// The response schemas must describe exactly the engine's types: these fail
// to compile when a field is added to one side only.
type Same<A, B> = [A] extends [B] ? [B] extends [A] ? true : false : false;
const agree = <_ extends true>() => {};
agree<Same<z.output<typeof JobSchema>, JobView>>();
agree<Same<z.output<typeof RunSchema>, RunView>>();
agree<Same<z.output<typeof BulkAnswerSchema>, BulkAnswer>>();
agree<Same<z.output<typeof ApplyAnswerSchema>, ApplyAnswer>>();
agree<Same<z.output<typeof CrontabAnswerSchema>, CrontabAnswer>>();
agree<Same<z.output<typeof StatsSchema>, JobStats>>();
agree<Same<z.output<typeof ConcurrencySchema>, ConcurrencyView>>();
agree<Same<z.output<typeof DeliverySchema>, DeliveryView>>();
agree<Same<z.output<typeof FunctionInfoSchema>, FunctionInfo>>();
// status and version are the route's (routes/healthz.ts), not the engine's.
agree<
  Same<Omit<z.output<typeof HealthSchema>, "status" | "version">, Health>
>();
