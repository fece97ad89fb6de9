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
import { z } from "zod";
import { invalid } from "./errors.ts";
import type { JobStatus } from "./status.ts";
import type { RunSummary } from "./run.ts";

/** `GET`/`POST`/... a URL; a status outside `expectStatus` (default 2xx) fails the run. */
export const HttpActionSchema = z.object({
  type: z.literal("http"),
  url: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }),
  method: z.enum(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]).default(
    "GET",
  ),
  headers: z.record(z.string(), z.string()).optional(),
  body: z.string().max(1_000_000).optional(),
  expectStatus: z.number().int().min(100).max(599).optional(),
}).strict();

/** Runs a program (argv, no shell parsing); a non-zero exit fails the run. */
export const ShellActionSchema = z.object({
  type: z.literal("shell"),
  command: z.array(z.string()).min(1, "needs at least the program name"),
  cwd: z.string().optional(),
  env: z.record(z.string(), z.string()).optional(),
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

/** What a run does. */
export const ActionSchema = z.discriminatedUnion("type", [
  HttpActionSchema,
  ShellActionSchema,
  FunctionActionSchema,
]);

/**
 * Ids that would collide with a route under /jobs (`/jobs/events`, the seed's
 * aliases such as `/jobs/start/:id`, ...).
 */
export const RESERVED_IDS = new Set([
  "events",
  "schedule",
  "openapi.json",
  "start",
  "stop",
  "pause",
  "resume",
  "run-now",
  "reschedule",
  "results",
  "history",
  "update-notify",
  "get-table-rows",
  "login",
  "logout",
  "new",
]);

const fields = {
  name: z.string().trim().min(1, "must not be empty").max(200),
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
};

/** The body of `POST /jobs`. */
export const JobInputSchema = z.object({
  id: z.string().regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/,
    "must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit",
  ).refine((id) => !RESERVED_IDS.has(id.toLowerCase()), {
    error: (issue) =>
      `"${issue.input}" is reserved for a route under /jobs; choose another id`,
  }).optional(),
  ...fields,
}).strict();

/** The body of `PATCH /jobs/:id`: any subset of the editable fields. */
export const JobPatchSchema = z.object({
  name: fields.name,
  schedule: z.string().max(256),
  timezone: fields.timezone,
  action: ActionSchema,
  timeoutMs: fields.timeoutMs,
  retries: z.number().int().min(0).max(100),
  retryDelayMs: z.number().int().min(0).max(86_400_000),
  overlap: z.enum(["skip", "allow", "replace"]),
  catchUp: z.enum(["skip", "once"]),
  autoStart: z.boolean(),
}).partial().strict();

export type Action = z.infer<typeof ActionSchema>;
export type HttpAction = z.infer<typeof HttpActionSchema>;
export type ShellAction = z.infer<typeof ShellActionSchema>;
export type FunctionAction = z.infer<typeof FunctionActionSchema>;
export type JobInput = z.infer<typeof JobInputSchema>;
export type JobPatch = z.infer<typeof JobPatchSchema>;
export type JobType = "periodic" | "onetime";
export type Overlap = "skip" | "allow" | "replace";
export type CatchUp = "skip" | "once";

/** A job as the engine keeps and stores it. Times are epoch milliseconds. */
export interface Job {
  id: string;
  name: string;
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
  status: JobStatus;
  /** When the next run is due; for a periodic job, the tick it has claimed. */
  nextRunAt: number | null;
  createdAt: number;
  updatedAt: number;
}

/** Run counters kept beside each job, for the list and the dashboard. */
export interface JobCounts {
  runs: number;
  successes: number;
  lastRun: RunSummary | null;
  /** Ticks skipped because the previous run was still going (overlap "skip"); since start. */
  skipped: number;
}

/** A job as the API shows it: ISO times, plus its last run and counts. */
export interface JobView {
  id: string;
  name: string;
  type: JobType;
  schedule: string;
  /** The schedule in English: "Every 15 seconds", "manual", "Once at ...". */
  description: string;
  timezone: string | null;
  action: Action;
  timeoutMs: number | null;
  retries: number;
  retryDelayMs: number;
  overlap: Overlap;
  catchUp: CatchUp;
  autoStart: boolean;
  status: JobStatus;
  nextRunAt: string | null;
  lastRun: RunSummaryView | null;
  runCount: number;
  successCount: number;
  /** Runs going right now (a manual run can go while the job is paused or created). */
  activeRuns: number;
  /** Ticks skipped since the server started because a run was still going. */
  skippedRuns: number;
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

/** Header names whose values are secrets: never shown back, only used. */
const SECRET_HEADER =
  /authorization|cookie|token|secret|password|api-?key|(^|-)key$/i;

/** What a secret header value reads as in every view. */
export const REDACTED = "[redacted]";

/**
 * The action as views show it: the values of secret-looking headers
 * (Authorization, Cookie, *token*, *key*, ...) replaced by {@link REDACTED}.
 *
 * @example
 * ```ts
 * redactAction({ type: "http", url: "http://x", method: "GET", headers: { Authorization: "Bearer t" } });
 * // headers: { Authorization: "[redacted]" }
 * ```
 */
export function redactAction(action: Action): Action {
  if (action.type !== "http" || !action.headers) return action;
  const headers = Object.fromEntries(
    Object.entries(action.headers).map((
      [k, v],
    ) => [k, SECRET_HEADER.test(k) ? REDACTED : v]),
  );
  return { ...action, headers };
}

/**
 * An edited action with every {@link REDACTED} header value taken back from
 * the current action, so a view can be edited and saved without losing secrets.
 *
 * @example
 * ```ts
 * keepSecrets({ ...edited }, current);
 * ```
 */
export function keepSecrets(next: Action, prev: Action): Action {
  if (next.type !== "http" || !next.headers || prev.type !== "http") {
    return next;
  }
  const old = prev.headers ?? {};
  const headers = Object.fromEntries(
    Object.entries(next.headers).map((
      [k, v],
    ) => [k, v === REDACTED && k in old ? old[k] : v]),
  );
  return { ...next, headers };
}

/**
 * Run output with the action's secret header values blanked out (an endpoint
 * that echoes its request would otherwise show them).
 *
 * @example
 * ```ts
 * redactOutput('{"authorization":"Bearer t"}', action); // '{"authorization":"[redacted]"}'
 * ```
 */
export function redactOutput(
  output: string | null,
  action: Action,
): string | null {
  if (output === null || action.type !== "http" || !action.headers) {
    return output;
  }
  let text = output;
  for (const [k, v] of Object.entries(action.headers)) {
    if (!SECRET_HEADER.test(k) || v.length < 4) continue;
    text = text.split(v).join(REDACTED);
    const bare = v.replace(/^(bearer|basic|token)\s+/i, "");
    if (bare !== v && bare.length >= 4) text = text.split(bare).join(REDACTED);
  }
  return text;
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
  description: string,
  activeRuns = 0,
): JobView {
  const last = counts.lastRun;
  return {
    ...job,
    action: redactAction(job.action),
    description,
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
    runCount: counts.runs,
    successCount: counts.successes,
    activeRuns,
    skippedRuns: counts.skipped,
    successRate: counts.runs
      ? Math.round((counts.successes / counts.runs) * 1000) / 10
      : null,
    createdAt: iso(job.createdAt)!,
    updatedAt: iso(job.updatedAt)!,
  };
}

/** Turns the first schema issue into an engine error naming the field. */
function firstIssue(error: z.ZodError, prefix = ""): never {
  const issue = error.issues[0];
  let path = [prefix, ...issue.path.map(String)].filter(Boolean).join(".");
  let message = issue.message;
  if (issue.code === "unrecognized_keys") {
    const key = issue.keys[0];
    path = [path, key].filter(Boolean).join(".");
    message = "is not a known field";
  } else if (issue.code === "invalid_type" && issue.input === undefined) {
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
  const r = JobInputSchema.safeParse(body);
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
  const r = JobPatchSchema.safeParse(body);
  return r.success ? r.data : firstIssue(r.error);
}
