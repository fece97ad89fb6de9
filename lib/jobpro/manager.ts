/**
 * The manager: the one place that changes jobs. It validates, applies the
 * status table, persists through the writer, arms the timer queue, runs
 * actions, and publishes events once changes are committed.
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
import {
  ActionError,
  checkAction,
  runAction,
  shellEnvironment,
} from "./actions.ts";
import { createLimiter } from "./limiter.ts";
import { escapeControl } from "./text.ts";
import { type Clock, systemClock } from "./clock.ts";
import { JobproError } from "./errors.ts";
import { createEventBus, type Delivered, type EventBus } from "./events.ts";
import {
  type Job,
  type JobCounts,
  type JobInput,
  type JobPatch,
  type JobType,
  type JobView,
  jobView,
  parseJobInput,
  parseJobPatch,
  RESERVED_IDS,
} from "./job.ts";
import { retryDelay } from "./retry.ts";
import { keepSecrets, redactAction, redactOutput } from "./secrets.ts";
import {
  endRun,
  newRun,
  type Run,
  type RunStatus,
  type RunView,
  runView,
  summarize,
  type Trigger,
} from "./run.ts";
import {
  describeSchedule,
  isPeriodic,
  nextRun,
  nextTickAfter,
  parseSchedule,
  type Schedule,
  scheduleZone,
} from "./schedule.ts";
import {
  isArmed,
  type JobStatus,
  type Operation,
  transition,
} from "./status.ts";
import type { JobStats, RunQuery, Store } from "./store.ts";
import { createTimerQueue } from "./timer.ts";
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
  /** http actions going at once, at most (default 256); more wait their turn. */
  httpMaxConcurrent?: number;
  /** An http action's request is abandoned after this (default 5 minutes). */
  httpTimeoutMs?: number;
  /** What shell actions start from (default: PATH, HOME, LANG, TZ of this process). */
  shellEnv?: Record<string, string>;
  log?: (level: "info" | "warn" | "error", message: string) => void;
}

/** Filters, sort and paging for the job list. */
export interface JobQuery {
  status?: JobStatus;
  type?: JobType;
  /** Substring of id or name, case-insensitive. */
  q?: string;
  sort?: "name" | "nextRunAt" | "lastRunAt" | "createdAt";
  order?: "asc" | "desc";
  offset?: number;
  limit?: number;
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
  /** Starts a run now, outside the schedule; resolves with it once its start is recorded. */
  runNow(id: string): Promise<RunView>;
  delete(id: string): Promise<void>;
  runs(id: string, q?: RunQuery): Promise<{ runs: RunView[]; total: number }>;
  /** One run with its output; secret values in the output are blanked unless `reveal`. */
  run(id: string, runId: number, opts?: { reveal?: boolean }): Promise<RunView>;
  /** The view with its action in clear (for callers allowed to see secrets); the same object when nothing is hidden. */
  revealed(view: JobView): JobView;
  stats(id: string): Promise<JobStats>;
  /** Upserts a definition by id (job sources); keeps runtime status. */
  upsert(input: JobInput & { id: string }): Promise<JobView>;
  /** Every event after the change is committed. */
  readonly events: EventBus;
  /** Whether the store answers and the scheduler is running. */
  health(): Promise<{ ok: boolean; jobs: number; running: number }>;
  /** Stops scheduling, aborts runs, waits up to `graceMs`, flushes, closes the store. */
  shutdown(opts?: { graceMs?: number }): Promise<void>;
  /** Number of jobs. */
  readonly size: number;
}

/** A run in flight. */
interface Going {
  run: Run;
  /** Aborts the action; the run ends when it stops, or after a grace period. */
  cancel(reason: Abort): void;
  /** Resolves once the run has ended. */
  done: Promise<void>;
}

interface Entry {
  job: Job;
  counts: JobCounts;
  running: Map<number, Going>;
  /** A retry waiting on the timer: its attempt number. */
  retryAttempt: number | null;
  /** The last view made of it, and of what. */
  view?: { job: Job; counts: JobCounts; active: number; value: JobView };
}

const RETRY_KEY = "\u0000retry:";
const HOUR = 3_600_000;

function slug(name: string): string {
  return name.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "").slice(0, 60) || "job";
}

/** Why a run was aborted; decides how it ends. */
class Abort extends Error {
  constructor(readonly status: "failed" | "cancelled", message: string) {
    super(message);
  }
}

/**
 * Creates the manager, restores every stored job and starts scheduling.
 *
 * @example
 * ```ts
 * const manager = await createManager({ store, clock: systemClock });
 * ```
 */
export async function createManager(opts: ManagerOptions): Promise<Manager> {
  const store = opts.store;
  const clock = opts.clock ?? systemClock;
  const functions = opts.functions ?? defaultRegistry();
  const allowShell = opts.allowShell ?? false;
  const outbound = createLimiter(opts.httpMaxConcurrent ?? 256);
  const shellEnv = opts.shellEnv ??
    (allowShell ? shellEnvironment(Deno.env.toObject()) : {});
  // One line per message whatever a job's name or error holds.
  const log = opts.log ??
    ((level, msg) =>
      (level === "error" ? console.error : console.log)(
        `[jobpro] ${level}: ${escapeControl(msg)}`,
      ));
  const events = createEventBus();
  // One callback for every timer (no closure per job): a job's next tick is
  // keyed by its id, a retry by RETRY_KEY + id.
  const timers = createTimerQueue((key, at) => {
    if (key.startsWith(RETRY_KEY)) onRetry(key.slice(RETRY_KEY.length), at);
    else void onDue(key, at);
  }, clock);
  const entries = new Map<string, Entry>();
  let nextRunId = 1;
  let closing = false;
  let storeCheckedAt = -Infinity;
  let storeOk = Promise.resolve(true);
  let writeFailing = false;
  let activeRuns = 0; // across all jobs, for health and metrics

  const writer = createWriter({
    store,
    intervalMs: opts.commitIntervalMs ?? 50,
    onCommit: publish,
    onError: (e) => {
      if (!writeFailing) {
        log("error", `could not write to the store: ${(e as Error).message}`);
      }
      writeFailing = true;
    },
  });

  function publish(batch: Committed) {
    if (writeFailing) {
      writeFailing = false;
      log("info", "writing to the store works again");
    }
    for (const id of batch.deletedJobs) {
      events.publish({ type: "job-deleted", id });
    }
    for (const run of batch.started) {
      events.publish({ type: "run-started", run: runView(run) });
    }
    for (const run of batch.finished) {
      events.publish({ type: "run-finished", run: runView(run) });
    }
    const touched = new Set([
      ...batch.jobs.map((j) => j.job.id),
      ...batch.started.map((r) => r.jobId),
      ...batch.finished.map((r) => r.jobId),
    ]);
    for (const id of touched) {
      const e = entries.get(id);
      if (e) events.publish({ type: "job-update", job: view(e) });
    }
  }

  function entry(id: string): Entry {
    const e = entries.get(id);
    if (!e) throw new JobproError("not_found", `no job with id "${id}"`);
    return e;
  }

  const descriptions = new Map<string, string>();
  /** The schedule in English; periodic ones memoized, as 10,000 jobs share few schedules. */
  function describe(job: Job): string {
    if (job.type === "onetime") return describeOnce(job);
    const key = `${job.timezone ?? ""}\u0000${job.schedule}`;
    let text = descriptions.get(key);
    if (text === undefined) {
      text = describeSchedule(schedOf(job, job.createdAt));
      if (descriptions.size > 10_000) descriptions.clear();
      descriptions.set(key, text);
    }
    return text;
  }

  function describeOnce(job: Job): string {
    if (!job.schedule) return "manual";
    const stamp = (ms: number) =>
      `${new Date(ms).toISOString().replace("T", " ").slice(0, 19)} UTC`;
    if (job.nextRunAt !== null) return `Once at ${stamp(job.nextRunAt)}`;
    const a = schedOf(job, 0), b = schedOf(job, HOUR);
    if (a.kind !== "once" || b.kind !== "once") return job.schedule;
    const relative = a.at.getTime() !== b.at.getTime();
    return relative
      ? `Once, ${job.schedule.replace(/^(in\s+|\+)/, "")} after it starts`
      : `Once at ${stamp(a.at.getTime())}`;
  }

  const save = (e: Entry) => writer.saveJob(e.job, e.counts);

  /**
   * The API's view of a job, cached until the job, its counts or its number
   * of active runs change (they are replaced, never mutated, so identity
   * tells): a dashboard polling 50 rows costs 50 lookups, not 250 dates.
   */
  function view(e: Entry): JobView {
    const c = e.view;
    if (
      c && c.job === e.job && c.counts === e.counts &&
      c.active === e.running.size
    ) {
      return c.value;
    }
    const value = jobView(e.job, e.counts, describe(e.job), e.running.size);
    e.view = { job: e.job, counts: e.counts, active: e.running.size, value };
    return value;
  }

  function setStatus(e: Entry, status: JobStatus) {
    e.job = { ...e.job, status, updatedAt: clock.now() };
  }

  /** Applies `op` from the status table; throws a conflict, changing nothing. */
  function apply(
    e: Entry,
    op: Operation,
    outcome?: Exclude<RunStatus, "running">,
  ) {
    setStatus(e, transition(e.job, op, outcome));
  }

  // ---- planning: when does the job run next ----

  function schedOf(job: Pick<Job, "schedule" | "timezone">, now: number) {
    return parseSchedule(job.schedule, {
      timezone: job.timezone ?? undefined,
      now: new Date(now),
    });
  }

  // Many jobs share a schedule and fire at the same instant; computing each
  // cron's next time once per (schedule, instant) keeps a burst of fires cheap.
  const ticks = new Map<
    string,
    { after: number; next: number | null; cron: Schedule }
  >();

  /**
   * The next fire time of a periodic job strictly after `after`, and after
   * `now` too: a scheduler so late that the next tick has passed moves on to
   * the first one still ahead rather than fire a backlog.
   */
  function nextTick(job: Job, after: number, now = after): number | null {
    const key = `${job.timezone ?? ""}\u0000${job.schedule}`;
    let memo = ticks.get(key);
    if (!memo) {
      if (ticks.size > 50_000) ticks.clear();
      memo = { after: NaN, next: null, cron: schedOf(job, after) };
      ticks.set(key, memo);
    }
    if (memo.after !== after) {
      memo.after = after;
      memo.next = nextRun(memo.cron, new Date(after))?.getTime() ?? null;
    }
    if (memo.next === null || memo.next > now) return memo.next;
    return nextTickAfter(memo.cron, after, now);
  }

  /** Arms (or disarms) the timer for the job's `nextRunAt`. */
  function arm(e: Entry) {
    const { id, nextRunAt, status } = e.job;
    if (nextRunAt === null || !isArmed(status)) return timers.delete(id);
    timers.set(id, nextRunAt);
  }

  function disarm(e: Entry) {
    timers.delete(e.job.id);
    timers.delete(RETRY_KEY + e.job.id);
    e.retryAttempt = null;
  }

  /** Plans the first run after a start or resume. */
  function plan(e: Entry, now: number) {
    const job = e.job;
    if (job.type === "periodic") {
      e.job = { ...job, nextRunAt: nextTick(job, now) };
    } else if (job.schedule.trim() === "") {
      e.job = { ...job, nextRunAt: now }; // a manual job runs when started
    } else {
      const s = schedOf(job, now);
      e.job = { ...job, nextRunAt: s.kind === "once" ? s.at.getTime() : now };
    }
    arm(e);
  }

  // ---- running ----

  async function onDue(id: string, at: number) {
    const e = entries.get(id);
    if (!e || closing || e.job.nextRunAt !== at || !isArmed(e.job.status)) {
      return;
    }
    // The tick we are about to run must be durably claimed (see DESIGN: a
    // tick whose claim is committed is never run twice after a crash).
    if (writer.isPending(id)) await writer.flush().catch(() => {});
    if (
      entries.get(id) !== e || e.job.nextRunAt !== at || !isArmed(e.job.status)
    ) return;
    if (e.job.type === "periodic") {
      e.job = { ...e.job, nextRunAt: nextTick(e.job, at, clock.now()) };
      save(e);
      arm(e);
      fire(e, "schedule", at, 1);
    } else {
      e.job = { ...e.job, nextRunAt: null };
      fire(e, "schedule", at, 1, { claim: true });
    }
  }

  function fire(
    e: Entry,
    trigger: Trigger,
    scheduledFor: number | null,
    attempt: number,
    { claim = false } = {},
  ): Run | null {
    const job = e.job;
    if (trigger !== "manual" && e.running.size > 0) {
      if (job.overlap === "skip") {
        e.counts = { ...e.counts, skipped: e.counts.skipped + 1 };
        save(e); // so watchers see the count move
        log(
          "info",
          `job ${job.id}: tick at ${
            new Date(scheduledFor ?? 0).toISOString()
          } skipped, previous run still going`,
        );
        return null;
      }
      if (job.overlap === "replace") {
        for (const r of e.running.values()) {
          r.cancel(new Abort("cancelled", "replaced by a newer run"));
        }
      }
    }
    const now = clock.now();
    const run = newRun({
      id: nextRunId++,
      jobId: job.id,
      trigger,
      attempt,
      scheduledFor,
      now,
    });
    if (job.status === "scheduled") {
      setStatus(e, transition(job, "fire"));
      save(e);
    }
    e.counts = { ...e.counts, lastRun: summarize(run) };
    writer.runStarted(run);
    e.running.set(run.id, start(e, run, claim));
    activeRuns++;
    return run;
  }

  /**
   * Starts a run's action. The run ends when the action does or, if the
   * action ignores its abort signal, a grace period after the abort. No
   * listeners or wrapper promises: a burst of 10,000 fires stays cheap.
   */
  function start(e: Entry, run: Run, claim: boolean): Going {
    const controller = new AbortController();
    let ended = false;
    let timeout: ReturnType<typeof setTimeout> | undefined;
    let grace: ReturnType<typeof setTimeout> | undefined;
    // Made only if someone waits (shutdown), not for every run.
    let resolveDone: (() => void) | undefined;
    let done: Promise<void> | undefined;
    const end = (result: Parameters<typeof endRun>[1]) => {
      if (ended) return;
      ended = true;
      clearTimeout(timeout);
      clearTimeout(grace);
      settle(e, endRun(run, result, clock.now()));
      resolveDone?.();
    };
    const cancel = (reason: Abort) => {
      if (ended || controller.signal.aborted) return;
      controller.abort(reason);
      const ms = (opts.killGraceMs ?? 5000) + 100;
      grace = setTimeout(
        () => end({ status: reason.status, error: reason.message }),
        ms,
      );
    };
    const timeoutMs = e.job.timeoutMs;
    if (timeoutMs) {
      timeout = setTimeout(
        () => cancel(new Abort("failed", `timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
    }
    const action = e.job.action;
    const go = () =>
      runAction(action, {
        signal: controller.signal,
        functions,
        allowShell,
        killGraceMs: opts.killGraceMs,
        outbound,
        httpTimeoutMs: opts.httpTimeoutMs,
        shellEnv,
      }).then(
        (r) =>
          end({ status: "complete", message: r.message, output: r.output }),
        (err) => end(failure(err, controller.signal)),
      );
    // A one-time job's run is claimed durably before it starts, so a crash
    // can never make it run twice.
    if (claim) writer.flush().catch(() => {}).then(go);
    else go();
    return {
      run,
      cancel,
      get done() {
        if (ended) return Promise.resolve();
        return done ??= new Promise<void>((resolve) => (resolveDone = resolve));
      },
    };
  }

  /** How a run that threw (or was aborted) ends. */
  function failure(
    err: unknown,
    signal: AbortSignal,
  ): Parameters<typeof endRun>[1] {
    const reason = signal.aborted ? signal.reason : err;
    return {
      status: reason instanceof Abort ? reason.status : "failed",
      error: reason instanceof Error ? reason.message : String(reason),
      output: err instanceof ActionError ? err.output : null,
    };
  }

  function settle(e: Entry, run: Run) {
    if (e.running.delete(run.id)) activeRuns--;
    if (entries.get(run.jobId) !== e) return; // deleted meanwhile
    const ok = run.status === "complete";
    e.counts = {
      ...e.counts,
      runs: e.counts.runs + 1,
      successes: e.counts.successes + (ok ? 1 : 0),
      lastRun: summarize(run),
    };
    writer.runFinished(run);
    if (ok) log("info", `job ${run.jobId} run ${run.id}: ${run.message}`);
    else {log(
        "warn",
        `job ${run.jobId} run ${run.id} ${run.status}: ${run.error}`,
      );}
    const job = e.job;
    const retry = run.status === "failed" && run.attempt <= job.retries &&
      !closing &&
      (job.status === "running" || job.status === "scheduled");
    if (retry) scheduleRetry(e, run.attempt + 1);
    if (job.status === "running" && e.running.size === 0) {
      if (retry && job.type === "onetime") setStatus(e, "scheduled");
      else apply(e, "finish", run.status as Exclude<RunStatus, "running">);
    }
    save(e); // counts changed
  }

  function scheduleRetry(e: Entry, attempt: number) {
    const at = clock.now() +
      retryDelay({ baseMs: e.job.retryDelayMs, attempt: attempt - 1 });
    e.retryAttempt = attempt;
    if (e.job.type === "onetime") e.job = { ...e.job, nextRunAt: at };
    timers.set(RETRY_KEY + e.job.id, at);
  }

  function onRetry(id: string, due: number) {
    const e = entries.get(id);
    const attempt = e?.retryAttempt;
    if (!e || !attempt || !isArmed(e.job.status)) return;
    e.retryAttempt = null;
    if (e.job.type === "onetime") e.job = { ...e.job, nextRunAt: null };
    // A one-time job's retry is claimed like its first attempt.
    fire(e, "retry", due, attempt, { claim: e.job.type === "onetime" });
  }

  function abortRuns(e: Entry, reason: Abort) {
    for (const r of e.running.values()) r.cancel(reason);
  }

  // ---- operations ----

  function build(input: JobInput, id: string, now: number, prev?: Job): Job {
    const type: JobType = isPeriodic(input.schedule) ? "periodic" : "onetime";
    // Parse now so a bad schedule or zone (or a zone given twice, as a
    // CRON_TZ= prefix and a different timezone) is refused before anything
    // changes. The prefix sets the job's zone.
    schedOf(
      { schedule: input.schedule, timezone: input.timezone ?? null },
      now,
    );
    const timezone = scheduleZone(input.schedule) ?? input.timezone ?? null;
    checkAction(input.action, { functions, allowShell });
    return {
      id,
      name: input.name,
      type,
      schedule: input.schedule.trim(),
      timezone,
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
    };
  }

  function freshId(name: string): string {
    const s = slug(name);
    const base = RESERVED_IDS.has(s) ? `${s}-job` : s;
    if (!entries.has(base)) return base;
    for (let i = 2;; i++) {
      if (!entries.has(`${base}-${i}`)) return `${base}-${i}`;
    }
  }

  async function commit(e: Entry): Promise<JobView> {
    save(e);
    await writer.flush();
    return view(e);
  }

  /** Runs `change` on the entry; on a thrown refusal nothing has changed. */
  async function change(
    id: string,
    fn: (e: Entry, now: number) => void,
  ): Promise<JobView> {
    const e = entry(id);
    const before = e.job;
    try {
      fn(e, clock.now());
    } catch (err) {
      e.job = before;
      arm(e);
      throw err;
    }
    return await commit(e);
  }

  function startEntry(e: Entry, now: number) {
    apply(e, "start");
    plan(e, now);
  }

  const manager: Manager = {
    events,

    async create(body) {
      const input = parseJobInput(body);
      const id = input.id ?? freshId(input.name);
      if (entries.has(id)) {
        throw new JobproError(
          "duplicate",
          `a job with id "${id}" already exists`,
        );
      }
      const now = clock.now();
      const e: Entry = {
        job: build(input, id, now),
        counts: { runs: 0, successes: 0, lastRun: null, skipped: 0 },
        running: new Map(),
        retryAttempt: null,
      };
      if (input.autoStart) startEntry(e, now);
      entries.set(id, e);
      try {
        return await commit(e);
      } catch (err) {
        entries.delete(id);
        disarm(e);
        throw err;
      }
    },

    get: (id) => view(entry(id)),

    list(q = {}) {
      const offset = Math.max(0, q.offset ?? 0);
      const limit = Math.min(Math.max(0, q.limit ?? 100), 1000);
      const plain = !q.status && !q.type && !q.q;
      const key = q.sort ?? "createdAt";
      // Entries are kept in creation order (restored oldest first, new ones
      // appended): the default page of 100,000 jobs needs no copy and no sort.
      if (plain && key === "createdAt" && q.order !== "desc") {
        const jobs: JobView[] = [];
        let i = 0;
        for (const e of entries.values()) {
          if (i++ < offset) continue;
          if (jobs.length >= limit) break;
          jobs.push(view(e));
        }
        return { jobs, total: entries.size };
      }
      let all = [...entries.values()];
      if (q.status) all = all.filter((e) => e.job.status === q.status);
      if (q.type) all = all.filter((e) => e.job.type === q.type);
      if (q.q) {
        const needle = q.q.toLowerCase();
        all = all.filter((e) =>
          e.job.id.toLowerCase().includes(needle) ||
          e.job.name.toLowerCase().includes(needle)
        );
      }
      const value = (e: Entry): string | number =>
        key === "name"
          ? e.job.name.toLowerCase()
          : key === "nextRunAt"
          ? e.job.nextRunAt ?? Infinity
          : key === "lastRunAt"
          ? e.counts.lastRun?.startedAt ?? -Infinity
          : e.job.createdAt;
      const dir = q.order === "desc" ? -1 : 1;
      if (key === "createdAt") {
        if (dir === -1) all.reverse();
      } else {
        all.sort((a, b) => {
          const va = value(a), vb = value(b);
          return (va < vb ? -1 : va > vb ? 1 : a.job.id < b.job.id ? -1 : 1) *
            dir;
        });
      }
      return {
        jobs: all.slice(offset, offset + limit).map(view),
        total: all.length,
      };
    },

    update(id, body) {
      const patch: JobPatch = parseJobPatch(body);
      return change(id, (e, now) => {
        const merged = { ...e.job, ...patch } as Job;
        // A new schedule with a CRON_TZ= prefix brings its own zone.
        if (patch.schedule !== undefined && patch.timezone === undefined) {
          merged.timezone = scheduleZone(patch.schedule) ?? merged.timezone;
        }
        // A view shows secret header values as [redacted]; saving it back keeps them.
        if (patch.action) {
          merged.action = keepSecrets(patch.action, e.job.action);
        }
        const input: JobInput = {
          id,
          name: merged.name,
          schedule: merged.schedule,
          timezone: merged.timezone,
          action: merged.action,
          timeoutMs: merged.timeoutMs,
          retries: merged.retries,
          retryDelayMs: merged.retryDelayMs,
          overlap: merged.overlap,
          catchUp: merged.catchUp,
          autoStart: merged.autoStart,
        };
        const replanned = patch.schedule !== undefined ||
          patch.timezone !== undefined;
        e.job = build(input, id, now, e.job);
        if (replanned && isArmed(e.job.status)) plan(e, now);
      });
    },

    start: (id) => change(id, startEntry),

    stop: (id) =>
      change(id, (e) => {
        apply(e, "stop");
        disarm(e);
        e.job = { ...e.job, nextRunAt: null };
        abortRuns(e, new Abort("cancelled", "stopped"));
      }),

    pause: (id) =>
      change(id, (e) => {
        apply(e, "pause");
        disarm(e);
        if (e.job.type === "periodic") e.job = { ...e.job, nextRunAt: null };
      }),

    resume: (id) =>
      change(id, (e, now) => {
        apply(e, "resume");
        if (e.job.type === "periodic") plan(e, now);
        else arm(e);
      }),

    reschedule(id, schedule) {
      if (typeof schedule !== "string" || schedule.trim() === "") {
        throw new JobproError(
          "invalid",
          'schedule: is required: the new time, such as "in 10m" (an empty schedule is not a time)',
          "schedule",
        );
      }
      return change(id, (e, now) => {
        if (e.job.type !== "onetime" || isPeriodic(schedule)) {
          throw new JobproError(
            "conflict",
            "reschedule is for one-time jobs; use PATCH to change a periodic job's schedule",
          );
        }
        apply(e, "reschedule");
        schedOf({ schedule, timezone: e.job.timezone }, now);
        e.job = { ...e.job, schedule: schedule.trim() };
        if (e.job.status === "scheduled") plan(e, now);
      });
    },

    async runNow(id) {
      const e = entry(id);
      if (closing) {
        throw new JobproError("unavailable", "the server is shutting down");
      }
      const run = fire(e, "manual", null, 1)!;
      await writer.flush();
      return runView(run);
    },

    async delete(id) {
      const e = entry(id);
      entries.delete(id);
      disarm(e);
      abortRuns(e, new Abort("cancelled", "job deleted"));
      writer.deleteJob(id);
      await writer.flush();
    },

    async runs(id, q) {
      entry(id);
      await writer.flush(); // read your own writes: include runs that just ended
      const { runs, total } = await store.listRuns(id, q);
      return { runs: runs.map((r) => runView(r)), total };
    },

    async run(id, runId, { reveal = false } = {}) {
      entry(id);
      const going = entries.get(id)?.running.get(runId);
      if (!going) await writer.flush();
      const found = going?.run ?? await store.getRun(id, runId);
      if (!found) {
        throw new JobproError("not_found", `job "${id}" has no run ${runId}`);
      }
      const action = entries.get(id)!.job.action;
      return runView(
        {
          ...found,
          output: reveal ? found.output : redactOutput(found.output, action),
        },
        { withOutput: true },
      );
    },

    revealed(view) {
      const action = entries.get(view.id)?.job.action;
      return !action || redactAction(action) === action
        ? view
        : { ...view, action };
    },

    async stats(id) {
      entry(id);
      await writer.flush();
      return await store.stats(id);
    },

    async upsert(input) {
      const prev = entries.get(input.id);
      if (!prev) return await manager.create(input);
      return await manager.update(input.id, {
        name: input.name,
        schedule: input.schedule,
        timezone: input.timezone,
        action: input.action,
        timeoutMs: input.timeoutMs,
        retries: input.retries,
        retryDelayMs: input.retryDelayMs,
        overlap: input.overlap,
        catchUp: input.catchUp,
        autoStart: input.autoStart,
      });
    },

    async health() {
      const running = activeRuns;
      // Ask the store at most once a second: a load balancer polling /healthz
      // must not queue behind (or in front of) real queries.
      if (clock.now() - storeCheckedAt > 1000) {
        storeCheckedAt = clock.now();
        storeOk = store.ping().then(() => true, () => false);
      }
      const ok = !closing && !writeFailing && await storeOk;
      return { ok, jobs: entries.size, running };
    },

    async shutdown({ graceMs = 10_000 } = {}) {
      if (closing) return;
      closing = true;
      clearInterval(pruneTimer);
      stopPruning.abort();
      timers.close();
      const going: Promise<void>[] = [];
      for (const e of entries.values()) {
        abortRuns(e, new Abort("cancelled", "server shutting down"));
        for (const r of e.running.values()) going.push(r.done);
      }
      let t: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.allSettled(going),
        new Promise((r) => (t = setTimeout(r, graceMs))),
      ]);
      clearTimeout(t);
      await pruning;
      await writer.close();
      await store.close();
    },

    get size() {
      return entries.size;
    },
  };

  // ---- restore ----

  const stopPruning = new AbortController();
  let pruning: Promise<void> = Promise.resolve();

  function prune(): Promise<void> {
    const days = opts.retentionDays ?? 7;
    const t0 = performance.now();
    pruning = pruning.then(() =>
      store.prune({
        before: clock.now() - days * 24 * HOUR,
        maxPerJob: opts.maxRunsPerJob ?? 1000,
        signal: stopPruning.signal,
      }).then((n) => {
        if (n) {
          log(
            "info",
            `pruned ${n} old runs in ${Math.round(performance.now() - t0)} ms`,
          );
        }
      }, (e) => {
        if (!closing) {
          log("error", `pruning old runs failed: ${(e as Error).message}`);
        }
      })
    );
    return pruning;
  }

  function restore(job: Job, counts: JobCounts, now: number) {
    const e: Entry = {
      job,
      counts,
      running: new Map(),
      retryAttempt: null,
    };
    entries.set(job.id, e);
    if (job.status === "running") {
      // It died mid-run: the run was marked interrupted (failed).
      e.job = {
        ...job,
        status: job.type === "periodic" ? "scheduled" : "failed",
        nextRunAt: job.type === "periodic" ? job.nextRunAt : null,
      };
    }
    if (!isArmed(e.job.status)) {
      if (e.job !== job) save(e);
      return;
    }
    const due = e.job.nextRunAt;
    if (e.job.type === "periodic") {
      // A claimed tick in the past may have run before the crash: never run it
      // again. catchUp "once" runs one startup run if ticks were missed.
      if (due === null || due <= now) {
        e.job = { ...e.job, nextRunAt: nextTick(e.job, due ?? now, now) };
        if (due !== null && e.job.catchUp === "once") {
          fire(e, "startup", now, 1);
        }
      }
      arm(e);
    } else if (due !== null) {
      const last = e.counts.lastRun;
      const attempt = last?.attempt ?? 1;
      if (last?.status === "failed" && attempt <= e.job.retries) {
        // It was waiting to retry: keep counting attempts, don't start over.
        e.retryAttempt = attempt + 1;
        timers.set(RETRY_KEY + e.job.id, due);
      } else {
        arm(e); // a due one-time job fires at once
      }
    }
    // Only a job whose row changed is written again (not 100,000 at start).
    if (e.job !== job) save(e);
  }

  const interrupted = await store.recoverInterrupted(clock.now());
  for (const r of interrupted) {
    log("warn", `job ${r.jobId} run ${r.id} was interrupted by a restart`);
  }
  nextRunId = (await store.maxRunId()) + 1;
  const now = clock.now();
  for (const { job, counts } of await store.loadJobs()) {
    restore(job, counts, now);
  }
  await writer.flush();
  // Pruning runs in the background, in batches; the scheduler is already live.
  prune();
  const pruneTimer = setInterval(prune, HOUR);
  Deno.unrefTimer(pruneTimer);
  return manager;
}

export type { Delivered };
