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
import { JobproError } from "./errors.ts";
import type { Job, JobCounts } from "./job.ts";
import type { Run, RunStatus } from "./run.ts";
import type { JobStatus } from "./status.ts";
import type { Delivery, DeliveryOutcome } from "./notify.ts";
import type { RunOutput } from "./live_output.ts";
import type { ChainStart, ChainTrigger } from "./chains.ts";

/** A job as stored: its definition and state, its run counters, its version. */
export interface StoredJob {
  job: Job;
  counts: JobCounts;
  /** The epoch of the node that owns the job (a {@link Cluster}'s stores only); null: none. */
  owner?: number | null;
}

/** An operation's write of a job, conditional on the version it was planned from. */
export interface Put {
  /** The job's definition and state (its `version` is the one it will have). */
  job: Job;
  /** The stored version this was planned from; null to create (no such job may exist). */
  expected: number | null;
  /**
   * A {@link Cluster}'s stores only: the `next_run_at` this was planned
   * from. While fenced, an update applies only if the stored time is still
   * this (another node's claim may have moved it since), as well as the version.
   */
  expectedNext?: number | null;
  /** A {@link Cluster}'s stores only: the owner epoch a create gets (default none). */
  owner?: number | null;
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
  /**
   * The job's version the status was reached from: a fenced store applies
   * the change only while the stored version is still this (another node's
   * operation, a pause say, wins over a status computed before it).
   */
  version?: number;
}

/** What changed, as the event log keeps it: references, not copies. */
export type LoggedEvent =
  | { type: "job-update" | "job-deleted"; jobId: string }
  | { type: "run-started" | "run-finished"; jobId: string; runId: number }
  /**
   * A client asked that a run going be cancelled, by `by` (cancel.ts): the
   * node running it aborts it when it reads this. Stored with who asked in
   * its type text (see rows.ts `eventTypeText`).
   */
  | { type: "run-cancel"; jobId: string; runId: number; by: string }
  /**
   * A run going wrote output: its running row has the output so far
   * (live_output.ts); each node's watchers get the part they lack.
   */
  | { type: "run-output"; jobId: string; runId: number }
  /**
   * The concurrency limits changed (concurrency.ts): every node reads them
   * again. It names no job (its `jobId` is "").
   */
  | { type: "limits-update"; jobId: "" };

/** A key's limit and its runs now (store.ts {@link Store.concurrency}). */
export interface KeyUsage {
  key: string;
  limit: number;
  running: number;
  queued: number;
}

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
  /**
   * Alerts to send (notify.ts), written with the finishes that caused them:
   * an id already stored is kept as it is (one row per run, event and
   * target). Those of a job deleted in the same batch are dropped.
   */
  deliveries?: Delivery[];
  /**
   * Chain triggers (chains.ts), written with the finishes that caused them:
   * one row per (parent run, child job), a key already stored is kept as it
   * is. Those of a job deleted in the same batch (parent or child) are
   * dropped.
   */
  triggers?: ChainTrigger[];
  /**
   * Pending triggers consumed, each a compare-and-set (applied only while
   * the trigger is pending and, fenced, its job is this epoch's or gone);
   * a started run whose consumption did not apply is not recorded.
   */
  chained?: ChainStart[];
  /**
   * All or nothing (an apply of many jobs, apply.ts): every put and delete
   * must apply, or the batch throws a `conflict` ({@link NOT_ALL_APPLIED})
   * having changed nothing. The writer gives such an operation a batch of
   * its own.
   */
  atomic?: boolean;
  /**
   * The output so far of runs going (live_output.ts), written to their
   * running rows; a run no longer running is left as it is.
   */
  outputs?: RunOutput[];
}

/** What an all-or-nothing batch throws when one of its puts or deletes would not apply. */
export const NOT_ALL_APPLIED =
  "one of the batch's jobs was changed (or deleted) at the same time; nothing was written";

/**
 * Throws (`conflict`, {@link NOT_ALL_APPLIED}) when the batch is atomic and
 * some put or delete did not apply: the store's transaction then rolls back.
 */
export function requireAllApplied(
  batch: Batch,
  put: ReadonlySet<string>,
  deleted: ReadonlySet<string>,
): void {
  if (!batch.atomic) return;
  if (
    batch.puts.every((p) => put.has(p.job.id)) &&
    batch.deletes.every((d) => deleted.has(d.id))
  ) return;
  throw new JobproError("conflict", NOT_ALL_APPLIED);
}

/** What a batch did: per put, delete and claim whether it was applied. */
export interface Written {
  /** Per put: applied (false: the stored version was not the one expected). */
  puts: boolean[];
  /** Per delete: applied (false: gone already, or another version). */
  deletes: boolean[];
  /** Per claim: won (false: `next_run_at` was no longer the tick). */
  claims: boolean[];
  /**
   * Per started run: recorded (false, on a fenced store only: this node does
   * not own the job, so the run must not start). Absent: all were.
   */
  started?: boolean[];
  /** Per chained: consumed (false: not pending any more, or another node's). Absent: none asked. */
  chained?: boolean[];
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
    deliveries: [],
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

/** A compare-and-set of a job's owner. */
export interface OwnerMove {
  jobId: string;
  /** The owner epoch the job must still have (null: none). */
  from: number | null;
  /** The epoch it gets. */
  to: number;
}

/** What a {@link Cluster.reap} ended. */
export interface Reaped {
  /** The epochs whose leases it ended. */
  epochs: number[];
  /** Their running runs, now failed "interrupted" (counted on their jobs). */
  interrupted: Run[];
}

/** A block of run ids no other node hands out. */
export interface RunIds {
  first: number;
  count: number;
}

/**
 * The part of a store that several nodes share (PostgreSQL). Each node joins
 * the `nodes` table with a fresh epoch and a lease (lease.ts); the store
 * fences every write by that epoch, so a node that lost its lease (paused,
 * cut off) can never claim a tick or start a run another node took over.
 *
 * - While fenced by an epoch, a batch commits only if that epoch's lease is
 *   live by the database's clock when the batch runs, and the check holds
 *   the node's row (FOR SHARE) to the commit, so no reaper ends the lease
 *   in between; otherwise it throws an `unavailable` JobproError and
 *   changes nothing. Within it, claims, status changes and started runs
 *   apply only to jobs the epoch owns; started runs record the epoch, and a
 *   unique key on (job, trigger, scheduled_for, attempt) refuses a second
 *   run of one tick whatever else fails.
 * - Ownership moves only by {@link moveOwners}: from this epoch to a live
 *   one (a hand-off), or from none or an ended epoch to this one (a
 *   take-over).
 * - {@link reap} ends the leases that expired (or whose node's connection is
 *   gone), marks their running runs interrupted in a later statement of the
 *   same transaction (so a start that committed meanwhile is seen), and
 *   releases their jobs.
 */
export interface Cluster {
  /** The epoch that fences this store's writes from now on; null: every write is refused. */
  fence(epoch: number | null): void;
  /** Every job's owner epoch (null: none). */
  owners(): Promise<Map<string, number | null>>;
  /**
   * Moves owners by compare-and-set (fenced, see above), logging a
   * `job-update` event per job moved; per move, whether it applied.
   */
  moveOwners(moves: OwnerMove[]): Promise<boolean[]>;
  /** Ends every expired lease and what it held (see above). */
  reap(): Promise<Reaped>;
  /** A block of run ids for this node. */
  reserveRunIds(): Promise<RunIds>;
  /**
   * Calls `wake` whenever any node appends events (LISTEN/NOTIFY, carrying
   * no payload beyond the sequence number, which `wake` gets: the batch's
   * last), and after each (re)connection of the listening connection
   * (with none), so the caller reads what it missed; the returned function
   * stops listening.
   */
  follow(wake: (seq?: number) => void): Promise<() => Promise<void>>;
  /** These jobs as stored, with their owners; absent ids are left out. */
  jobsById(ids: readonly string[]): Promise<StoredJob[]>;
  /** These runs as stored, with the node that ran each; absent ids are left out. */
  runsById(ids: readonly number[]): Promise<Run[]>;
}

/** Where jobs, runs and events live. */
export interface Store {
  /** Present on a store several nodes share; see {@link Cluster}. */
  readonly cluster?: Cluster;
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
   * "interrupted", counted on their jobs; returns them. A ping's run (trigger
   * `ping`) goes on elsewhere and is left, while its job is a heartbeat job.
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
  /**
   * Claims up to `limit` pending deliveries due by `now` whose earlier claim
   * (if any) has lapsed: each is held until `now + holdMs` and counts one
   * more attempt. Two callers (two nodes) never claim the same delivery at
   * once (a row update, FOR UPDATE SKIP LOCKED where rows are shared).
   */
  claimDeliveries(
    now: number,
    limit: number,
    holdMs: number,
  ): Promise<Delivery[]>;
  /**
   * Records an attempt's outcome, and releases the claim, if the delivery is
   * still at that attempt (no one claimed it since); whether it applied.
   */
  settleDelivery(outcome: DeliveryOutcome): Promise<boolean>;
  /** A job's deliveries, newest first, at most `limit` (default 20). */
  listDeliveries(jobId: string, limit?: number): Promise<Delivery[]>;
  /**
   * When the job's last ping came, or null (heartbeat.ts reads it for its
   * checks): the newest start of a run recorded from a ping (trigger
   * `ping`, any status), or end of one a success or fail ping ended
   * (`PINGED_END` in run.ts; an expired start's end is no ping).
   */
  lastPing(jobId: string): Promise<number | null>;
  /** Chain triggers not yet consumed, oldest first, at most `limit` (default 1000). */
  pendingTriggers(limit?: number): Promise<ChainTrigger[]>;
  /**
   * Concurrency (concurrency.ts, queue.ts). A run recorded among a batch's
   * `started` with status `queued` waits: it is in flight (a restart finds
   * it with {@link queuedRuns}, neither {@link recoverInterrupted} nor a
   * cluster's reaper ends it), and only this moves it to `running`: per
   * run, in order, if it is still queued and its job has no key, or its
   * key has a free slot. A slot is free while the runs `running` of jobs
   * with that key, and the key's runs queued before this one (by
   * `startedAt`, then id: first come, first served, whichever node queued
   * them), are fewer than the key's stored limit (none: no limit). The
   * check and the start are one transaction, taken one key at a time (on a
   * store several nodes share, under a lock per key), so two nodes never
   * start more than the limit between them. A run moved gets the
   * `startedAt` given (its real start) and a `run-started` event; fenced
   * (a {@link Cluster}), only runs of jobs the epoch owns, recording the
   * epoch. Per run, whether it was moved; `firstSeq` numbers the first of
   * the events (one per run moved, in order).
   */
  startQueued(
    runs: Run[],
  ): Promise<{ started: boolean[]; firstSeq: number }>;
  /** The runs queued, of these jobs (all when absent), in the order they queued. */
  queuedRuns(jobIds?: readonly string[]): Promise<Run[]>;
  /** Every stored key's limit, with its runs running and queued now. */
  concurrency(): Promise<KeyUsage[]>;
  /**
   * Sets limits by key (null: removes the key's limit), logging a
   * `limits-update` event; with `onlyMissing`, only keys that have none
   * (the environment's defaults at start).
   */
  setLimits(
    limits: Record<string, number | null>,
    onlyMissing?: boolean,
  ): Promise<void>;
  /** Flushes and closes; the store is unusable afterwards. */
  close(): Promise<void>;
}
