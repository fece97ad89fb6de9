/**
 * The cleaner: old runs are pruned at start and then every hour, in the
 * background and in batches (the scheduler never waits for it): runs that
 * started more than `retentionDays` ago, runs beyond `maxRunsPerJob` per job,
 * and events beyond the event log's bound.
 *
 * A node of a cluster prunes first at a random point of its first hour
 * instead (`firstMs`): a prune reads every run kept, and in the cluster
 * soak three of twenty rolling restarts, each pruning on every node as it
 * came back, held the cluster's starts and finishes up for over 6 s.
 *
 * @example
 * ```ts
 * const cleaner = startCleaner(state);
 * await cleaner.stop();
 * ```
 * @module
 */
import type { EngineState } from "./state.ts";

/** How often the cleaner runs. */
export const CLEAN_EVERY_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** A running cleaner. */
export interface Cleaner {
  /** Prunes now (after any prune in progress); resolves when done. */
  clean(): Promise<void>;
  /** Stops between batches; resolves when the prune in progress has stopped. */
  stop(): Promise<void>;
}

/**
 * Starts cleaning: `firstMs` from now (default: at once), then every
 * `everyMs` ({@link CLEAN_EVERY_MS}).
 *
 * @example
 * ```ts
 * const cleaner = startCleaner(state, { everyMs: 60_000 });
 * ```
 */
export function startCleaner(
  state: EngineState,
  { everyMs = CLEAN_EVERY_MS, firstMs = 0 } = {},
): Cleaner {
  const stopping = new AbortController();
  let pruning: Promise<void> = Promise.resolve();
  const clean = () => {
    const t0 = performance.now();
    pruning = pruning.then(() =>
      state.store.prune({
        before: state.clock.now() - state.settings.retentionDays * DAY_MS,
        maxPerJob: state.settings.maxRunsPerJob,
        signal: stopping.signal,
      }).then((n) => {
        if (n) {
          state.log(
            "info",
            `pruned ${n} old runs in ${Math.round(performance.now() - t0)} ms`,
          );
        }
      }, (e) => {
        if (!stopping.signal.aborted) {
          state.log(
            "error",
            `pruning old runs failed: ${(e as Error).message}`,
          );
        }
      })
    );
    return pruning;
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const after = (ms: number) => {
    timer = setTimeout(round, ms);
    Deno.unrefTimer(timer);
  };
  const round = () => {
    void clean();
    after(everyMs);
  };
  if (firstMs > 0) after(firstMs);
  else round();
  return {
    clean,
    stop() {
      clearTimeout(timer);
      stopping.abort();
      return pruning;
    },
  };
}
