/**
 * A job: what runs, when, and how — and the one schema that checks a job's
 * definition, shared by the engine, the API and its OpenAPI document.
 *
 * @example
 * ```ts
 * const input = parseJobInput({
 *   name: "ping",
 *   schedule: "*\/15 * * * * *",
 *   action: { type: "http", url: "http://localhost:8080/ping" },
 * });
 * ```
 * @module
 */
import { isoString } from "./iso.ts";
import { effectiveZone } from "./default_zone.ts";
import { z } from "zod";
import { invalid } from "./errors.ts";
import type { JobStatus } from "./status.ts";
import type { RunSummary } from "./run.ts";
import { redactAction } from "./secrets.ts";
import {
  MAX_TAG_LENGTH,
  MAX_TAGS,
  TAG_PATTERN,
  tagProblem,
  tagsProblem,
} from "./tags.ts";
import { type NotifyRule, NotifySchema, redactNotify } from "./notify.ts";
import { ChainSchema } from "./chains.ts";

/** A chain field as the API documents it (chains.ts). */
const chainField = (on: string) =>
  ChainSchema.meta({
    description:
      `Jobs to run (trigger "chain") when a run of this job ends with ${on} on its final attempt: ids of existing jobs, no cycles`,
    examples: [["report"]],
  });
import { keyProblem } from "./concurrency.ts";

/** The longest description a job may have, in characters. */
export const MAX_DESCRIPTION_LENGTH = 2000;

/** An HTTP header name: a token (RFC 9110 §5.6.2). */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A header value: visible ASCII, spaces, tabs and Latin-1 text, no control characters (CR and LF above all). */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

const HeaderName = z.string().regex(
  HEADER_NAME,
  "header names must be HTTP tokens (letters, digits and !#$%&'*+-.^_`|~)",
);
const HeaderValue = z.string().max(8192).regex(
  HEADER_VALUE,
  "header values must not contain line breaks or other control characters",
);

/** `GET`/`POST`/... a URL; a status outside `expectStatus` (default 2xx) fails the run. */
export const HttpActionSchema = z.object({
  type: z.literal("http"),
  url: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }),
  method: z.enum(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]).default(
    "GET",
  ),
  headers: z.record(HeaderName, HeaderValue).optional(),
  body: z.string().max(1_000_000).optional(),
  expectStatus: z.number().int().min(100).max(599).optional(),
}).strict();

/** Text a process can be given: no NUL, which no argv, path or env holds. */
const ProcessText = z.string().refine(
  (s) => !s.includes("\0"),
  "must not contain a NUL character (no program can be given one)",
);

/** Runs a program (argv, no shell parsing); a non-zero exit fails the run. */
export const ShellActionSchema = z.object({
  type: z.literal("shell"),
  command: z.array(ProcessText).min(1, "needs at least the program name"),
  cwd: ProcessText.optional(),
  env: z.record(ProcessText, ProcessText).optional(),
}).strict();

/** How deep a function's params may nest (deeper JSON overflows the stack when stringified). */
export const MAX_PARAMS_DEPTH = 32;

/** Nesting depth of a JSON value, counted without recursion. */
function depthOf(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (typeof v !== "object" || v === null) continue;
    if (d > max) max = d;
    if (max > MAX_PARAMS_DEPTH) return max;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

/** Calls a function registered in `lib/jobs/` with `params`. */
export const FunctionActionSchema = z.object({
  type: z.literal("function"),
  name: z.string().min(1),
  params: z.record(z.string(), z.unknown()).refine(
    (v) => depthOf(v) <= MAX_PARAMS_DEPTH,
    {
      error: `must not nest deeper than ${MAX_PARAMS_DEPTH} levels`,
    },
  ).optional(),
}).strict();

/** What a heartbeat job's ping key may be: URL-safe, 16-128 characters. */
export const PING_KEY_PATTERN = /^[A-Za-z0-9_-]{16,128}$/;

/**
 * Runs nothing: expects pings (ping.ts) at the ticks of its schedule, and
 * records a failed run "missed heartbeat" when none came within `graceMs`
 * of a tick (heartbeat.ts). `pingKey` is generated when left out.
 */
export const HeartbeatActionSchema = z.object({
  type: z.literal("heartbeat"),
  graceMs: z.number().int().min(100).max(7 * 86_400_000),
  // "[redacted]" (a view sent back) keeps the key the job has.
  pingKey: z.string().regex(
    /^(?:[A-Za-z0-9_-]{16,128}|\[redacted\])$/,
    "must be 16-128 letters, digits, '_' or '-'",
  ).optional(),
}).strict().meta({
  description:
    'Runs nothing: expects a ping at each tick of the (cron) schedule; a tick with no ping within graceMs is a failed run, "missed heartbeat". pingKey (generated when left out; [redacted] to the read-only token) lets an outside cron ping without a token',
});

/** What a run does. */
export const ActionSchema = z.discriminatedUnion("type", [
  HttpActionSchema,
  ShellActionSchema,
  FunctionActionSchema,
  HeartbeatActionSchema,
]);

/** One tag; the message names it and says what is wrong (tags.ts). */
const TagSchema = z.string().max(MAX_TAG_LENGTH, { error: tagError }).regex(
  TAG_PATTERN,
  { error: tagError },
);

function tagError(issue: { input?: unknown }): string {
  const tag = String(issue.input);
  return `${JSON.stringify(tag)} ${tagProblem(tag)}`;
}

/** A job's tags: at most 20 distinct lowercase words, such as ["billing", "nightly"]. */
export const TagsSchema = z.array(TagSchema).max(MAX_TAGS, {
  error: (issue) =>
    `at most ${MAX_TAGS} tags, got ${(issue.input as unknown[]).length}`,
}).superRefine((tags, ctx) => {
  const problem = tagsProblem(tags);
  if (problem) {
    ctx.addIssue({
      code: "custom",
      message: problem.message,
      path: problem.index === null ? [] : [problem.index],
    });
  }
}).meta({
  description:
    `Labels to filter and select jobs by: at most ${MAX_TAGS}, no duplicates, each 1-${MAX_TAG_LENGTH} lowercase letters, digits, '_', '.' or '-', starting with a letter or digit`,
  examples: [["billing", "nightly"]],
});

/** A job's concurrency key (concurrency.ts); null: none. */
const ConcurrencyKeySchema = z.string().refine((k) => keyProblem(k) === null, {
  error: (issue) =>
    `${JSON.stringify(String(issue.input))} ${keyProblem(String(issue.input))}`,
}).nullable().meta({
  description:
    "Runs of all jobs with this key share its limit (the concurrency limits, set by key): over it, a run waits `queued`. 1-64 lowercase letters, digits, '_', '.' or '-'; null: none",
  examples: ["backups"],
});

const fields = {
  name: z.string().trim().min(1, "must not be empty").max(200),
  description: z.string().max(MAX_DESCRIPTION_LENGTH).nullable().optional()
    .meta({
      description:
        `What the job is for, in the owner's words (shown on its page); at most ${MAX_DESCRIPTION_LENGTH} characters; null: none`,
      examples: ["Sends the nightly billing report to finance"],
    }),
  schedule: z.string().max(256).default(""),
  timezone: z.string().max(64).nullable().optional(),
  action: ActionSchema,
  timeoutMs: z.number().int().positive().max(7 * 86_400_000).nullable()
    .optional(),
  retries: z.number().int().min(0).max(100).default(0),
  retryDelayMs: z.number().int().min(0).max(86_400_000).default(1000),
  overlap: z.enum(["skip", "allow", "replace"]).default("skip"),
  catchUp: z.enum(["skip", "once"]).default("skip"),
  autoStart: z.boolean().default(true),
  tags: TagsSchema.default([]),
  notify: NotifySchema.default([]),
  onSuccess: chainField("success").default([]),
  onFailure: chainField("failure").default([]),
  concurrencyKey: ConcurrencyKeySchema.optional(),
};

/** A job's definition, as a client creates it. */
export const JobInputSchema = z.object({
  id: z.string().regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/,
    "must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit",
  ).optional(),
  ...fields,
}).strict();

/** An edit of a job's definition: any subset of the editable fields. */
export const JobPatchSchema = z.object({
  name: fields.name,
  description: fields.description,
  schedule: z.string().max(256),
  timezone: fields.timezone,
  action: ActionSchema,
  timeoutMs: fields.timeoutMs,
  retries: z.number().int().min(0).max(100),
  retryDelayMs: z.number().int().min(0).max(86_400_000),
  overlap: z.enum(["skip", "allow", "replace"]),
  catchUp: z.enum(["skip", "once"]),
  autoStart: z.boolean(),
  tags: TagsSchema,
  notify: NotifySchema,
  onSuccess: chainField("success"),
  onFailure: chainField("failure"),
  concurrencyKey: ConcurrencyKeySchema,
}).partial().strict();

export type Action = z.infer<typeof ActionSchema>;
export type HttpAction = z.infer<typeof HttpActionSchema>;
export type ShellAction = z.infer<typeof ShellActionSchema>;
export type FunctionAction = z.infer<typeof FunctionActionSchema>;
export type HeartbeatAction = z.infer<typeof HeartbeatActionSchema>;
export type JobInput = z.infer<typeof JobInputSchema>;
export type JobPatch = z.infer<typeof JobPatchSchema>;
export type JobType = "periodic" | "onetime";
export type Overlap = "skip" | "allow" | "replace";
export type CatchUp = "skip" | "once";

/** A job as the engine keeps and stores it. Times are epoch milliseconds. */
export interface Job {
  id: string;
  name: string;
  /** What the job is for, as its owner wrote it; absent or null: none. */
  description?: string | null;
  type: JobType;
  schedule: string;
  timezone: string | null;
  action: Action;
  timeoutMs: number | null;
  retries: number;
  retryDelayMs: number;
  overlap: Overlap;
  catchUp: CatchUp;
  autoStart: boolean;
  /** Distinct lowercase words (tags.ts); [] when none. */
  tags: string[];
  /** Alert rules (notify.ts); absent or [] when none. */
  notify?: NotifyRule[];
  /** Jobs to run when a run of it completes (chains.ts); absent or [] when none. */
  onSuccess?: string[];
  /** Jobs to run when a run of it fails on its last attempt; absent or [] when none. */
  onFailure?: string[];
  /** Runs of jobs with this key share its limit (concurrency.ts); absent or null: none. */
  concurrencyKey?: string | null;
  status: JobStatus;
  /** When the next run is due; for a periodic job, the tick it has claimed. */
  nextRunAt: number | null;
  createdAt: number;
  updatedAt: number;
  /**
   * The definition's version: 1 when created, one more at each operation
   * that writes the job; a write planned from an older one is refused.
   */
  version: number;
}

/** Run counters kept beside each job, for the list and the dashboard. */
export interface JobCounts {
  runs: number;
  successes: number;
  lastRun: RunSummary | null;
  /** When a run of it last succeeded (its end); absent or null: never, as far as the store knows. */
  lastSuccessAt?: number | null;
  /** When a run of it last failed (its end); absent or null: never. */
  lastFailureAt?: number | null;
  /** Ticks skipped because the previous run was still going (overlap "skip"); since start. */
  skipped: number;
  /** Ticks that could not be fired in time (the scheduler was late or its claim failed); since start. */
  missed: number;
}

/**
 * A job as the API shows it: its definition and status as the engine keeps
 * them (the version aside), ISO times, plus its last run and counts.
 */
export interface JobView extends
  Omit<
    Job,
    | "nextRunAt"
    | "createdAt"
    | "updatedAt"
    | "version"
    | "notify"
    | "onSuccess"
    | "onFailure"
  > {
  /** Alert rules (notify.ts); [] when none. */
  notify: NotifyRule[];
  /** Jobs run when a run of it completes (chains.ts); [] when none. */
  onSuccess: string[];
  /** Jobs run when a run of it fails on its last attempt; [] when none. */
  onFailure: string[];
  /** What the job is for, as its owner wrote it; null: none. */
  description: string | null;
  /** The schedule in English: "Every 15 seconds", "manual", "Once at ...". */
  scheduleText: string;
  /** The zone its schedule runs in: `timezone`, or the server's default (JOBPRO_TIMEZONE) when that is null. */
  effectiveTimezone: string;
  nextRunAt: string | null;
  lastRun: RunSummaryView | null;
  /** When a run last succeeded (ended complete); null: never. */
  lastSuccessAt: string | null;
  /** When a run last failed; null: never. */
  lastFailureAt: string | null;
  runCount: number;
  successCount: number;
  /** Runs going right now (a manual run can go while the job is paused or created), queued ones included. */
  activeRuns: number;
  /** Of those, the runs waiting `queued` for a concurrency slot. */
  queuedRuns: number;
  /** The concurrency key its runs share a limit under; null: none. */
  concurrencyKey: string | null;
  /** Ticks skipped since the server started because a run was still going. */
  skippedRuns: number;
  /** Ticks due since the server started that could not be fired in time (a frozen disk, an overloaded process). */
  missedRuns: number;
  /** Percent of finished runs that succeeded, or null before the first run. */
  successRate: number | null;
  createdAt: string;
  updatedAt: string;
}

/** A run summary with ISO times. */
export interface RunSummaryView {
  id: number;
  status: RunSummary["status"];
  trigger: RunSummary["trigger"];
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
  error: string | null;
}

/** ISO 8601 in UTC, or null. */
export function iso(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : isoString(ms);
}

/**
 * The API's view of a job and its counts.
 *
 * @example
 * ```ts
 * jobView(job, { runs: 0, successes: 0, lastRun: null }, "Every minute").nextRunAt;
 * ```
 */
export function jobView(
  job: Job,
  counts: JobCounts,
  scheduleText: string,
  activeRuns = 0,
  queuedRuns = 0,
): JobView {
  const last = counts.lastRun;
  const { version: _version, ...shown } = job;
  return {
    ...shown,
    action: redactAction(job.action),
    notify: redactNotify(job.notify ?? []),
    onSuccess: job.onSuccess ?? [],
    onFailure: job.onFailure ?? [],
    concurrencyKey: job.concurrencyKey ?? null,
    description: job.description ?? null,
    scheduleText,
    effectiveTimezone: effectiveZone(job),
    nextRunAt: iso(job.nextRunAt),
    lastRun: last && {
      id: last.id,
      status: last.status,
      trigger: last.trigger,
      startedAt: iso(last.startedAt)!,
      endedAt: iso(last.endedAt),
      durationMs: last.durationMs,
      error: last.error,
    },
    lastSuccessAt: iso(counts.lastSuccessAt),
    lastFailureAt: iso(counts.lastFailureAt),
    runCount: counts.runs,
    successCount: counts.successes,
    activeRuns,
    queuedRuns,
    skippedRuns: counts.skipped,
    missedRuns: counts.missed,
    successRate: counts.runs
      ? Math.round((counts.successes / counts.runs) * 1000) / 10
      : null,
    createdAt: iso(job.createdAt)!,
    updatedAt: iso(job.updatedAt)!,
  };
}

/**
 * Refuses text with a lone surrogate anywhere in a definition (keys
 * included): it cannot be stored as UTF-8, so what came back after a
 * restart would not be what was stored.
 *
 * @example
 * ```ts
 * checkWellFormed({ name: "a\ud800" }); // throws invalid "name"
 * ```
 */
export function checkWellFormed(value: unknown): void {
  const stack: [unknown, string][] = [[value, ""]];
  while (stack.length) {
    const [v, path] = stack.pop()!;
    if (typeof v === "string") {
      if (!v.isWellFormed()) {
        throw invalid(
          path || "body",
          "contains a lone surrogate (half of a UTF-16 pair), which cannot be stored as UTF-8",
        );
      }
    } else if (typeof v === "object" && v !== null) {
      for (const [k, child] of Object.entries(v)) {
        const at = path ? `${path}.${k}` : k;
        if (!k.isWellFormed()) stack.push([k, at]);
        stack.push([child, at]);
      }
    }
  }
}

/**
 * Turns the first schema issue into an engine error naming the field.
 *
 * @example
 * ```ts
 * const r = schema.safeParse(body);
 * if (!r.success) firstIssue(r.error);
 * ```
 */
export function firstIssue(error: z.ZodError, prefix = ""): never {
  const issue = error.issues[0];
  let path = [prefix, ...issue.path.map(String)].filter(Boolean).join(".");
  let message = issue.message;
  if (issue.code === "unrecognized_keys") {
    const key = issue.keys[0];
    path = [path, key].filter(Boolean).join(".");
    message = "is not a known field";
  } else if (
    (issue.code === "invalid_type" || issue.code === "invalid_value") &&
    issue.input === undefined
  ) {
    // Parsed with reportInput: undefined here is a value left out.
    message = "is required";
  }
  throw invalid(path || "body", message);
}

/**
 * Checks a job definition, filling defaults; throws `invalid` naming the field.
 *
 * @example
 * ```ts
 * parseJobInput({ name: "x", action: { type: "function", name: "noop" } }).retries; // 0
 * ```
 */
export function parseJobInput(body: unknown): JobInput {
  checkWellFormed(body);
  const r = JobInputSchema.safeParse(body, { reportInput: true });
  return r.success ? r.data : firstIssue(r.error);
}

/**
 * Checks a partial edit; throws `invalid` naming the field.
 *
 * @example
 * ```ts
 * parseJobPatch({ retries: 3 }); // { retries: 3 }
 * ```
 */
export function parseJobPatch(body: unknown): JobPatch {
  checkWellFormed(body);
  const r = JobPatchSchema.safeParse(body, { reportInput: true });
  return r.success ? r.data : firstIssue(r.error);
}
