/**
 * The store contract: what the engine needs from the database it persists
 * through, and what each operation guarantees. `DuckDBStore`
 * (duckdb_store.ts) is the embedded default; a store shared by several
 * processes (PostgreSQL) implements the same contract, and one test suite
 * (tests/jobpro/store_contract.ts) checks every guarantee on each.
 *
 * The database is the truth. The engine keeps each job in memory to plan and
 * to answer reads fast, but it changes the database only in the ways below,
 * none of which writes a whole row from memory over a newer one:
 *
 * - **Operations** (what a client asked: create, edit, start, pause, delete,
 *   ...) write a job's definition and state *with a version*: a put planned
 *   from version 3 is applied only if the stored job is still at version 3
 *   (and makes it 4), so a stale write is refused, never applied over a newer
 *   one. A create expects no job with that id.
 * - **Tick claims** move a job's `next_run_at` by compare-and-set: a claim of
 *   (job, tick, next) succeeds only if `next_run_at` is still `tick`. Two
 *   claimants of one tick can never both win it.
 * - **Status changes** the engine makes itself (a run starts, a run ends) are
 *   written as they are; they never touch a job's definition.
 * - **Runs**: started runs are recorded (so a crash can mark them
 *   interrupted); finished runs are appended to the history, and the job's
 *   counters move by *deltas* (one more run, one more success), applied in
 *   the database.
 * - **Events**: every batch appends what it changed to an event log with
 *   increasing sequence numbers; any process can read the log by sequence.
 *
 * Everything in one {@link Batch} commits in one transaction, or nothing of
 * it does.
 *
 * @example
 * ```ts
 * const store: Store = await openDuckDBStore(":memory:");
 * const done = await store.write({ ...emptyBatch(), puts: [{ job, expected: null }] });
 * done.puts[0]; // true: created
 * ```
 * @module
 */
import type { Job, JobCounts } from "./job.ts";
import type { Run, RunStatus } from "./run.ts";
import type { JobStatus } from "./status.ts";

/** A job as stored: its definition and state, its run counters, its version. */
export interface StoredJob {
  job: Job;
  counts: JobCounts;
}

/** An operation's write of a job, conditional on the version it was planned from. */
export interface Put {
  /** The job's definition and state (its `version` is the one it will have). */
  job: Job;
  /** The stored version this was planned from; null to create (no such job may exist). */
  expected: number | null;
}

/** An operation's delete of a job and all its runs, conditional on its version. */
export interface Delete {
  id: string;
  expected: number;
}

/** A compare-and-set of a job's next run time. */
export interface Claim {
  jobId: string;
  /** What `next_run_at` must still be (the tick being claimed; null for none). */
  tick: number | null;
  /** What it becomes. */
  next: number | null;
}

/** A status change the engine made itself (a run started or ended). */
export interface StatusChange {
  jobId: string;
  status: JobStatus;
  updatedAt: number;
}

/** What changed, as the event log keeps it: references, not copies. */
export type LoggedEvent =
  | { type: "job-update" | "job-deleted"; jobId: string }
  | { type: "run-started" | "run-finished"; jobId: string; runId: number };

/** A logged event with its place in the log. */
export type StoredEvent = LoggedEvent & { seq: number; at: number };

/** One group commit: everything in it is committed together or not at all. */
export interface Batch {
  puts: Put[];
  deletes: Delete[];
  claims: Claim[];
  statuses: StatusChange[];
  /** Runs that are going: recorded so a crash can mark them interrupted. */
  started: Run[];
  /** Runs that ended: appended to the history; their jobs' counters move by deltas. */
  finished: Run[];
  /** Appended to the event log, in this order. */
  events: LoggedEvent[];
}

/** What a batch did: per put, delete and claim whether it was applied. */
export interface Written {
  /** Per put: applied (false: the stored version was not the one expected). */
  puts: boolean[];
  /** Per delete: applied (false: gone already, or another version). */
  deletes: boolean[];
  /** Per claim: won (false: `next_run_at` was no longer the tick). */
  claims: boolean[];
  /** The sequence number of the batch's first event (the rest follow it). */
  firstSeq: number;
}

/** A batch with nothing in it, to fill in. */
export function emptyBatch(): Batch {
  return {
    puts: [],
    deletes: [],
    claims: [],
    statuses: [],
    started: [],
    finished: [],
    events: [],
  };
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

/** Limits for pruning old runs and events. */
export interface PruneRule {
  /** Drop runs that started before this instant (epoch ms). */
  before: number;
  /** Keep at most this many runs per job. */
  maxPerJob: number;
  /** Keep at most this many events in the log. */
  maxEvents?: number;
  /** Rows deleted per transaction (default 50,000). */
  batchSize?: number;
  /** Stops between batches when aborted. */
  signal?: AbortSignal;
}

/** Where jobs, runs and events live. */
export interface Store {
  /** Every job with its committed state, counters and version, oldest first. */
  loadJobs(): Promise<StoredJob[]>;
  /** The highest run id ever stored, or 0. */
  maxRunId(): Promise<number>;
  /**
   * Commits a batch in one transaction (see the module comment for what each
   * part guarantees); throws, having changed nothing, when it cannot.
   */
  write(batch: Batch): Promise<Written>;
  /**
   * Runs left `running` by a process that died become `failed` with error
   * "interrupted", counted on their jobs; returns them.
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
  /** Deletes old runs (and events beyond the log's bound) by the rule; returns how many runs went. */
  prune(rule: PruneRule): Promise<number>;
  /**
   * The events after `seq`, oldest first, at most `limit`; null when the log
   * no longer reaches back to `seq` (the reader must start over).
   */
  eventsSince(seq: number, limit?: number): Promise<StoredEvent[] | null>;
  /** The sequence number of the newest event, or 0. */
  lastEventSeq(): Promise<number>;
  /** Resolves when the store answers a trivial query. */
  ping(): Promise<void>;
  /** Commits a tiny write: resolves once writing works (after a full disk is freed, say). */
  probe(): Promise<void>;
  /** Flushes and closes; the store is unusable afterwards. */
  close(): Promise<void>;
}
