/**
 * A counting semaphore with a first-come, first-served queue: at most `max`
 * holders at once; the rest wait their turn (abortable) instead of failing.
 * It caps the outbound connections of http actions, so a thousand runs
 * against a target that never answers cannot exhaust the process's file
 * descriptors.
 *
 * @example
 * ```ts
 * const limiter = createLimiter(2);
 * const release = await limiter.acquire(signal);
 * try { await work(); } finally { release(); }
 * ```
 * @module
 */

/** The semaphore. */
export interface Limiter {
  /** Resolves with a release function once a slot is free; rejects with the signal's reason if aborted first. */
  acquire(signal?: AbortSignal): Promise<() => void>;
  /** Slots taken now. */
  readonly active: number;
  /** Callers waiting for a slot. */
  readonly waiting: number;
}

type Waiter = { grant: () => void; signal?: AbortSignal; onAbort?: () => void };

/**
 * Creates a semaphore of `max` slots.
 *
 * @example
 * ```ts
 * const limiter = createLimiter(256);
 * ```
 */
export function createLimiter(max: number): Limiter {
  let active = 0;
  const queue: Waiter[] = [];

  function release() {
    const next = queue.shift();
    if (next) {
      if (next.onAbort) next.signal?.removeEventListener("abort", next.onAbort);
      next.grant(); // the slot passes on: `active` stays the same
    } else active--;
  }

  function once(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      release();
    };
  }

  return {
    acquire(signal) {
      if (signal?.aborted) return Promise.reject(signal.reason);
      if (active < max) {
        active++;
        return Promise.resolve(once());
      }
      return new Promise((resolve, reject) => {
        const w: Waiter = { grant: () => resolve(once()), signal };
        if (signal) {
          w.onAbort = () => {
            const i = queue.indexOf(w);
            if (i >= 0) queue.splice(i, 1);
            reject(signal.reason);
          };
          signal.addEventListener("abort", w.onAbort, { once: true });
        }
        queue.push(w);
      });
    },
    get active() {
      return active;
    },
    get waiting() {
      return queue.length;
    },
  };
}
