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
import type { FunctionInfo } from "../jobs/registry.ts";
import { type ApplyAnswer, applyJobs, type ApplyOptions } from "./apply.ts";
import { type BulkAnswer, parseBulk, runBulk } from "./bulk.ts";
import {
  type CrontabAnswer,
  type CrontabImportOptions,
  importCrontab,
} from "./crontab_import.ts";
import { exportJobs, type JobsDocument } from "./export.ts";
import { cancelRun } from "./cancel.ts";
import { CLEAN_EVERY_MS, type Cleaner, startCleaner } from "./cleaner.ts";
import { type ClusterNode, joinCluster } from "./cluster_node.ts";
import { defineJob, freshId } from "./definition.ts";
import { assemble, type ManagerOptions } from "./engine.ts";
import { invalid, JobproError } from "./errors.ts";
import type { EventBus } from "./events.ts";
import {
  type Health,
  type HealthService,
  type NodeHealth,
  nodeHealth,
} from "./health.ts";
import {
  type Job,
  type JobInput,
  type JobPatch,
  type JobView,
  parseJobInput,
  parseJobPatch,
} from "./job.ts";
import { type JobQuery, listJobs } from "./job_list.ts";
import {
  type Change,
  changeJob,
  createJob,
  deleteJob,
  runJobNow,
} from "./operations.ts";
import {
  pausePlan,
  reschedulePlan,
  resumePlan,
  started,
  startPlan,
  stopPlan,
  updatePlan,
} from "./plans.ts";
import { recover } from "./recovery.ts";
import { type DeliveryView, deliveryView, redactNotify } from "./notify.ts";
import { startNotifier } from "./notifier.ts";
import * as limits from "./limits.ts";
import { pingCalls, type PingKind } from "./ping.ts";
import { startChainer } from "./chainer.ts";
import { upstreamOf } from "./chains.ts";
import { type Run, type RunView, runView } from "./run.ts";
import { withOutputSoFar } from "./output_feed.ts";
import { redactAction } from "./secrets.ts";
import { shutdown as stopEngine } from "./shutdown.ts";
import { type EngineState, entryOf } from "./state.ts";
import type { JobStats, RunQuery } from "./store.ts";
import { viewOf } from "./views.ts";

export type { ManagerOptions } from "./engine.ts";

/** The engine's API. */
export interface Manager {
  create(input: unknown): Promise<JobView>;
  get(id: string): JobView;
  list(q?: JobQuery): { jobs: JobView[]; total: number };
  /** Each job's last success and last failure (epoch ms, null: none), in one pass. */
  lastOutcomes(): Iterable<
    [id: string, success: number | null, failure: number | null]
  >;
  update(id: string, patch: unknown): Promise<JobView>;
  start(id: string): Promise<JobView>;
  stop(id: string): Promise<JobView>;
  pause(id: string): Promise<JobView>;
  resume(id: string): Promise<JobView>;
  reschedule(id: string, schedule: string): Promise<JobView>;
  /** Starts a run now, outside the schedule; resolves with it once its start is committed. */
  runNow(id: string): Promise<RunView>;
  /**
   * Cancels a run going, on whichever node runs it; `by` (who asked) goes
   * in its error, "cancelled by <by>". Resolves with the run once it has
   * ended, or as it is, `ended` false, if it has not ended within the kill
   * grace and a margin (cancel.ts).
   */
  cancelRun(
    id: string,
    runId: number,
    by: string,
  ): Promise<{ run: RunView; ended: boolean }>;
  delete(id: string): Promise<void>;
  /** The concurrency limits and runs now; set or removed (null) by `{ limits: { key: n } }` (limits.ts). */
  concurrency(): Promise<limits.ConcurrencyView>;
  setConcurrency(body: unknown): Promise<limits.ConcurrencyView>;
  /** Records a heartbeat job's ping (ping.ts); resolves with its run once committed. */
  ping(id: string, kind: PingKind, body: string | null): Promise<RunView>;
  /** Whether `key` is the heartbeat job's ping key (false for an unknown job: nothing leaks). */
  pingKeyMatches(id: string, key: string): boolean;
  /** Gives the heartbeat job a new ping key (the old one stops working); the job then. */
  rotatePingKey(id: string): Promise<JobView>;
  /** When the heartbeat job's last ping came (ISO), null before the first. */
  lastPing(id: string): Promise<string | null>;
  /**
   * Pauses, resumes, runs now or deletes many jobs (by ids, or by the
   * list's filters), each through the operation above; every job's outcome.
   */
  bulk(body: unknown): Promise<BulkAnswer>;
  runs(id: string, q?: RunQuery): Promise<{ runs: RunView[]; total: number }>;
  /** One run with its output (stored with the action's secret values blanked out). */
  run(id: string, runId: number): Promise<RunView>;
  /** The view with its action in clear (for callers allowed to see secrets); the same object when nothing is hidden. */
  revealed(view: JobView): JobView;
  stats(id: string): Promise<JobStats>;
  /** The jobs that chain to this one (their onSuccess/onFailure name it), in creation order. */
  chainedFrom(id: string): { jobId: string; on: "success" | "failure" }[];
  /** The job's alert deliveries, newest first (at most `limit`, default 20). */
  deliveries(id: string, limit?: number): Promise<DeliveryView[]>;
  /** Every job's definition, as apply takes it (secrets in clear only with `reveal`). */
  exportJobs(opts: { reveal: boolean }): JobsDocument;
  /**
   * Makes a document of definitions true by id, all or nothing: created,
   * configured, unchanged, and with `prune` the jobs it does not list
   * deleted; `dryRun` only answers what it would do (apply.ts).
   */
  apply(doc: unknown, opts: ApplyOptions): Promise<ApplyAnswer>;
  /** A crontab's lines as shell jobs, applied as a document (crontab_import.ts). */
  importCrontab(
    text: string,
    opts: CrontabImportOptions,
  ): Promise<CrontabAnswer>;
  /** Upserts a definition by id (job sources); keeps runtime status. */
  upsert(input: JobInput & { id: string }): Promise<JobView>;
  /** The functions a `function` action may call: names, descriptions, params. */
  functions(): FunctionInfo[];
  /** Every event after the change is committed. */
  readonly events: EventBus;
  /** Whether the store answers, writes go through and the scheduler runs; why not, when not. */
  health(): Promise<Health>;
  /** On a node of a cluster: its name, epoch, owned jobs and the live nodes; null otherwise. */
  readonly node: NodeHealth | null;
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

/**
 * Creates the manager, restores every stored job and starts scheduling.
 *
 * @example
 * ```ts
 * const manager = await createManager({ store, clock: systemClock });
 * ```
 */
export async function createManager(opts: ManagerOptions): Promise<Manager> {
  const { state, health } = await assemble(opts);
  // A node follows the log from before it loads the jobs: nothing another
  // node commits in between is missed.
  const fromSeq = state.node ? await state.store.lastEventSeq() : 0;
  await limits.initLimits(state, opts.concurrency); // before queued runs are restored
  await recover(state);
  const node = state.node && opts.lease
    ? await joinCluster(state, opts.lease, fromSeq)
    : null;
  // A cluster's nodes prune at different times, and none as it starts.
  const cleaner = startCleaner(state, {
    firstMs: node ? Math.random() * CLEAN_EVERY_MS : 0,
  });
  startNotifier(state, opts.notify);
  startChainer(state);
  return facade(state, health, cleaner, node);
}

/** The manager over an engine state. */
function facade(
  state: EngineState,
  health: HealthService,
  cleaner: Cleaner,
  node: ClusterNode | null,
): Manager {
  const manager: Manager = {
    events: state.events,
    ...jobCalls(state),
    ...runCalls(state),

    delete: (id) => deleteJob(state, id),

    chainedFrom(id) {
      entryOf(state, id);
      return upstreamOf(state.entries, id);
    },

    concurrency: () => limits.concurrencyView(state),
    setConcurrency: (body) => limits.setConcurrency(state, body),

    ...pingCalls(state),

    bulk: async (body) => await runBulk(state, parseBulk(body), manager),

    revealed(view) {
      const job = state.entries.get(view.id)?.job;
      if (!job) return view;
      const { action, notify = [] } = job;
      const out = redactAction(action) === action ? view : { ...view, action };
      return redactNotify(notify) === notify ? out : { ...out, notify };
    },

    async upsert(input) {
      if (!state.entries.has(input.id)) return await manager.create(input);
      const { id: _id, ...definition } = input;
      return await manager.update(input.id, definition);
    },

    exportJobs: (o) => exportJobs(state.entries.values(), o),

    apply: (doc, o) => applyJobs(state, doc, o),

    importCrontab: (text, o) => importCrontab(state, text, o),

    functions: () => state.settings.functions.describe(),

    health: () => health.check(),

    shutdown: (o) =>
      stopEngine(state, health, cleaner, o?.graceMs ?? 10_000, node),

    *lastOutcomes() {
      for (const [id, e] of state.entries) {
        yield [
          id,
          e.counts.lastSuccessAt ?? null,
          e.counts.lastFailureAt ?? null,
        ];
      }
    },

    get node() {
      return nodeHealth(state);
    },

    get size() {
      return state.entries.size;
    },

    get httpActions() {
      return { active: state.outbound.active, waiting: state.outbound.waiting };
    },
  };
  return manager;
}

/** The calls that read and change job definitions and states. */
function jobCalls(state: EngineState) {
  const change = async (
    id: string,
    plan: (job: Job, now: number) => Change,
  ) => viewOf(await changeJob(state, id, plan));
  return {
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
      const built = defineJob(state, input, id, now);
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
      return change(id, (job, now) => updatePlan(state, job, patch, now));
    },

    start: (id) => change(id, (job, now) => startPlan(state, job, now)),

    stop: (id) => change(id, (job, now) => stopPlan(state, job, now)),

    pause: (id) => change(id, (job, now) => pausePlan(state, job, now)),

    resume: (id) => change(id, (job, now) => resumePlan(state, job, now)),

    reschedule(id, schedule) {
      if (typeof schedule !== "string" || schedule.trim() === "") {
        throw invalid(
          "schedule",
          'is required: the new time, such as "in 10m" (an empty schedule is not a time)',
        );
      }
      return change(
        id,
        (job, now) => reschedulePlan(state, job, schedule, now),
      );
    },
  } satisfies Partial<Manager>;
}

/** A run held in memory is this node's (stored ones name their node). */
function here(state: EngineState, run: Run): Run {
  return state.node && run.node == null
    ? { ...run, node: state.node.name }
    : run;
}

/** The calls that start, cancel and read runs. */
function runCalls(state: EngineState) {
  return {
    runNow: async (id) => runView(here(state, await runJobNow(state, id))),

    async cancelRun(id, runId, by) {
      const { run, ended } = await cancelRun(state, id, runId, by);
      return { run: runView(here(state, run), { withOutput: true }), ended };
    },

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
      const found = going
        ? here(state, withOutputSoFar(going))
        : await state.store.getRun(id, runId);
      if (!found) {
        throw new JobproError("not_found", `job "${id}" has no run ${runId}`);
      }
      return runView(found, { withOutput: true });
    },

    async stats(id) {
      entryOf(state, id);
      await state.writer.settle();
      return await state.store.stats(id);
    },

    async deliveries(id, limit) {
      entryOf(state, id);
      await state.writer.settle();
      return (await state.store.listDeliveries(id, limit)).map(deliveryView);
    },
  } satisfies Partial<Manager>;
}
