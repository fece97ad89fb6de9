/**
 * One timer for the whole engine: a min-heap of due times under a single
 * `setTimeout`, so 100,000 jobs cost one pending timer, not 100,000.
 *
 * @example
 * ```ts
 * const timers = createTimerQueue((key, at) => console.log(key, "due", at));
 * timers.set("job-a", Date.now() + 1000);
 * timers.delete("job-a");
 * timers.pause(); // nothing fires...
 * timers.resume(); // ...until now: what came due fires at once
 * timers.close();
 * ```
 * @module
 */
import { type Clock, systemClock } from "./clock.ts";

interface Entry {
  key: string;
  at: number;
  seq: number;
}

/** Keyed timers: setting a key again replaces its previous timer. */
export interface TimerQueue {
  /** Calls the queue's `fire(key, at)` once `at` (epoch ms) has come. */
  set(key: string, at: number): void;
  /** Forgets the timer of `key`, if any. */
  delete(key: string): void;
  /** When `key` is due, if set. */
  get(key: string): number | undefined;
  /** Number of pending timers. */
  readonly size: number;
  /** Cancels everything; the queue stays usable. */
  close(): void;
  /** Fires nothing until {@link TimerQueue.resume}; timers are kept and may still be set. */
  pause(): void;
  /** Fires again: what came due while paused fires at once, late, with its own time. */
  resume(): void;
  /** Whether the queue is paused. */
  readonly paused: boolean;
}

// setTimeout can't wait longer than 2^31-1 ms; re-check at least this often.
const MAX_WAIT_MS = 60 * 60 * 1000;
// setTimeout wakes up a millisecond or two late; wake this much early and
// wait out the rest, so a timer fires within a millisecond of its time.
const EARLY_MS = 2;

/**
 * Creates an empty timer queue.
 *
 * @example
 * ```ts
 * const q = createTimerQueue((key) => console.log(key), { now: () => Date.now() });
 * ```
 */
export function createTimerQueue(
  fire: (key: string, at: number) => void,
  clock: Clock = systemClock,
): TimerQueue {
  const heap: Entry[] = [];
  const live = new Map<string, Entry>();
  let seq = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let armedFor = Infinity;

  const less = (a: Entry, b: Entry) =>
    a.at < b.at || (a.at === b.at && a.seq < b.seq);

  function push(e: Entry) {
    heap.push(e);
    let i = heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(heap[i], heap[p])) break;
      const t = heap[i];
      heap[i] = heap[p];
      heap[p] = t;
      i = p;
    }
  }

  function pop(): Entry | undefined {
    const top = heap[0];
    const last = heap.pop();
    if (heap.length && last) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < heap.length && less(heap[l], heap[m])) m = l;
        if (r < heap.length && less(heap[r], heap[m])) m = r;
        if (m === i) break;
        const t = heap[i];
        heap[i] = heap[m];
        heap[m] = t;
        i = m;
      }
    }
    return top;
  }

  // Drops cancelled or replaced entries sitting at the top.
  function peek(): Entry | undefined {
    while (heap.length && live.get(heap[0].key) !== heap[0]) pop();
    return heap[0];
  }

  let ticking = false;
  let paused = false;

  function disarm() {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    armedFor = Infinity;
  }

  function arm() {
    if (ticking) return; // tick() arms once, after firing everything due
    if (paused) return disarm();
    const next = peek();
    if (!next) return disarm();
    if (timer !== undefined && armedFor <= next.at) return;
    if (timer !== undefined) clearTimeout(timer);
    armedFor = next.at;
    const wait = Math.min(
      Math.max(next.at - clock.now() - EARLY_MS, 0),
      MAX_WAIT_MS,
    );
    timer = setTimeout(tick, wait);
  }

  function tick() {
    timer = undefined;
    armedFor = Infinity;
    let now = clock.now();
    const first = peek();
    if (first && first.at > now && first.at - now <= EARLY_MS) {
      while (now < first.at) now = clock.now(); // at most EARLY_MS of waiting
    }
    ticking = true;
    try {
      for (let e = peek(); e && e.at <= now && !paused; e = peek()) {
        pop();
        live.delete(e.key);
        try {
          fire(e.key, e.at);
        } catch (err) {
          console.error(`timer ${e.key}: ${err}`);
        }
      }
    } finally {
      ticking = false;
    }
    arm();
  }

  return {
    set(key, at) {
      const e = { key, at, seq: seq++ };
      live.set(key, e);
      push(e);
      arm();
    },
    delete(key) {
      if (live.delete(key)) arm();
    },
    get: (key) => live.get(key)?.at,
    get size() {
      return live.size;
    },
    close() {
      disarm();
      heap.length = 0;
      live.clear();
    },
    pause() {
      paused = true;
      disarm();
    },
    resume() {
      paused = false;
      arm();
    },
    get paused() {
      return paused;
    },
  };
}
