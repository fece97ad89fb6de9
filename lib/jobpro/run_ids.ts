/**
 * Run ids. A store one process holds hands them out from its highest stored
 * id on; nodes of a cluster take them in blocks the store reserves (a
 * sequence), so no two nodes ever give one id to two runs. The next block is
 * fetched while the current one still lasts, so taking an id never waits.
 *
 * @example
 * ```ts
 * const id = takeRunId(state);
 * ```
 * @module
 */
import { JobproError } from "./errors.ts";
import type { EngineState, NodeState } from "./state.ts";

/**
 * The next run id; on a node whose blocks are used up (the database has not
 * answered for hundreds of runs) an `unavailable` error: no id is ever guessed.
 */
export function takeRunId(state: EngineState): number {
  const node = state.node;
  if (!node) return state.nextRunId++;
  if (state.nextRunId >= node.runIdsEnd && node.spareRunIds) {
    switchTo(state, node, node.spareRunIds);
    node.spareRunIds = null;
  }
  if (!node.spareRunIds && node.runIdsEnd - state.nextRunId < LOW_WATER) {
    void fetchSpare(state);
  }
  if (state.nextRunId >= node.runIdsEnd) {
    throw new JobproError(
      "unavailable",
      "no run ids left: the database has not answered for a while",
    );
  }
  return state.nextRunId++;
}

/**
 * Fewer ids than this left in the block: the next one is fetched (half a
 * reservation: the other half covers the seconds that fetch may take).
 */
const LOW_WATER = 5000;

/** Fetches the next block ahead (one fetch at a time). */
export function fetchSpare(state: EngineState): Promise<void> {
  const node = state.node;
  if (!node || node.spareRunIds) return Promise.resolve();
  return node.fetchingRunIds ??= node.store.reserveRunIds()
    .then((b) => {
      node.spareRunIds = b;
      if (state.nextRunId >= node.runIdsEnd) {
        switchTo(state, node, b);
        node.spareRunIds = null;
      }
    })
    .catch((e) =>
      state.log("warn", `cannot reserve run ids yet: ${(e as Error).message}`)
    )
    .finally(() => (node.fetchingRunIds = null));
}

function switchTo(
  state: EngineState,
  node: NodeState,
  b: { first: number; count: number },
) {
  state.nextRunId = b.first;
  node.runIdsEnd = b.first + b.count;
}
