/**
 * A real engine for the service tests (planner, runner, recovery, cleaner,
 * job list): the {@link EngineState} that engine.ts's `assemble` builds, on a
 * real DuckDB store in memory, with a clock the test moves by hand, the log
 * captured line by line, and the registry's real functions (plus a few that
 * count their calls or never end) so runs really execute. No HTTP server of
 * the app's is involved; the services are called directly.
 *
 * @example
 * ```ts
 * const engine = await openEngine({ seed: (store) => putJobs(store, [job("a")]) });
 * try {
 *   fire(engine.state, engine.entry("a"), "manual", null, 1);
 * } finally {
 *   await engine.close();
 * }
 * ```
 * @module
 */
import { assert } from "@std/assert";
import { defaultRegistry, type Registry } from "@/lib/jobs/mod.ts";
import type { Cleaner } from "@/lib/jobpro/cleaner.ts";
import type { Clock } from "@/lib/jobpro/clock.ts";
import { assemble, type ManagerOptions } from "@/lib/jobpro/engine.ts";
import type { HealthService } from "@/lib/jobpro/health.ts";
import type { Job, JobCounts } from "@/lib/jobpro/job.ts";
import { openDuckDBStore } from "@/lib/jobpro/duckdb_store.ts";
import { recover } from "@/lib/jobpro/recovery.ts";
import { job as storedJob } from "./store_contract.ts";
import { newRun, type Run } from "@/lib/jobpro/run.ts";
import { shutdown } from "@/lib/jobpro/shutdown.ts";
import type { EngineState, Entry, Log } from "@/lib/jobpro/state.ts";
import {
  type Batch,
  emptyBatch,
  type Store,
  type StoredJob,
} from "@/lib/jobpro/store.ts";

/** A Monday, noon UTC, on a whole minute: where every test's clock starts. */
export const T0 = Date.UTC(2024, 0, 15, 12, 0, 0);
export const SEC = 1000;
export const MIN = 60 * SEC;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;

/** A clock that stands still until the test moves it. */
export interface ManualClock extends Clock {
  set(t: number): void;
  advance(ms: number): void;
}

/** A clock standing at `t`. */
export function manualClock(t = T0): ManualClock {
  return {
    now: () => t,
    set: (to) => void (t = to),
    advance: (ms) => void (t += ms),
  };
}

/** The real time, shifted by what the test sets: for the tests that let the timer queue fire. */
export function realClock(): ManualClock {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    set: (to) => void (offset = to - Date.now()),
    advance: (ms) => void (offset += ms),
  };
}

/** One line the engine logged. */
export interface LogLine {
  level: "info" | "warn" | "error";
  message: string;
}

/** An engine under test. */
export interface Engine {
  state: EngineState;
  health: HealthService;
  store: Store;
  clock: ManualClock;
  /** Everything the engine logged, in order. */
  logs: LogLine[];
  /** Calls of the `count` function, by the `tag` param it was given. */
  calls: string[];
  /** The job's entry; fails the test when there is none. */
  entry(id: string): Entry;
  /** The log lines of `level` that contain `text`. */
  logged(level: LogLine["level"], text: string): LogLine[];
  /** The store's row of the job, as committed. */
  stored(id: string): Promise<StoredJob | undefined>;
  /** The job's runs in the store (finished and going), oldest first. */
  runs(id: string): Promise<Run[]>;
  /** The store was closed by the test itself: close() leaves it. */
  storeClosed: boolean;
  /** Shuts the engine down as the manager does: runs aborted, writes flushed, store closed. */
  close(): Promise<void>;
}

/** How {@link openEngine} sets the engine up. */
export interface EngineOptions
  extends Partial<Omit<ManagerOptions, "store" | "clock" | "log">> {
  clock?: ManualClock;
  /** Fills the store before the engine exists (what an earlier process left). */
  seed?: (store: Store) => Promise<void>;
  /** Restores the stored jobs (recovery.ts) before the test goes on (default true). */
  recover?: boolean;
}

/**
 * The real registry (noop, log, sleep, fail, flaky) plus three test
 * functions: `count` records its `tag` param, `hang` never ends and ignores
 * its abort, `gate` waits (honoring its abort) until `open()` is called.
 */
export function testRegistry(calls: string[], gate: Gate): Registry {
  const fns = defaultRegistry();
  fns.register("count", (params) => {
    calls.push(String(params.tag ?? ""));
    return "counted";
  });
  fns.register("hang", () => new Promise(() => {}));
  fns.register("gate", (_params, signal) =>
    new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      signal.addEventListener("abort", () => reject(signal.reason), {
        once: true,
      });
      if (gate.opened) resolve("through the gate");
      else gate.waiting.push(() => resolve("through the gate"));
    }));
  return fns;
}

/**
 * Where `gate` runs wait. A run's action starts once its start is
 * committed, so it may reach the gate after `open()`: it goes through then.
 */
export interface Gate {
  waiting: (() => void)[];
  /** Set by `open()`: runs arriving later go straight through. */
  opened: boolean;
  open(): void;
}

function newGate(): Gate {
  const gate: Gate = {
    waiting: [],
    opened: false,
    open: () => {
      gate.opened = true;
      for (const go of gate.waiting.splice(0)) go();
    },
  };
  return gate;
}

/** A cleaner that does nothing: the tests that want one start their own. */
const noCleaner: Cleaner = {
  clean: () => Promise.resolve(),
  stop: () => Promise.resolve(),
};

/**
 * An engine over a fresh in-memory DuckDB store, assembled by engine.ts and
 * (unless `recover: false`) restored by recovery.ts.
 *
 * @example
 * ```ts
 * const engine = await openEngine({ maxRunsPerJob: 3 });
 * ```
 */
export async function openEngine(
  opts: EngineOptions = {},
): Promise<Engine & { gate: Gate }> {
  const { seed, recover: restore = true, clock = manualClock(), ...rest } =
    opts;
  const store = await openDuckDBStore(":memory:", { threads: 1 });
  await seed?.(store);
  const logs: LogLine[] = [];
  const log: Log = (level, message) => logs.push({ level, message });
  const calls: string[] = [];
  const gate = newGate();
  const { state, health } = await assemble({
    functions: testRegistry(calls, gate),
    killGraceMs: 200,
    ...rest,
    store,
    clock,
    log,
  });
  if (restore) await recover(state);
  const engine: Engine & { gate: Gate } = {
    state,
    health,
    store,
    clock,
    logs,
    calls,
    gate,
    storeClosed: false,
    entry(id) {
      const e = state.entries.get(id);
      assert(e, `job ${id} has an entry`);
      return e;
    },
    logged: (level, text) =>
      logs.filter((l) => l.level === level && l.message.includes(text)),
    stored: async (id) => (await store.loadJobs()).find((s) => s.job.id === id),
    runs: async (id) =>
      (await store.listRuns(id, { limit: 1000 })).runs.reverse(),
    async close() {
      if (engine.storeClosed) {
        // Nothing can be written any more: stop what holds timers.
        state.closing = true;
        state.timers.close();
        await state.writer.close();
        state.httpClient.close();
        return;
      }
      await shutdown(state, health, noCleaner, 0);
    },
  };
  return engine;
}

/**
 * Runs `fn` on an engine, closing it afterwards whatever happens.
 *
 * @example
 * ```ts
 * await withEngine({}, async (engine) => { ... });
 * ```
 */
export async function withEngine(
  opts: EngineOptions,
  fn: (engine: Engine & { gate: Gate }) => Promise<void> | void,
): Promise<void> {
  const engine = await openEngine(opts);
  try {
    await fn(engine);
  } finally {
    await engine.close();
  }
}

/** A periodic job due every minute, scheduled for T0 + 1 minute, its definition filled in. */
export function job(id: string, extra: Partial<Job> = {}): Job {
  return storedJob(id, {
    nextRunAt: T0 + MIN,
    createdAt: T0 - DAY,
    updatedAt: T0 - DAY,
    ...extra,
  });
}

/** A one-time job (no schedule: runs when its `nextRunAt` comes, or when started). */
export function onetime(id: string, extra: Partial<Job> = {}): Job {
  return job(id, { type: "onetime", schedule: "", ...extra });
}

/** Zero counters. */
export const noCounts = (): JobCounts => ({
  runs: 0,
  successes: 0,
  lastRun: null,
  skipped: 0,
  missed: 0,
});

/** Commits a batch straight to the store (what another process, or an earlier one, wrote). */
export async function writeStore(store: Store, b: Partial<Batch>) {
  return await store.write({ ...emptyBatch(), ...b });
}

/** Creates the jobs in the store. */
export async function putJobs(store: Store, jobs: Job[]): Promise<void> {
  const w = await writeStore(store, {
    puts: jobs.map((job) => ({ job, expected: null })),
  });
  assert(!w.puts.includes(false), "every seeded job was created");
}

/** A run of the job, started at `startedAt`, still going. */
export function going(
  id: number,
  jobId: string,
  startedAt: number,
  extra: Partial<Run> = {},
): Run {
  return {
    ...newRun({
      id,
      jobId,
      trigger: "schedule",
      attempt: 1,
      scheduledFor: startedAt,
      now: startedAt,
    }),
    ...extra,
  };
}

/** A run of the job that ended 5 ms after `startedAt`. */
export function finished(
  id: number,
  jobId: string,
  startedAt: number,
  extra: Partial<Run> = {},
): Run {
  const status = extra.status ?? "complete";
  return going(id, jobId, startedAt, {
    status,
    endedAt: startedAt + 5,
    durationMs: 5,
    message: status === "complete" ? "ok" : null,
    error: status === "failed" ? "boom" : null,
    ...extra,
  });
}

/** Resolves once every run of the entry going now has ended. */
export async function runsDone(e: Entry): Promise<void> {
  await Promise.all([...e.running.values()].map((g) => g.done));
}

/** Resolves once the run has ended and everything queued is committed. */
export async function ended(engine: Engine, jobId: string, run: Run | null) {
  assert(run, "a run was fired");
  await engine.state.entries.get(jobId)?.running.get(run.id)?.done;
  await engine.state.writer.flush();
  const found = await engine.store.getRun(jobId, run.id);
  assert(found, `run ${run.id} is stored`);
  return found;
}
