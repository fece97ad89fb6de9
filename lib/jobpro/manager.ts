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
  /** Health says unavailable once a commit has been pending this long (default 5 s). */
  healthCommitMs?: number;
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
  /** Whether the store answers, writes go through and the scheduler runs; why not, when not. */
  health(): Promise<
    { ok: boolean; jobs: number; running: number; reason?: string }
  >;
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
  /**
   * The operation being committed for this job, if any: the next one waits
   * for it, and so do its ticks, so each plans from committed state.
   */
  busy: Promise<void> | null;
  /** Since when ticks have been missed in a row (the episode logged once), or null. */
  missingSince: number | null;
  /** The last view made of it, and of what. */
  view?: { job: Job; counts: JobCounts; active: number; value: JobView };
}

const RETRY_KEY = "\u0000retry:";
/** How often writing is tried again after a failure, while nothing else writes. */
const PROBE_MS = 500;
/** How often a one-time run whose claim could not be written tries again. */
const CLAIM_RETRY_MS = 250;
const HOUR = 3_600_000;

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
  let lastWriteError = "";
  const healthCommitMs = opts.healthCommitMs ?? 5000;
  let activeRuns = 0; // across all jobs, for health and metrics

  const writer = createWriter({
    store,
    rowOf: (id) => {
      const e = entries.get(id);
      return e && { job: e.job, counts: e.counts };
    },
    intervalMs: opts.commitIntervalMs ?? 50,
    onCommit: publish,
    onError: (e) => {
      lastWriteError = (e as Error).message;
      if (!writeFailing) {
        log("error", `could not write to the store: ${lastWriteError}`);
      }
      writeFailing = true;
      probeLater();
    },
  });

  function writesWork() {
    if (!writeFailing) return;
    writeFailing = false;
    log("info", "writing to the store works again");
  }

  // A failed operation is not retried, so nothing might write again to show
  // that writing works once the fault is gone: probe for it.
  let probeTimer: ReturnType<typeof setTimeout> | undefined;
  function probeLater() {
    if (probeTimer !== undefined || closing) return;
    probeTimer = setTimeout(async () => {
      probeTimer = undefined;
      if (!writeFailing || closing) return;
      if (writer.queued > 0) return probeLater(); // its retry tells
      try {
        await store.probe();
        writesWork();
      } catch {
        probeLater();
      }
    }, PROBE_MS);
  }

  function publish(batch: Committed) {
    writesWork();
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

  const save = (e: Entry) => writer.touchJob(e.job.id);

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

  /** The job with its first run planned, after a start or resume. */
  function planned(job: Job, now: number): Job {
    if (job.type === "periodic") {
      return { ...job, nextRunAt: nextTick(job, now) };
    }
    if (job.schedule.trim() === "") return { ...job, nextRunAt: now }; // manual: runs when started
    const s = schedOf(job, now);
    return { ...job, nextRunAt: s.kind === "once" ? s.at.getTime() : now };
  }

  // ---- running ----

  async function onDue(id: string, at: number) {
    const e = entries.get(id);
    if (!e || closing || e.job.nextRunAt !== at || !isArmed(e.job.status)) {
      return;
    }
    // An operation being committed decides first (it may pause, stop or
    // re-plan the job); then the tick is looked at again.
    if (e.busy) return void e.busy.then(() => onDue(id, at));
    // The tick we are about to run must be durably claimed (see DESIGN: a
    // tick whose claim is committed is never run twice after a crash).
    if (writer.isPending(id)) await writer.flush().catch(() => {});
    if (
      entries.get(id) !== e || e.job.nextRunAt !== at || !isArmed(e.job.status)
    ) return;
    const busy = e.busy as Promise<void> | null; // set while the flush waited
    if (busy) return void busy.then(() => onDue(id, at));
    if (e.job.type === "periodic") {
      const now = clock.now();
      const next = nextTick(e.job, at, now);
      countMissed(e, at, next, now);
      e.job = { ...e.job, nextRunAt: next };
      save(e);
      arm(e);
      fire(e, "schedule", at, 1);
    } else {
      e.job = { ...e.job, nextRunAt: null };
      fire(e, "schedule", at, 1, { claim: true });
    }
  }

  /** Most ticks counted one by one when a late scheduler skips ahead. */
  const MAX_COUNTED = 100_000;

  /**
   * The ticks between `at` (about to fire) and `next` that the scheduler
   * was too late for: counted on the job (`missedRuns`), logged once per
   * episode, never skipped without trace.
   */
  function countMissed(e: Entry, at: number, next: number | null, now: number) {
    const s = ticks.get(`${e.job.timezone ?? ""}\u0000${e.job.schedule}`)?.cron;
    const first = s && nextRun(s, new Date(at));
    if (!s || !first || (next !== null && first.getTime() >= next)) {
      if (e.missingSince !== null) {
        log("info", `job ${e.job.id}: ticks fire on time again`);
        e.missingSince = null;
      }
      return;
    }
    let missed = 0;
    for (
      let t: Date | null = first;
      t && (next === null || t.getTime() < next) && missed < MAX_COUNTED;
      t = nextRun(s, t)
    ) missed++;
    e.counts = { ...e.counts, missed: e.counts.missed + missed };
    if (e.missingSince === null) {
      e.missingSince = at;
      log(
        "warn",
        `job ${e.job.id}: ${missed} tick(s) after ${
          new Date(at).toISOString()
        } were missed, the scheduler running ${
          Math.round(now - at)
        } ms late (counted in missedRuns; not logged again until ticks are on time)`,
      );
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
    // can never make it run twice: while the claim cannot be written, the
    // action waits (and a stop or a timeout still ends the run).
    const claimed = (): Promise<void> =>
      writer.flush().then(
        go,
        () =>
          controller.signal.aborted
            ? end(failure(controller.signal.reason, controller.signal))
            : new Promise((r) => setTimeout(r, CLAIM_RETRY_MS)).then(claimed),
      );
    if (claim) void claimed();
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
    if (e.busy) return void e.busy.then(() => onRetry(id, due));
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

  /** Ids taken by a job, or by a create not yet committed. */
  const creating = new Set<string>();
  const taken = (id: string) => entries.has(id) || creating.has(id);

  function freshId(name: string): string {
    const s = slug(name);
    const base = RESERVED_IDS.has(s) ? `${s}-job` : s;
    if (!taken(base)) return base;
    for (let i = 2;; i++) {
      if (!taken(`${base}-${i}`)) return `${base}-${i}`;
    }
  }

  /** What an operation on a job does: the row to commit, and after. */
  type Change = {
    job: Job;
    /** What happens once the row is committed (timers, runs to abort). */
    after?: (e: Entry) => void;
  };

  /**
   * Runs an operation on a job: plans it from the job as committed (a
   * refusal throws, changing nothing), commits the planned row, and only
   * then applies it — onto the job as it is by then, since a run may have
   * ended meanwhile. A failed commit changes nothing, now or later.
   */
  async function change(
    id: string,
    op: (job: Job, now: number) => Change,
  ): Promise<JobView> {
    const e = entry(id);
    while (e.busy) await e.busy; // one operation per job at a time
    if (entries.get(id) !== e) {
      throw new JobproError("not_found", `no job with id "${id}"`);
    }
    const base = e.job;
    const plan = op(base, clock.now());
    const committed = writer.commit(
      { jobs: [{ job: plan.job, counts: e.counts }] },
      () => {
        if (entries.get(id) !== e) return;
        e.job = merged(base, plan.job, e.job);
        if (e.job !== plan.job) save(e); // a run ended meanwhile: write what is true now
        plan.after?.(e);
        arm(e);
      },
    );
    e.busy = committed.then(() => {}, () => {}).finally(() => (e.busy = null));
    await committed;
    return view(e);
  }

  /** `next` applied onto `current`: the fields the operation changed from `base`. */
  function merged(base: Job, next: Job, current: Job): Job {
    if (current === base) return next;
    const out = { ...current } as Record<string, unknown>;
    for (const k of Object.keys(next) as (keyof Job)[]) {
      if (next[k] !== base[k]) out[k] = next[k];
    }
    return out as unknown as Job;
  }

  const stopped = (e: Entry, why: string) => {
    disarm(e);
    abortRuns(e, new Abort("cancelled", why));
  };

  function started(job: Job, now: number): Job {
    return planned(
      { ...job, status: transition(job, "start"), updatedAt: now },
      now,
    );
  }

  const manager: Manager = {
    events,

    async create(body) {
      const input = parseJobInput(body);
      const id = input.id ?? freshId(input.name);
      if (taken(id)) {
        throw new JobproError(
          "duplicate",
          `a job with id "${id}" already exists`,
        );
      }
      const now = clock.now();
      const built = build(input, id, now);
      const job = input.autoStart ? started(built, now) : built;
      const e: Entry = {
        job,
        counts: { runs: 0, successes: 0, lastRun: null, skipped: 0, missed: 0 },
        running: new Map(),
        retryAttempt: null,
        busy: null,
        missingSince: null,
      };
      creating.add(id);
      try {
        await writer.commit({ jobs: [{ job, counts: e.counts }] }, () => {
          entries.set(id, e);
          arm(e);
        });
      } finally {
        creating.delete(id);
      }
      return view(e);
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
      return change(id, (job, now) => {
        const merged = { ...job, ...patch } as Job;
        // A new schedule with a CRON_TZ= prefix brings its own zone.
        if (patch.schedule !== undefined && patch.timezone === undefined) {
          merged.timezone = scheduleZone(patch.schedule) ?? merged.timezone;
        }
        // A view shows secret values as [redacted]; saving it back keeps them.
        if (patch.action) {
          merged.action = keepSecrets(patch.action, job.action);
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
        const next = build(input, id, now, job);
        return {
          job: replanned && isArmed(next.status) ? planned(next, now) : next,
        };
      });
    },

    start: (id) => change(id, (job, now) => ({ job: started(job, now) })),

    stop: (id) =>
      change(id, (job, now) => ({
        job: {
          ...job,
          status: transition(job, "stop"),
          nextRunAt: null,
          updatedAt: now,
        },
        after: (e) => stopped(e, "stopped"),
      })),

    pause: (id) =>
      change(id, (job, now) => ({
        job: {
          ...job,
          status: transition(job, "pause"),
          nextRunAt: job.type === "periodic" ? null : job.nextRunAt,
          updatedAt: now,
        },
        after: disarm,
      })),

    resume: (id) =>
      change(id, (job, now) => {
        const next = {
          ...job,
          status: transition(job, "resume"),
          updatedAt: now,
        };
        return { job: job.type === "periodic" ? planned(next, now) : next };
      }),

    reschedule(id, schedule) {
      if (typeof schedule !== "string" || schedule.trim() === "") {
        throw new JobproError(
          "invalid",
          'schedule: is required: the new time, such as "in 10m" (an empty schedule is not a time)',
          "schedule",
        );
      }
      return change(id, (job, now) => {
        if (job.type !== "onetime" || isPeriodic(schedule)) {
          throw new JobproError(
            "conflict",
            "reschedule is for one-time jobs; use PATCH to change a periodic job's schedule",
          );
        }
        const status = transition(job, "reschedule");
        schedOf({ schedule, timezone: job.timezone }, now);
        const next = {
          ...job,
          status,
          schedule: schedule.trim(),
          updatedAt: now,
        };
        return { job: status === "scheduled" ? planned(next, now) : next };
      });
    },

    async runNow(id) {
      const e = entry(id);
      if (closing) {
        throw new JobproError("unavailable", "the server is shutting down");
      }
      while (e.busy) await e.busy;
      // The run's start is committed before its action runs: a 503 here
      // means it never ran and never will.
      const run = newRun({
        id: nextRunId++,
        jobId: id,
        trigger: "manual",
        attempt: 1,
        scheduledFor: null,
        now: clock.now(),
      });
      const base = e.job;
      const job = base.status === "scheduled"
        ? {
          ...base,
          status: transition(base, "fire"),
          updatedAt: run.startedAt,
        }
        : base;
      const counts = { ...e.counts, lastRun: summarize(run) };
      const committed = writer.commit(
        { jobs: [{ job, counts }], started: [run] },
        () => {
          if (entries.get(id) !== e) return;
          e.job = merged(base, job, e.job);
          e.counts = { ...e.counts, lastRun: counts.lastRun };
          e.running.set(run.id, start(e, run, false));
          activeRuns++;
        },
      );
      e.busy = committed.then(() => {}, () => {}).finally(
        () => (e.busy = null),
      );
      await committed;
      return runView(run);
    },

    async delete(id) {
      const e = entry(id);
      while (e.busy) await e.busy;
      if (entries.get(id) !== e) {
        throw new JobproError("not_found", `no job with id "${id}"`);
      }
      const committed = writer.commit({ deletedJobs: [id] }, () => {
        entries.delete(id);
        stopped(e, "job deleted");
      });
      e.busy = committed.then(() => {}, () => {}).finally(
        () => (e.busy = null),
      );
      await committed;
    },

    async runs(id, q) {
      entry(id);
      // Read your own writes (runs that just ended), but never wait long:
      // reads go on while writes fail.
      await writer.settle();
      const { runs, total } = await store.listRuns(id, q);
      return { runs: runs.map((r) => runView(r)), total };
    },

    async run(id, runId, { reveal = false } = {}) {
      entry(id);
      const going = entries.get(id)?.running.get(runId);
      if (!going) await writer.settle();
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
      await writer.settle();
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
      const pending = writer.pendingMs();
      const reason = closing
        ? "shutting down"
        : writeFailing
        ? `writing to the database fails: ${lastWriteError}`
        : pending > healthCommitMs
        ? `a database commit has been pending for ${
          Math.round(pending)
        } ms (more than ${healthCommitMs} ms, JOBPRO_HEALTH_COMMIT_MS)`
        : !await storeOk
        ? "the database does not answer"
        : undefined;
      return reason === undefined
        ? { ok: true, jobs: entries.size, running }
        : { ok: false, jobs: entries.size, running, reason };
    },

    async shutdown({ graceMs = 10_000 } = {}) {
      if (closing) return;
      closing = true;
      clearTimeout(probeTimer);
      clearInterval(pruneTimer);
      stopPruning.abort();
      timers.close(); // no new runs from here on
      // Running runs get the grace period to finish; those still going
      // after it are aborted and end cancelled.
      const going = () =>
        [...entries.values()].flatMap((e) =>
          [...e.running.values()].map((r) => r.done)
        );
      await within(Promise.allSettled(going()), graceMs);
      for (const e of entries.values()) {
        abortRuns(e, new Abort("cancelled", "server shutting down"));
      }
      // An action that ignores its abort ends by the kill grace at most.
      await within(
        Promise.allSettled(going()),
        (opts.killGraceMs ?? 5000) + 500,
      );
      await pruning;
      await writer.close();
      await store.close();
    },

    get size() {
      return entries.size;
    },

    get httpActions() {
      return { active: outbound.active, waiting: outbound.waiting };
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
      busy: null,
      missingSince: null,
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
