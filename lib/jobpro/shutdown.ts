/**
 * Shutdown: the engine's orderly stop. No new runs once it begins; runs
 * going get a grace period, then are aborted; every result is committed
 * before the store closes.
 *
 * @example
 * ```ts
 * await shutdown(state, health, cleaner, 10_000);
 * ```
 * @module
 */
import type { Cleaner } from "./cleaner.ts";
import type { ClusterNode } from "./cluster_node.ts";
import type { HealthService } from "./health.ts";
import { abortRuns } from "./runner.ts";
import { shelve } from "./queue.ts";
import { Abort, type EngineState } from "./state.ts";

/** Resolves when `p` does, or after `ms`, whichever comes first. */
async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let t: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([p, new Promise((r) => (t = setTimeout(r, ms)))]);
  clearTimeout(t);
}

/**
 * Stops scheduling, gives running runs `graceMs` to finish, aborts the rest
 * (they end cancelled), then flushes and closes the store. Twice is once.
 */
export async function shutdown(
  state: EngineState,
  health: HealthService,
  cleaner: Cleaner,
  graceMs: number,
  node: ClusterNode | null = null,
) {
  if (state.closing) return;
  state.closing = true;
  health.stop();
  const cleaning = cleaner.stop();
  state.timers.close(); // no new runs from here on
  // Queued runs stay queued in the store: the next start (or owner) runs them.
  await state.queue.busy?.catch(() => {});
  shelve(state);
  // The next ticks fire on the other nodes, on time; runs going here
  // finish here, under this node's lease, which it keeps until they are written.
  await node?.handOver();
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
  if (node) {
    // The jobs whose runs just ended go over too, once those are written.
    await state.writer.flush().catch(() => {});
    await node.handOver();
  }
  await cleaning;
  // Sends going finish (their timeout at most); what is left pending is
  // sent after the next start.
  await state.notifier?.stop();
  await state.chainer?.stop();
  await state.writer.close();
  await node?.leave();
  await state.store.close();
  state.httpClient.close();
}
