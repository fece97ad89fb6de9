/**
 * The store the engine persists through. `DuckDBStore` (duckdb_store.ts) is the
 * embedded default; everything dialect-specific stays behind this interface so
 * a PostgreSQL store can follow.
 *
 * @example
 * ```ts
 * const store: Store = await openDuckDBStore(":memory:");
 * await store.write({ jobs: [job], deletedJobs: [], started: [], finished: [] });
 * ```
 * @module
 */
import type { Job, JobCounts } from "./job.ts";
import type { Run, RunStatus } from "./run.ts";

/** A job row: its definition and status, with its run counters. */
export interface StoredJob {
  job: Job;
  counts: JobCounts;
}

/** One group commit: everything in it is committed together or not at all. */
export interface Batch {
  /** Job rows to insert or replace. */
  jobs: StoredJob[];
  /** Jobs to delete, with all their runs. */
  deletedJobs: string[];
  /** Runs that are going: recorded so a crash can mark them interrupted. */
  started: Run[];
  /** Runs that ended: appended to the history, dropped from the going ones. */
  finished: Run[];
}

/** Filters and paging for a job's runs; newest first. */
export interface RunQuery {
  status?: RunStatus;
  offset?: number;
  limit?: number;
}

/** Aggregates over a job's finished runs, computed by the store. */
export interface JobStats {
  runs: number;
  /** Percent of runs that completed, or null with no runs. */
  successRate: number | null;
  avgDurationMs: number | null;
  p50DurationMs: number | null;
  p95DurationMs: number | null;
  lastRunAt: string | null;
  lastFailureAt: string | null;
}

/** Limits for pruning old runs. */
export interface PruneRule {
  /** Drop runs that started before this instant (epoch ms). */
  before: number;
  /** Keep at most this many runs per job. */
  maxPerJob: number;
  /** Rows deleted per transaction (default 50,000). */
  batchSize?: number;
  /** Stops between batches when aborted. */
  signal?: AbortSignal;
}

/** Where jobs and runs live. */
export interface Store {
  /** Every job with its last committed status and run counters, oldest first. */
  loadJobs(): Promise<StoredJob[]>;
  /** The highest run id ever stored, or 0. */
  maxRunId(): Promise<number>;
  /** Commits a batch in one transaction. */
  write(batch: Batch): Promise<void>;
  /**
   * Runs left `running` by a process that died become `failed` with error
   * "interrupted"; returns them.
   */
  recoverInterrupted(now: number): Promise<Run[]>;
  /** A job's runs, newest first, with the total that match. */
  listRuns(
    jobId: string,
    q?: RunQuery,
  ): Promise<{ runs: Run[]; total: number }>;
  /** One run of a job, with its output. */
  getRun(jobId: string, runId: number): Promise<Run | null>;
  /** Aggregates over a job's finished runs. */
  stats(jobId: string): Promise<JobStats>;
  /** Deletes old runs by the rule; returns how many went. */
  prune(rule: PruneRule): Promise<number>;
  /** Resolves when the store answers a trivial query. */
  ping(): Promise<void>;
  /** Commits a tiny write: resolves once writing works (after a full disk is freed, say). */
  probe(): Promise<void>;
  /** Flushes and closes; the store is unusable afterwards. */
  close(): Promise<void>;
}
