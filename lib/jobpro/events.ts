/**
 * The engine's events, published only after the change they describe is
 * committed, each with the sequence number the store's event log gave it. A
 * bounded log in memory lets a consumer that reconnects catch up (or learn it
 * is too far behind and must refetch).
 *
 * @example
 * ```ts
 * const bus = createEventBus();
 * const stop = bus.subscribe((e) => console.log(e.seq, e.type));
 * bus.publish({ type: "job-deleted", id: "nightly" });
 * stop();
 * ```
 * @module
 */
import type { JobView } from "./job.ts";
import type { RunView } from "./run.ts";
import type { RunOutputChunk } from "./live_output.ts";

/** What changed. */
export type JobEvent =
  | { type: "job-update"; job: JobView }
  | { type: "job-deleted"; id: string }
  | { type: "run-started"; run: RunView }
  | { type: "run-finished"; run: RunView }
  /** A piece of a run's live output, at its offset (live_output.ts). */
  | { type: "run-output"; output: RunOutputChunk };

/** An event as delivered: with its sequence number and publish time (epoch ms). */
export type Delivered = JobEvent & { seq: number; at: number };

/** Publish/subscribe with a replay log. */
export interface EventBus {
  /** Delivers the event under `seq` (the store's), or the next number when none is given (or `seq` is not after the last). */
  publish(event: JobEvent, seq?: number): Delivered;
  /** Calls `fn` for every event from now on; returns the unsubscribe. */
  subscribe(fn: (e: Delivered) => void): () => void;
  /**
   * Events after `lastId`, or null when the log no longer reaches back that
   * far (the consumer must refetch everything).
   */
  since(lastId: number): Delivered[] | null;
  /** The id of the newest event (ids start near the clock in µs, not at 0). */
  readonly lastId: number;
  /** How many subscribers are attached. */
  readonly subscribers: number;
}

/**
 * Creates a bus keeping the last `logSize` events for replay.
 *
 * @example
 * ```ts
 * const bus = createEventBus({ logSize: 100 });
 * bus.since(0); // []
 * ```
 */
export function createEventBus(
  { logSize = 2000, lastId: first = 0 } = {},
): EventBus {
  const subs = new Set<(e: Delivered) => void>();
  // A ring: event `seq` lives at ring[seq % logSize] while it is recent enough.
  const ring: (Delivered | undefined)[] = new Array(logSize);
  // Ids are the store's event sequence, so they go on across restarts.
  let lastId = first;
  return {
    publish(event, asked = lastId + 1) {
      // Ids only grow: one published out of the store's order (a test's, or
      // a bus used without a store) moves the next ones on past it.
      const seq = asked > lastId ? asked : lastId + 1;
      // Numbers skipped (the store logged an event for a job deleted since)
      // hold nothing; `since` passes over them.
      for (let s = lastId + 1; s < seq && s <= lastId + logSize; s++) {
        ring[s % logSize] = undefined;
      }
      lastId = seq;
      const e = { ...event, seq, at: Date.now() } as Delivered;
      ring[lastId % logSize] = e;
      for (const fn of subs) {
        try {
          fn(e);
        } catch (err) {
          console.error(`event subscriber failed on event ${e.seq}: ${err}`);
        }
      }
      return e;
    },
    subscribe(fn) {
      subs.add(fn);
      return () => void subs.delete(fn);
    },
    since(id) {
      if (id === lastId) return [];
      if (id > lastId) return null; // from a log we know nothing about
      // What came before this bus (an earlier process) is not in the ring.
      const oldest = Math.max(first + 1, lastId - logSize + 1);
      if (id + 1 < oldest) return null;
      const out: Delivered[] = [];
      for (let seq = Math.max(id + 1, 1); seq <= lastId; seq++) {
        const e = ring[seq % logSize];
        if (e && e.seq === seq) out.push(e);
      }
      return out;
    },
    get lastId() {
      return lastId;
    },
    get subscribers() {
      return subs.size;
    },
  };
}
