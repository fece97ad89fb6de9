/**
 * The engine's state, explicit and typed: what the services (planner,
 * runner, recovery, cleaner, health) and the manager share, instead of the
 * `let`s of one closure. Each service is a set of functions over an
 * {@link EngineState}; none keeps state of its own outside it.
 *
 * A job lives in memory as an {@link Entry}: its row as committed (plus the
 * engine's own changes on their way to the store), its counters, its runs in
 * flight. The store is the truth; the entries are what plans and answers
 * reads.
 *
 * @module
 */
import type { Registry } from "../jobs/registry.ts";
import type { Clock } from "./clock.ts";
import { JobproError } from "./errors.ts";
import type { EventBus } from "./events.ts";
import type { Job, JobCounts, JobView } from "./job.ts";
import type { Limiter } from "./limiter.ts";
import type { NotifyRule } from "./notify.ts";
import type { Run } from "./run.ts";
import type { LiveOutput, RunOutput } from "./live_output.ts";
import type { Schedule } from "./schedule.ts";
import type { Cluster, Store } from "./store.ts";
import type { TimerQueue } from "./timer.ts";
import type { CommittedEvent, Writer } from "./writer.ts";
import type { RunQueue } from "./queue.ts";

/** Where the engine says what happened. */
export type Log = (level: "info" | "warn" | "error", message: string) => void;

/** Why a run was aborted; decides how it ends. */
export class Abort extends Error {
  constructor(readonly status: "failed" | "cancelled", message: string) {
    super(message);
  }
}

/** A run in flight. */
export interface Going {
  run: Run;
  /** Aborts the action; the run ends when it stops, or after a grace period. */
  cancel(reason: Abort): void;
  /** Resolves once the run has ended. */
  readonly done: Promise<void>;
  /** Its output so far, while its action runs (live_output.ts). */
  readonly output?: LiveOutput;
  /** Waiting for a concurrency slot (queue.ts): no action yet, not counted in `activeRuns`. */
  readonly queued?: boolean;
}

/** A job in memory. */
export interface Entry {
  job: Job;
  counts: JobCounts;
  running: Map<number, Going>;
  /** A retry waiting on the timer: its attempt number. */
  retryAttempt: number | null;
  /**
   * The operation being committed for this job, if any: the next one waits
   * for it, and so do its ticks, so each plans from committed state.
   */
  busy: Promise<void> | null;
  /** Since when ticks have been missed in a row (the episode logged once), or null. */
  missingSince: number | null;
  /** The job's last final outcome was a failure: its next success is a recovery (notify.ts). */
  failing: boolean;
  /** How many of `running` are queued (queue.ts). */
  queuedRuns: number;
  /** The last view made of it, and of what. */
  view?: {
    job: Job;
    counts: JobCounts;
    active: number;
    queued?: number;
    value: JobView;
  };
}

/** How the engine runs (what ManagerOptions resolve to). */
export interface Settings {
  functions: Registry;
  allowShell: boolean;
  /** How long a shell process gets between SIGTERM and SIGKILL. */
  killGraceMs: number;
  httpTimeoutMs?: number;
  shellEnv: Record<string, string>;
  retentionDays: number;
  maxRunsPerJob: number;
  healthCommitMs: number;
  /** Ids a job may not take (the web layer's route names). */
  reservedIds: ReadonlySet<string>;
  /**
   * A tick this much in the past still fires, late, instead of being passed
   * over (0 on a single node; about two leases in a cluster, so the ticks a
   * dead node left unstarted run on the node that takes its jobs over).
   */
  lateGraceMs: number;
  /** A run's live output is written at most this often (live_output.ts; default 250 ms). */
  outputIntervalMs?: number;
  /** Server-wide alert rules, for every job besides its own (JOBPRO_NOTIFY_URL). */
  notifyDefaults: NotifyRule[];
  /** The most runs going at once in this process (JOBPRO_MAX_CONCURRENT_RUNS); null: no cap. */
  maxConcurrentRuns: number | null;
}

/** A node of a cluster (a store several nodes share): what it owns and its lease. */
export interface NodeState {
  readonly store: Cluster;
  /** This node's name. */
  readonly name: string;
  /** The epoch of the lease held, or null while none is (nothing starts then). */
  epoch: number | null;
  /** The ids of the jobs this node owns (under `epoch`): only these are armed. */
  readonly owned: Set<string>;
  /** The live members at the last renewal, by epoch. */
  live: readonly { epoch: number; name: string }[];
  /** Run ids handed out from the current block, up to `runIdsEnd` (exclusive). */
  runIdsEnd: number;
  /** The next block, fetched ahead. */
  spareRunIds: { first: number; count: number } | null;
  /** The fetch of the next block in flight. */
  fetchingRunIds: Promise<void> | null;
  /** Stopping: it hands its jobs over and adopts none. */
  draining: boolean;
  /**
   * The events of this node's own committed batches, by sequence number,
   * until the follower passes them: it publishes them from here, without
   * reading them (or their runs) back (follower.ts).
   */
  readonly own: Map<number, OwnEvent>;
}

/** An event this node committed, with its run and, for `run-output`, the output written. */
export type OwnEvent = CommittedEvent & { output?: RunOutput };

/** A periodic schedule's next tick, memoized per (schedule, instant). */
export interface TickMemo {
  after: number;
  next: number | null;
  schedule: Schedule;
}

/** Everything the engine's parts share. */
export interface EngineState {
  readonly store: Store;
  readonly clock: Clock;
  readonly log: Log;
  readonly settings: Settings;
  readonly events: EventBus;
  readonly timers: TimerQueue;
  readonly writer: Writer;
  /** Caps the http actions holding an outbound connection. */
  readonly outbound: Limiter;
  /** Caps the shell actions running. */
  readonly processes: Limiter;
  /** What http actions fetch through (no idle connections kept). */
  readonly httpClient: Deno.HttpClient;
  /** Every job, in creation order. */
  readonly entries: Map<string, Entry>;
  /** Ids of creates being committed. */
  readonly creating: Set<string>;
  /** The planner's memo of next ticks, by schedule and zone. */
  readonly ticks: Map<string, TickMemo>;
  /** The next run id to hand out. */
  nextRunId: number;
  /** Set on a node of a cluster; null on a store one process holds. */
  node: NodeState | null;
  /** Runs going, across all jobs. */
  activeRuns: number;
  /**
   * Runs whose action waits to hear that their claim and start were
   * committed, by run id (oldest first), with when the wait began
   * (performance.now()): one waiting long means writes are stuck, or an
   * answer was lost (health.ts says so).
   */
  readonly awaitingStart: Map<number, { jobId: string; since: number }>;
  /** Set at shutdown: no new runs from then on. */
  closing: boolean;
  /** Writing to the store fails (since the last failure, until a commit or probe works). */
  writeFailing: boolean;
  lastWriteError: string;
  /** Runs waiting for a concurrency slot, and the limits by key (queue.ts). */
  readonly queue: RunQueue;
  /** Sends the alerts' outbox (notifier.ts); absent until started. */
  notifier?: { wake(): void; stop(): Promise<void> };
  /** Consumes the pending chain triggers (chainer.ts); absent until started. */
  chainer?: { wake(): void; stop(): Promise<void> };
}

/** Timer keys of retries: the job's id after this prefix. */
export const RETRY_KEY = "\u0000retry:";

/**
 * The job's entry, or a `not_found` error.
 *
 * @example
 * ```ts
 * const e = entryOf(state, "nightly");
 * ```
 */
export function entryOf(state: EngineState, id: string): Entry {
  const e = state.entries.get(id);
  if (!e) throw notFound(id);
  return e;
}

/** The error for a job id that does not exist. */
export function notFound(id: string): JobproError {
  return new JobproError("not_found", `no job with id "${id}"`);
}

/** A fresh entry for a job and its counters. */
export function newEntry(job: Job, counts: JobCounts): Entry {
  return {
    job,
    counts,
    running: new Map(),
    retryAttempt: null,
    busy: null,
    missingSince: null,
    failing: counts.lastRun?.status === "failed",
    queuedRuns: 0,
  };
}
