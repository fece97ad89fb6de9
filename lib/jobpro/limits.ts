/**
 * The concurrency limits as a client reads and sets them (manager.ts): the
 * server-wide cap of this node, the stored limits by key with their runs
 * running and queued (across the cluster: counted in the store), and this
 * node's own counts. Setting limits is committed (and logged, so every node
 * reads them again) before it takes effect; then the queue is tried.
 *
 * @example
 * ```ts
 * await initLimits(state, { backups: 1 }); // the environment's defaults
 * const view = await setConcurrency(state, { limits: { reports: 2 } });
 * ```
 * @module
 */
import { type Limits, parseLimitsBody } from "./concurrency.ts";
import { JobproError } from "./errors.ts";
import { drain, loadLimits } from "./queue.ts";
import type { EngineState } from "./state.ts";
import type { KeyUsage } from "./store.ts";

/** The limits and counts as a client reads them. */
export interface ConcurrencyView {
  /** The most runs going at once on this node (JOBPRO_MAX_CONCURRENT_RUNS); null: no cap. */
  maxConcurrentRuns: number | null;
  /** Runs going on this node now (queued ones aside). */
  activeRuns: number;
  /** Runs queued on this node now. */
  queuedRuns: number;
  /** Each key's limit, with its runs running and queued (on every node). */
  keys: KeyUsage[];
}

/** Writes the environment's limits for keys that have none stored, then reads them all. */
export async function initLimits(
  state: EngineState,
  defaults: Limits = {},
): Promise<void> {
  if (Object.keys(defaults).length) {
    await state.store.setLimits(defaults, true);
  }
  await loadLimits(state);
}

/** The limits and counts now. */
export async function concurrencyView(
  state: EngineState,
): Promise<ConcurrencyView> {
  await state.writer.settle();
  const keys = await state.store.concurrency();
  const queued = state.queue.waiting.length;
  return {
    maxConcurrentRuns: state.settings.maxConcurrentRuns,
    activeRuns: state.activeRuns,
    queuedRuns: queued,
    keys,
  };
}

/** Sets (or removes, null) limits by key from a client's body; the limits then. */
export async function setConcurrency(
  state: EngineState,
  body: unknown,
): Promise<ConcurrencyView> {
  const limits = parseLimitsBody(body);
  if (state.closing) {
    throw new JobproError("unavailable", "the server is shutting down");
  }
  await state.store.setLimits(limits);
  await loadLimits(state);
  void drain(state); // a limit raised or removed frees slots
  return await concurrencyView(state);
}
