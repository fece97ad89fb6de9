/**
 * What every store shares between its rows and the engine's types: a jobs
 * row as a {@link StoredJob}, a runs row as a {@link Run}, an events row as
 * a {@link StoredEvent}, the stats row as {@link JobStats}, and the runs a
 * dead process left going as they end ({@link interrupted}). Each store's
 * SQL selects its columns under these names, times as epoch milliseconds
 * and numbers as doubles, so one conversion serves DuckDB and PostgreSQL.
 *
 * @example
 * ```ts
 * const run = toRun({ id: 7, job_id: "a", trigger: "manual", attempt: 1, started_at: 0, status: "running" });
 * const [ended] = interrupted([run], Date.now());
 * ended.error; // "interrupted"
 * ```
 * @module
 */
import type { Job } from "./job.ts";
import type { Delivery, NotifyRule } from "./notify.ts";
import type { Run } from "./run.ts";
import type { ChainTrigger } from "./chains.ts";
import { decodeLiveOutput } from "./live_output.ts";
import type { JobStats, LoggedEvent, StoredEvent, StoredJob } from "./store.ts";

/**
 * A result row by column name.
 *
 * @example
 * ```ts
 * const row: Row = { id: "a", version: 1 };
 * ```
 */
export type Row = Record<string, unknown>;

/**
 * Events a store's log keeps when a prune rule does not say.
 *
 * @example
 * ```ts
 * const keep = rule.maxEvents ?? DEFAULT_MAX_EVENTS;
 * ```
 */
export const DEFAULT_MAX_EVENTS = 100_000;

const num = (v: unknown) => v === null || v === undefined ? null : Number(v);
const str = (v: unknown) => v === null || v === undefined ? null : String(v);

/**
 * A row's tags: PostgreSQL sends its text[] as an array, DuckDB its JSON
 * text; a row from before tags (null) has none.
 */
function tagsOf(v: unknown): string[] {
  if (v === null || v === undefined) return [];
  return Array.isArray(v) ? v.map(String) : JSON.parse(String(v));
}

/** A row's alert rules: JSON text (a row from before alerts: none). */
function notifyOf(v: unknown): NotifyRule[] {
  if (v === null || v === undefined || v === "") return [];
  return typeof v === "string" ? JSON.parse(v) : v as NotifyRule[];
}

/**
 * A deliveries row as the engine's delivery.
 *
 * @example
 * ```ts
 * const d = toDelivery(row);
 * ```
 */
export function toDelivery(r: Row): Delivery {
  return {
    id: String(r.id),
    jobId: String(r.job_id),
    runId: num(r.run_id),
    event: String(r.event) as Delivery["event"],
    target: String(r.target),
    payload: String(r.payload),
    status: String(r.status) as Delivery["status"],
    attempts: Number(r.attempts),
    error: str(r.error),
    createdAt: Number(r.created_at),
    nextAttemptAt: Number(r.next_attempt_at),
    sentAt: num(r.sent_at),
  };
}

/**
 * A jobs row as the engine's job and counters (a row written before job
 * versions is at version 1); with an `owner_epoch` column, its owner too.
 *
 * @example
 * ```ts
 * const jobs = (await client.query(sql.loadJobs, [null, null, 100])).rows.map(toStoredJob);
 * ```
 */
export function toStoredJob(r: Row): StoredJob {
  return {
    job: {
      id: String(r.id),
      name: String(r.name),
      description: str(r.description),
      type: r.type as Job["type"],
      schedule: String(r.schedule),
      timezone: str(r.timezone),
      action: JSON.parse(String(r.action)),
      timeoutMs: num(r.timeout_ms),
      retries: Number(r.retries),
      retryDelayMs: Number(r.retry_delay_ms),
      overlap: r.overlap as Job["overlap"],
      catchUp: r.catch_up as Job["catchUp"],
      autoStart: Boolean(r.auto_start),
      tags: tagsOf(r.tags),
      notify: notifyOf(r.notify),
      onSuccess: tagsOf(r.on_success),
      onFailure: tagsOf(r.on_failure),
      concurrencyKey: str(r.concurrency_key),
      status: r.status as Job["status"],
      version: Number(r.version ?? 1),
      nextRunAt: num(r.next_run_at),
      createdAt: Number(r.created_at),
      updatedAt: Number(r.updated_at),
    },
    counts: {
      runs: Number(r.run_count),
      successes: Number(r.success_count),
      lastRun: r.last_run ? JSON.parse(String(r.last_run)) : null,
      lastSuccessAt: num(r.last_success_at),
      lastFailureAt: num(r.last_failure_at),
      skipped: 0,
      missed: 0,
    },
    ...("owner_epoch" in r ? { owner: num(r.owner_epoch) } : {}),
  };
}

/**
 * A runs row as a run (`output` null when the row has none); with a `node`
 * column (the name of the node that started it, or null), its node too.
 *
 * @example
 * ```ts
 * const run = toRun((await client.query(sql.getRun, ["a", 7])).rows[0]);
 * ```
 */
export function toRun(r: Row): Run {
  return {
    id: Number(r.id),
    jobId: String(r.job_id),
    trigger: r.trigger as Run["trigger"],
    attempt: Number(r.attempt),
    scheduledFor: num(r.scheduled_for),
    startedAt: Number(r.started_at),
    endedAt: num(r.ended_at),
    durationMs: num(r.duration_ms),
    status: r.status as Run["status"],
    message: str(r.message),
    error: str(r.error),
    ...outputOf(r),
    ...("node" in r ? { node: str(r.node) } : {}),
    ...(r.parent_run_id != null
      ? { parentJobId: str(r.parent_job_id), parentRunId: num(r.parent_run_id) }
      : {}),
  };
}

/**
 * A chain_triggers row as a pending trigger.
 *
 * @example
 * ```ts
 * const t = toChainTrigger(row);
 * ```
 */
export function toChainTrigger(r: Row): ChainTrigger {
  return {
    parentRunId: Number(r.parent_run_id),
    parentJobId: String(r.parent_job_id),
    jobId: String(r.job_id),
    on: String(r.outcome) as ChainTrigger["on"],
    createdAt: Number(r.created_at),
  };
}

/**
 * A runs row's output: a running row's is the output so far behind its
 * offset (live_output.ts), read back as both.
 */
function outputOf(r: Row): Pick<Run, "output" | "outputOffset"> {
  const output = str(r.output);
  if (r.status !== "running" || output === null) return { output };
  const live = decodeLiveOutput(output);
  return { output: live.text, outputOffset: live.offset };
}

/**
 * An events row as a stored event.
 *
 * @example
 * ```ts
 * toEvent({ seq: 1, at: 0, type: "job-update", job_id: "a", run_id: null }).seq; // 1
 * ```
 */
export function toEvent(r: Row): StoredEvent {
  const base = {
    seq: Number(r.seq),
    at: Number(r.at),
    jobId: String(r.job_id),
  };
  const text = String(r.type);
  if (text.startsWith(CANCEL_PREFIX)) {
    const by = text.slice(CANCEL_PREFIX.length);
    return { ...base, type: "run-cancel", runId: Number(r.run_id), by };
  }
  if (text === "limits-update") return { ...base, type: text, jobId: "" };
  return text === "run-started" || text === "run-finished" ||
      text === "run-output"
    ? { ...base, type: text, runId: Number(r.run_id) }
    : { ...base, type: text as "job-update" | "job-deleted" };
}

const CANCEL_PREFIX = "run-cancel:";

/**
 * The text an event's type is stored as. The log has no column for who
 * asked a run to be cancelled, so a `run-cancel` carries it in its type
 * (`run-cancel:api`); {@link toEvent} reads it back. A reader that knows no
 * such type passes over it.
 *
 * @example
 * ```ts
 * eventTypeText({ type: "run-cancel", jobId: "a", runId: 7, by: "api" }); // "run-cancel:api"
 * ```
 */
export function eventTypeText(e: LoggedEvent): string {
  return e.type === "run-cancel" ? CANCEL_PREFIX + e.by : e.type;
}

/**
 * The stats row (`runs`, `success_rate`, `avg_ms`, `p50`, `p95`,
 * `last_run`, `last_failure`) as the engine's stats: one decimal, ISO times.
 *
 * @example
 * ```ts
 * const stats = toStats((await client.query(sql.stats, ["a"])).rows[0]);
 * ```
 */
export function toStats(r: Row): JobStats {
  const round = (v: unknown) =>
    v === null || v === undefined ? null : Math.round(Number(v) * 10) / 10;
  const isoOf = (v: unknown) =>
    v === null || v === undefined ? null : new Date(Number(v)).toISOString();
  return {
    runs: Number(r.runs),
    successRate: round(r.success_rate),
    avgDurationMs: round(r.avg_ms),
    p50DurationMs: round(r.p50),
    p95DurationMs: round(r.p95),
    lastRunAt: isoOf(r.last_run),
    lastFailureAt: isoOf(r.last_failure),
  };
}

/**
 * Runs a process left `running` when it died, as they end now: `failed`
 * with error "interrupted" (never run again), ended no earlier than they
 * started.
 *
 * @example
 * ```ts
 * const ended = interrupted(left, Date.now());
 * await store.write({ ...emptyBatch(), finished: ended });
 * ```
 */
export function interrupted(runs: Run[], now: number): Run[] {
  return runs.map(({ outputOffset, ...r }) => ({
    ...r,
    status: "failed" as const,
    error: "interrupted",
    // The output so far, cut as a finished run's is (run.ts `tail`).
    output: outputOffset && r.output !== null
      ? "…" + r.output.slice(1)
      : r.output,
    endedAt: Math.max(now, r.startedAt),
    durationMs: Math.max(0, now - r.startedAt),
  }));
}
