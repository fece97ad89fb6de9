/**
 * The engine put together: the {@link EngineState} every service shares,
 * built from the manager's options, with its timers, its writer and its
 * health service wired to the services that answer them. Committed events
 * go out from here, with the views and runs as they are once committed.
 *
 * @example
 * ```ts
 * const { state, health } = await assemble({ store });
 * ```
 * @module
 */
import { defaultRegistry, type Registry } from "../jobs/mod.ts";
import { shellEnvironment } from "./actions.ts";
import { type Clock, systemClock } from "./clock.ts";
import { createEventBus } from "./events.ts";
import { createHealth } from "./health.ts";
import { createLimiter } from "./limiter.ts";
import type { Limits } from "./concurrency.ts";
import { createQueue } from "./queue.ts";
import type { NotifyRule } from "./notify.ts";
import type { NotifierOptions } from "./notifier.ts";
import { keepOwn } from "./follower.ts";
import { onDue } from "./planner.ts";
import { onStartDeadline, PING_KEY } from "./ping.ts";
import { onRetry } from "./runner.ts";
import { publishLogged } from "./publish.ts";
import { type EngineState, type Log, RETRY_KEY } from "./state.ts";
import type { Store } from "./store.ts";
import { escapeControl } from "./text.ts";
import type { NodeLease } from "./lease.ts";
import { createTimerQueue } from "./timer.ts";
import { setDefaultZone } from "./default_zone.ts";
import { type Committed, createWriter } from "./writer.ts";

/** How the manager is set up. */
export interface ManagerOptions {
  store: Store;
  clock?: Clock;
  functions?: Registry;
  allowShell?: boolean;
  /** Group-commit window for run results. */
  commitIntervalMs?: number;
  /** Runs older than this many days are pruned (default 7). */
  retentionDays?: number;
  /** At most this many runs are kept per job (default 1000). */
  maxRunsPerJob?: number;
  /** How long a shell process gets between SIGTERM and SIGKILL. */
  killGraceMs?: number;
  /** Health says unavailable once a commit has been pending this long (default 5 s). */
  healthCommitMs?: number;
  /** http actions going at once, at most (default 256); more wait their turn. */
  httpMaxConcurrent?: number;
  /** shell actions going at once, at most (default 64); more wait their turn. */
  shellMaxConcurrent?: number;
  /** An http action's request is abandoned after this (default 5 minutes). */
  httpTimeoutMs?: number;
  /** What shell actions start from (default: PATH, HOME, LANG, TZ of this process). */
  shellEnv?: Record<string, string>;
  /** Ids a job may not take (names the web layer routes under its jobs). */
  reservedIds?: Iterable<string>;
  /**
   * This node's lease, on a store several nodes share (`store.cluster`):
   * the engine then runs as one node of a cluster (cluster_node.ts), on the
   * database's clock.
   */
  lease?: NodeLease;
  /** Alerts: server-wide rules and how the outbox is sent (notifier.ts). */
  notify?: NotifierOptions & { defaults?: NotifyRule[] };
  /** The most runs going at once in this process (JOBPRO_MAX_CONCURRENT_RUNS; default none): more wait, queued. */
  maxConcurrentRuns?: number | null;
  /** Concurrency limits by key written at start for keys that have none stored (JOBPRO_CONCURRENCY). */
  concurrency?: Limits;
  /** A run's live output is written (and sent) at most this often, ms (default 250). */
  outputIntervalMs?: number;
  /**
   * The IANA zone jobs without their own are scheduled in (JOBPRO_TIMEZONE,
   * default "UTC"); the process's (default_zone.ts), set at assembly.
   */
  timezone?: string;
  log?: Log;
}

const defaultLog: Log = (level, msg) =>
  // One line per message whatever a job's name or error holds.
  (level === "error" ? console.error : console.log)(
    `[jobpro] ${level}: ${escapeControl(msg)}`,
  );

/** The state every part of the engine shares, from the options, with its health service. */
export async function assemble(opts: ManagerOptions) {
  setDefaultZone(opts.timezone ?? "UTC"); // before any job is restored
  const store = opts.store;
  const allowShell = opts.allowShell ?? false;
  const lease = store.cluster && opts.lease;
  const state = {
    store,
    clock: opts.clock ?? (lease ? { now: () => lease.dbNow() } : systemClock),
    log: opts.log ?? defaultLog,
    settings: {
      functions: opts.functions ?? defaultRegistry(),
      allowShell,
      killGraceMs: opts.killGraceMs ?? 5000,
      httpTimeoutMs: opts.httpTimeoutMs,
      shellEnv: opts.shellEnv ??
        (allowShell ? shellEnvironment(Deno.env.toObject()) : {}),
      retentionDays: opts.retentionDays ?? 7,
      maxRunsPerJob: opts.maxRunsPerJob ?? 1000,
      healthCommitMs: opts.healthCommitMs ?? 5000,
      reservedIds: new Set(
        [...(opts.reservedIds ?? [])].map((s) => s.toLowerCase()),
      ),
      lateGraceMs: lease ? 2 * lease.leaseMs : 0,
      outputIntervalMs: opts.outputIntervalMs,
      maxConcurrentRuns: opts.maxConcurrentRuns ?? null,
      notifyDefaults: opts.notify?.defaults ?? [],
    },
    events: createEventBus({ lastId: await store.lastEventSeq() }),
    outbound: createLimiter(opts.httpMaxConcurrent ?? 256),
    processes: createLimiter(opts.shellMaxConcurrent ?? 64),
    httpClient: Deno.createHttpClient({ poolMaxIdlePerHost: 0 }),
    entries: new Map(),
    queue: createQueue(),
    creating: new Set(),
    ticks: new Map(),
    nextRunId: 1,
    node: lease && store.cluster
      ? {
        store: store.cluster,
        name: lease.name,
        epoch: null,
        owned: new Set(),
        live: [],
        runIdsEnd: 0,
        spareRunIds: null,
        fetchingRunIds: null,
        draining: false,
        own: new Map(),
      }
      : null,
    activeRuns: 0,
    awaitingStart: new Map(),
    closing: false,
    writeFailing: false,
    lastWriteError: "",
  } as Omit<EngineState, "timers" | "writer"> as EngineState;
  const health = createHealth(state);
  // One callback for every timer (no closure per job): a job's next tick is
  // keyed by its id, a retry by RETRY_KEY + id.
  const timers = createTimerQueue((key, at) => {
    if (key.startsWith(RETRY_KEY)) {
      onRetry(state, key.slice(RETRY_KEY.length), at);
    } else if (key.startsWith(PING_KEY)) {
      onStartDeadline(state, key.slice(PING_KEY.length));
    } else void onDue(state, key, at);
  }, state.clock);
  const writer = createWriter({
    store,
    statusOf: (id) => {
      const e = state.entries.get(id);
      return e &&
        {
          jobId: id,
          status: e.job.status,
          updatedAt: e.job.updatedAt,
          version: e.job.version,
        };
    },
    intervalMs: opts.commitIntervalMs ?? 50,
    onCommit: (c) => {
      health.writeWorked();
      if (c.deliveries) state.notifier?.wake();
      if (c.triggers) state.chainer?.wake();
      // A node of a cluster publishes every node's events from the log, in
      // its order (follower.ts); this one's are among them, kept for it.
      if (state.node) keepOwn(state.node, c);
      else publish(state, c);
    },
    onError: (e) => health.writeFailed(e),
  });
  Object.assign(state, { timers, writer });
  return { state, health };
}

/** A committed batch's events, with the views and runs as they are now. */
function publish(state: EngineState, c: Committed) {
  for (const e of c.events) {
    const output = e.type === "run-output"
      ? c.outputs?.find((o) => o.runId === e.runId)
      : undefined;
    publishLogged(state, e, e.run, output);
  }
}
