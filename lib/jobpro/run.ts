/**
 * A run: one attempt at doing a job's action, and what came of it.
 *
 * @example
 * ```ts
 * const r: Run = newRun({ id: 1, jobId: "a", trigger: "manual", attempt: 1, scheduledFor: null, now: Date.now() });
 * ```
 * @module
 */
import { isoString } from "./iso.ts";
import type { RunStatus } from "./status.ts";

/** Why a run happened. */
export type Trigger =
  | "schedule"
  | "manual"
  | "retry"
  | "startup"
  | "chain"
  /** Recorded from a heartbeat job's ping (ping.ts), not run here. */
  | "ping";
export type { RunStatus };

/** A run as the engine keeps and stores it; times are epoch milliseconds. */
export interface Run {
  id: number;
  jobId: string;
  trigger: Trigger;
  attempt: number;
  /** The tick or retry time it was due at; null for a manual run. */
  scheduledFor: number | null;
  startedAt: number;
  endedAt: number | null;
  durationMs: number | null;
  status: RunStatus;
  message: string | null;
  error: string | null;
  /** The captured tail of the action's output (response body, stdout/stderr). */
  output: string | null;
  /**
   * While it is going: where `output` (the output so far) starts in all the
   * run wrote, so how much was dropped before it (live_output.ts).
   */
  outputOffset?: number;
  /** The name of the node that ran it (a cluster's runs only). */
  node?: string | null;
  /** A chained run (trigger "chain"): the job and run whose end started it (chains.ts). */
  parentJobId?: string | null;
  parentRunId?: number | null;
}

/** The fields of a run that its summary keeps, in the order it keeps them. */
const SUMMARY_FIELDS = [
  "id",
  "status",
  "attempt",
  "trigger",
  "startedAt",
  "endedAt",
  "durationMs",
  "error",
] as const satisfies readonly (keyof Run)[];

/** What the job list shows of a job's last run. */
export type RunSummary = Pick<Run, (typeof SUMMARY_FIELDS)[number]>;

/** A run as the API shows it (ISO times). */
export interface RunView {
  id: number;
  jobId: string;
  trigger: Trigger;
  attempt: number;
  scheduledFor: string | null;
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
  status: RunStatus;
  message: string | null;
  error: string | null;
  /** The name of the node that ran it: only on a cluster's runs (absent otherwise). */
  node?: string;
  /** A chained run: the job and run whose end started it; null otherwise. */
  parentJobId: string | null;
  parentRunId: number | null;
  output?: string | null;
  /**
   * A run going, read with its output: where `output` (the output so far)
   * starts in all it wrote; characters before it were dropped. The next
   * `run-output` event continues from `outputOffset + output.length`.
   */
  outputOffset?: number;
}

/** Output kept per run, at most (bytes of UTF-16, roughly characters). */
export const MAX_OUTPUT_CHARS = 64 * 1024;

/** How the error of a run a fail ping ended begins (ping.ts). */
export const PING_FAILURE = "failure reported by ping";

/**
 * SQL true of a ping-recorded run whose end came with a ping (a success
 * ping completes it, a fail ping fails it with {@link PING_FAILURE}), not
 * with its deadline: the stores' `lastPing` counts its `ended_at`.
 */
export const PINGED_END =
  `(status = 'complete' OR error LIKE '${PING_FAILURE}%')`;

/**
 * A fresh run in status `running`.
 *
 * @example
 * ```ts
 * newRun({ id: 7, jobId: "a", trigger: "schedule", attempt: 1, scheduledFor: 0, now: 5 }).status; // "running"
 * ```
 */
export function newRun(
  r: {
    id: number;
    jobId: string;
    trigger: Trigger;
    attempt: number;
    scheduledFor: number | null;
    now: number;
  },
): Run {
  return {
    id: r.id,
    jobId: r.jobId,
    trigger: r.trigger,
    attempt: r.attempt,
    scheduledFor: r.scheduledFor,
    startedAt: r.now,
    endedAt: null,
    durationMs: null,
    status: "running",
    message: null,
    error: null,
    output: null,
  };
}

/**
 * The run ended: returns the finished copy.
 *
 * @example
 * ```ts
 * endRun(run, { status: "complete", message: "ok" }, Date.now());
 * ```
 */
export function endRun(
  run: Run,
  result: {
    status: Exclude<RunStatus, "running" | "queued">;
    message?: string | null;
    error?: string | null;
    output?: string | null;
  },
  now: number,
): Run {
  return {
    ...run,
    status: result.status,
    message: result.message ?? null,
    error: result.error ?? null,
    output: tail(result.output ?? null),
    endedAt: now,
    durationMs: Math.max(0, now - run.startedAt),
  };
}

/** Keeps the last {@link MAX_OUTPUT_CHARS} characters of `text`. */
export function tail(
  text: string | null,
  max = MAX_OUTPUT_CHARS,
): string | null {
  if (text === null || text.length <= max) return text;
  return "…" + text.slice(text.length - max + 1);
}

/** The summary the job list keeps. */
export function summarize(run: Run): RunSummary {
  const summary: Partial<Record<keyof RunSummary, unknown>> = {};
  for (const field of SUMMARY_FIELDS) summary[field] = run[field];
  return summary as RunSummary;
}

const isoOrNull = (ms: number | null) => ms === null ? null : isoString(ms);

/**
 * The API's view of a run; `node` only when a node of a cluster ran it,
 * `output` only when asked for.
 *
 * @example
 * ```ts
 * runView(run, { withOutput: true }).startedAt; // "2024-..."
 * ```
 */
export function runView(
  run: Run,
  opts: { withOutput?: boolean } = {},
): RunView {
  const view: RunView = {
    id: run.id,
    jobId: run.jobId,
    trigger: run.trigger,
    attempt: run.attempt,
    scheduledFor: isoOrNull(run.scheduledFor),
    startedAt: isoString(run.startedAt),
    endedAt: isoOrNull(run.endedAt),
    durationMs: run.durationMs,
    status: run.status,
    message: run.message,
    error: run.error,
    parentJobId: run.parentJobId ?? null,
    parentRunId: run.parentRunId ?? null,
  };
  if (typeof run.node === "string") view.node = run.node;
  if (opts.withOutput) view.output = run.output;
  if (opts.withOutput && run.status === "running") {
    view.outputOffset = run.outputOffset ?? 0;
  }
  return view;
}
