/**
 * The manager: the engine's facade. It validates what it is asked, applies
 * the status table (status.ts) and delegates — to the operations
 * (operations.ts) for changes, the planner, runner, recovery, cleaner and
 * health services for the rest — all sharing one {@link EngineState}.
 * Events go out only once what they tell of is committed.
 *
 * @example
 * ```ts
 * const manager = await createManager({ store: await openDuckDBStore(":memory:") });
 * const job = await manager.create({
 *   name: "tick", schedule: "* * * * * *", action: { type: "function", name: "noop" },
 * });
 * await manager.shutdown();
 * ```
 * @module
 */
import { defaultRegistry, type Registry } from "../jobs/mod.ts";
import { checkAction, shellEnvironment } from "./actions.ts";
import { type Cleaner, startCleaner } from "./cleaner.ts";
import { type Clock, systemClock } from "./clock.ts";
import { invalid, JobproError } from "./errors.ts";
import { createEventBus, type Delivered, type EventBus } from "./events.ts";
import { createHealth, type Health, type HealthService } from "./health.ts";
import {
  type Job,
  type JobInput,
  type JobPatch,
  type JobType,
  type JobView,
  parseJobInput,
  parseJobPatch,
} from "./job.ts";
import { type JobQuery, listJobs } from "./job_list.ts";
import { createLimiter } from "./limiter.ts";
import {
  type Change,
  changeJob,
  createJob,
  deleteJob,
  runJobNow,
} from "./operations.ts";
import { disarm, onDue, planned } from "./planner.ts";
import { recover } from "./recovery.ts";
import { type RunView, runView } from "./run.ts";
import { abortRuns, onRetry } from "./runner.ts";
import { isPeriodic, scheduleZone } from "./schedule.ts";
import { keepSecrets, redactAction } from "./secrets.ts";
import {
  Abort,
  type EngineState,
  type Entry,
  entryOf,
  type Log,
  RETRY_KEY,
} from "./state.ts";
import { isArmed, transition } from "./status.ts";
import type { JobStats, RunQuery, Store } from "./store.ts";
import { escapeControl } from "./text.ts";
import { createTimerQueue } from "./timer.ts";
import { scheduleOf, viewOf } from "./views.ts";
import { type Committed, createWriter } from "./writer.ts";

export type { JobQuery } from "./job_list.ts";

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
  log?: Log;
}

/** The engine's API. */
export interface Manager {
  create(input: unknown): Promise<JobView>;
  get(id: string): JobView;
  list(q?: JobQuery): { jobs: JobView[]; total: number };
  update(id: string, patch: unknown): Promise<JobView>;
  start(id: string): Promise<JobView>;
  stop(id: string): Promise<JobView>;
  pause(id: string): Promise<JobView>;
  resume(id: string): Promise<JobView>;
  reschedule(id: string, schedule: string): Promise<JobView>;
  /** Starts a run now, outside the schedule; resolves with it once its start is committed. */
  runNow(id: string): Promise<RunView>;
  delete(id: string): Promise<void>;
  runs(id: string, q?: RunQuery): Promise<{ runs: RunView[]; total: number }>;
  /** One run with its output (stored with the action's secret values blanked out). */
  run(id: string, runId: number): Promise<RunView>;
  /** The view with its action in clear (for callers allowed to see secrets); the same object when nothing is hidden. */
  revealed(view: JobView): JobView;
  stats(id: string): Promise<JobStats>;
  /** Upserts a definition by id (job sources); keeps runtime status. */
  upsert(input: JobInput & { id: string }): Promise<JobView>;
  /** Every event after the change is committed. */
  readonly events: EventBus;
  /** Whether the store answers, writes go through and the scheduler runs; why not, when not. */
  health(): Promise<Health>;
  /**
   * Stops scheduling, lets running runs finish for up to `graceMs`, aborts
   * the rest (they end cancelled), flushes and closes the store.
   */
  shutdown(opts?: { graceMs?: number }): Promise<void>;
  /** Number of jobs. */
  readonly size: number;
  /** http actions holding an outbound connection now, and those waiting for one. */
  readonly httpActions: { active: number; waiting: number };
}

function slug(name: string): string {
  return name.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "").slice(0, 60) || "job";
}

/** Resolves when `p` does, or after `ms`, whichever comes first. */
async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let t: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([p, new Promise((r) => (t = setTimeout(r, ms)))]);
  clearTimeout(t);
}

const defaultLog: Log = (level, msg) =>
  // One line per message whatever a job's name or error holds.
  (level === "error" ? console.error : console.log)(
    `[jobpro] ${level}: ${escapeControl(msg)}`,
  );

/**
 * Creates the manager, restores every stored job and starts scheduling.
 *
 * @example
 * ```ts
 * const manager = await createManager({ store, clock: systemClock });
 * ```
 */
export async function createManager(opts: ManagerOptions): Promise<Manager> {
  const { state, health } = await engineState(opts);
  await recover(state);
  const cleaner = startCleaner(state);
  return facade(state, health, cleaner);
}

/** The state every part of the engine shares, from the options, with its health service. */
async function engineState(opts: ManagerOptions) {
  const store = opts.store;
  const allowShell = opts.allowShell ?? false;
  const state = {
    store,
    clock: opts.clock ?? systemClock,
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
    },
    events: createEventBus({ lastId: await store.lastEventSeq() }),
    outbound: createLimiter(opts.httpMaxConcurrent ?? 256),
    processes: createLimiter(opts.shellMaxConcurrent ?? 64),
    httpClient: Deno.createHttpClient({ poolMaxIdlePerHost: 0 }),
    entries: new Map(),
    creating: new Set(),
    ticks: new Map(),
    nextRunId: 1,
    activeRuns: 0,
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
    } else void onDue(state, key, at);
  }, state.clock);
  const writer = createWriter({
    store,
    statusOf: (id) => {
      const e = state.entries.get(id);
      return e &&
        { jobId: id, status: e.job.status, updatedAt: e.job.updatedAt };
    },
    intervalMs: opts.commitIntervalMs ?? 50,
    onCommit: (c) => {
      health.writeWorked();
      publish(state, c);
    },
    onError: (e) => health.writeFailed(e),
  });
  Object.assign(state, { timers, writer });
  return { state, health };
}

/** A committed batch's events, with the views and runs as they are now. */
function publish(state: EngineState, c: Committed) {
  for (const e of c.events) {
    switch (e.type) {
      case "job-deleted":
        state.events.publish({ type: "job-deleted", id: e.jobId }, e.seq);
        break;
      case "job-update": {
        const entry = state.entries.get(e.jobId);
        if (entry) {
          state.events.publish(
            { type: "job-update", job: viewOf(entry) },
            e.seq,
          );
        }
        break;
      }
      case "run-started":
      case "run-finished":
        if (e.run) {
          state.events.publish({ type: e.type, run: runView(e.run) }, e.seq);
        }
    }
  }
}

/** A definition checked and made a job (status and next run kept from `prev`). */
function build(
  state: EngineState,
  input: JobInput,
  id: string,
  now: number,
  prev?: Job,
): Job {
  const type: JobType = isPeriodic(input.schedule) ? "periodic" : "onetime";
  // Parse now so a bad schedule or zone (or a zone given twice, as a
  // CRON_TZ= prefix and a different timezone) is refused before anything
  // changes. The prefix sets the job's zone.
  scheduleOf(
    { schedule: input.schedule, timezone: input.timezone ?? null },
    now,
  );
  checkAction(input.action, state.settings);
  return {
    id,
    name: input.name,
    type,
    schedule: input.schedule.trim(),
    timezone: scheduleZone(input.schedule) ?? input.timezone ?? null,
    action: input.action,
    timeoutMs: input.timeoutMs ?? null,
    retries: input.retries,
    retryDelayMs: input.retryDelayMs,
    overlap: input.overlap,
    catchUp: input.catchUp,
    autoStart: input.autoStart,
    status: prev?.status ?? "created",
    nextRunAt: prev?.nextRunAt ?? null,
    createdAt: prev?.createdAt ?? now,
    updatedAt: now,
    version: prev?.version ?? 1,
  };
}

/** A patch merged onto the job as a full definition (secrets written back as [redacted] kept). */
function patched(job: Job, patch: JobPatch): JobInput {
  const m = { ...job, ...patch } as Job;
  // A new schedule with a CRON_TZ= prefix brings its own zone.
  if (patch.schedule !== undefined && patch.timezone === undefined) {
    m.timezone = scheduleZone(patch.schedule) ?? m.timezone;
  }
  if (patch.action) m.action = keepSecrets(patch.action, job.action);
  return {
    id: job.id,
    name: m.name,
    schedule: m.schedule,
    timezone: m.timezone,
    action: m.action,
    timeoutMs: m.timeoutMs,
    retries: m.retries,
    retryDelayMs: m.retryDelayMs,
    overlap: m.overlap,
    catchUp: m.catchUp,
    autoStart: m.autoStart,
  };
}

function freshId(state: EngineState, name: string): string {
  const taken = (id: string) => state.entries.has(id) || state.creating.has(id);
  const s = slug(name);
  const base = state.settings.reservedIds.has(s) ? `${s}-job` : s;
  if (!taken(base)) return base;
  for (let i = 2;; i++) {
    if (!taken(`${base}-${i}`)) return `${base}-${i}`;
  }
}

/** The job started: its first run planned. */
function started(state: EngineState, job: Job, now: number): Job {
  return planned(
    state,
    { ...job, status: transition(job, "start"), updatedAt: now },
    now,
  );
}

const stopRuns = (state: EngineState, why: string) => (e: Entry) => {
  disarm(state, e);
  abortRuns(e, new Abort("cancelled", why));
};

/** The manager over an engine state. */
function facade(
  state: EngineState,
  health: HealthService,
  cleaner: Cleaner,
): Manager {
  const change = async (
    id: string,
    plan: (job: Job, now: number) => Change,
  ) => viewOf(await changeJob(state, id, plan));

  const manager: Manager = {
    events: state.events,

    async create(body) {
      const input = parseJobInput(body);
      if (
        input.id !== undefined &&
        state.settings.reservedIds.has(input.id.toLowerCase())
      ) {
        throw invalid("id", `"${input.id}" is reserved; choose another id`);
      }
      const id = input.id ?? freshId(state, input.name);
      if (state.entries.has(id) || state.creating.has(id)) {
        throw new JobproError(
          "duplicate",
          `a job with id "${id}" already exists`,
        );
      }
      const now = state.clock.now();
      const built = build(state, input, id, now);
      return viewOf(
        await createJob(
          state,
          input.autoStart ? started(state, built, now) : built,
        ),
      );
    },

    get: (id) => viewOf(entryOf(state, id)),

    list: (q = {}) => listJobs(state.entries, q, viewOf),

    update(id, body) {
      const patch: JobPatch = parseJobPatch(body);
      return change(id, (job, now) => {
        const next = build(state, patched(job, patch), id, now, job);
        const replanned = patch.schedule !== undefined ||
          patch.timezone !== undefined;
        return {
          job: replanned && isArmed(next.status)
            ? planned(state, next, now)
            : next,
        };
      });
    },

    start: (id) =>
      change(id, (job, now) => ({ job: started(state, job, now) })),

    stop: (id) =>
      change(id, (job, now) => ({
        job: {
          ...job,
          status: transition(job, "stop"),
          nextRunAt: null,
          updatedAt: now,
        },
        after: stopRuns(state, "stopped"),
      })),

    pause: (id) =>
      change(id, (job, now) => ({
        job: {
          ...job,
          status: transition(job, "pause"),
          nextRunAt: job.type === "periodic" ? null : job.nextRunAt,
          updatedAt: now,
        },
        after: (e) => disarm(state, e),
      })),

    resume: (id) =>
      change(id, (job, now) => {
        const next = {
          ...job,
          status: transition(job, "resume"),
          updatedAt: now,
        };
        return {
          job: job.type === "periodic" ? planned(state, next, now) : next,
        };
      }),

    reschedule(id, schedule) {
      if (typeof schedule !== "string" || schedule.trim() === "") {
        throw invalid(
          "schedule",
          'is required: the new time, such as "in 10m" (an empty schedule is not a time)',
        );
      }
      return change(id, (job, now) => {
        if (job.type !== "onetime" || isPeriodic(schedule)) {
          throw new JobproError(
            "conflict",
            "reschedule is for one-time jobs; a periodic job's schedule is changed by editing the job",
          );
        }
        const status = transition(job, "reschedule");
        scheduleOf({ schedule, timezone: job.timezone }, now);
        const next = {
          ...job,
          status,
          schedule: schedule.trim(),
          updatedAt: now,
        };
        return {
          job: status === "scheduled" ? planned(state, next, now) : next,
        };
      });
    },

    runNow: async (id) => runView(await runJobNow(state, id)),

    delete: (id) => deleteJob(state, id),

    async runs(id, q) {
      entryOf(state, id);
      // Read your own writes (runs that just ended), but never wait long:
      // reads go on while writes fail.
      await state.writer.settle();
      const { runs, total } = await state.store.listRuns(id, q);
      return { runs: runs.map((r) => runView(r)), total };
    },

    async run(id, runId) {
      const going = entryOf(state, id).running.get(runId);
      if (!going) await state.writer.settle();
      const found = going?.run ?? await state.store.getRun(id, runId);
      if (!found) {
        throw new JobproError("not_found", `job "${id}" has no run ${runId}`);
      }
      return runView(found, { withOutput: true });
    },

    revealed(view) {
      const action = state.entries.get(view.id)?.job.action;
      return !action || redactAction(action) === action
        ? view
        : { ...view, action };
    },

    async stats(id) {
      entryOf(state, id);
      await state.writer.settle();
      return await state.store.stats(id);
    },

    async upsert(input) {
      if (!state.entries.has(input.id)) return await manager.create(input);
      const { id: _id, ...definition } = input;
      return await manager.update(input.id, definition);
    },

    health: () => health.check(),

    shutdown: (o) => shutdown(state, health, cleaner, o?.graceMs ?? 10_000),

    get size() {
      return state.entries.size;
    },

    get httpActions() {
      return { active: state.outbound.active, waiting: state.outbound.waiting };
    },
  };
  return manager;
}

async function shutdown(
  state: EngineState,
  health: HealthService,
  cleaner: Cleaner,
  graceMs: number,
) {
  if (state.closing) return;
  state.closing = true;
  health.stop();
  const cleaning = cleaner.stop();
  state.timers.close(); // no new runs from here on
  // Running runs get the grace period to finish; those still going after it
  // are aborted and end cancelled.
  const going = () =>
    [...state.entries.values()].flatMap((e) =>
      [...e.running.values()].map((r) => r.done)
    );
  await within(Promise.allSettled(going()), graceMs);
  for (const e of state.entries.values()) {
    abortRuns(e, new Abort("cancelled", "server shutting down"));
  }
  // An action that ignores its abort ends by the kill grace at most.
  await within(Promise.allSettled(going()), state.settings.killGraceMs + 500);
  await cleaning;
  await state.writer.close();
  await state.store.close();
  state.httpClient.close();
}

export type { Delivered };
