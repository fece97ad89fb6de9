/**
 * The engine's events, published only after the change they describe is
 * committed. Each gets an increasing id; a bounded log lets a consumer that
 * reconnects catch up (or learn it is too far behind and must refetch).
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

/** What changed. */
export type JobEvent =
  | { type: "job-update"; job: JobView }
  | { type: "job-deleted"; id: string }
  | { type: "run-started"; run: RunView }
  | { type: "run-finished"; run: RunView };

/** An event as delivered: with its sequence number and publish time (epoch ms). */
export type Delivered = JobEvent & { seq: number; at: number };

/** Publish/subscribe with a replay log. */
export interface EventBus {
  publish(event: JobEvent): Delivered;
  /** Calls `fn` for every event from now on; returns the unsubscribe. */
  subscribe(fn: (e: Delivered) => void): () => void;
  /**
   * Events after `lastId`, or null when the log no longer reaches back that
   * far (the consumer must refetch everything).
   */
  since(lastId: number): Delivered[] | null;
  /** The id of the newest event, 0 before any. */
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
export function createEventBus({ logSize = 2000 } = {}): EventBus {
  const subs = new Set<(e: Delivered) => void>();
  const log: Delivered[] = [];
  let lastId = 0;
  return {
    publish(event) {
      const e = { ...event, seq: ++lastId, at: Date.now() } as Delivered;
      log.push(e);
      if (log.length > logSize) log.splice(0, log.length - logSize);
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
      if (id >= lastId) return [];
      const first = log[0]?.seq ?? lastId + 1;
      if (id < first - 1) return null;
      return log.slice(id - first + 1);
    },
    get lastId() {
      return lastId;
    },
    get subscribers() {
      return subs.size;
    },
  };
}
