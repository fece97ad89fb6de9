/**
 * The retry policy: how long to wait before attempt n+1 of a failed run.
 * Exponential from the job's `retryDelayMs`, with jitter, capped.
 *
 * @example
 * ```ts
 * retryDelay({ baseMs: 1000, attempt: 1 }); // about 1000 ms (0.5x..1.5x)
 * retryDelay({ baseMs: 1000, attempt: 3 }); // about 4000 ms
 * ```
 * @module
 */

/** The longest a retry ever waits, whatever the base and attempt. */
export const MAX_RETRY_DELAY_MS = 60 * 60 * 1000;

/**
 * Delay before the retry that follows failed attempt `attempt` (1-based):
 * `baseMs * 2^(attempt-1)`, times a jitter factor in [0.5, 1.5), capped at `capMs`.
 *
 * @example
 * ```ts
 * retryDelay({ baseMs: 100, attempt: 2, random: () => 0.5 }); // 200
 * ```
 */
export function retryDelay(
  { baseMs, attempt, capMs = MAX_RETRY_DELAY_MS, random = Math.random }: {
    baseMs: number;
    attempt: number;
    capMs?: number;
    random?: () => number;
  },
): number {
  const exp = baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30);
  const jittered = exp * (0.5 + random());
  return Math.round(Math.min(jittered, capMs));
}

/**
 * The jitter of the retry after run `runId`: a number in [0, 1) fixed by
 * the run, so that whoever plans that retry (its node, or after a restart
 * or a take-over, another) plans it for the same time.
 *
 * @example
 * ```ts
 * retryDelay({ baseMs: 1000, attempt: 1, random: jitterOf(42) }); // the same each time
 * ```
 */
export function jitterOf(runId: number): () => number {
  let h = Math.imul(runId ^ 0x9e3779b9, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return () => (h >>> 0) / 2 ** 32;
}

/**
 * When the retry after a failed run is due: from the run's end, by the
 * policy, with the run's own jitter.
 *
 * @example
 * ```ts
 * retryAt({ id: 7, attempt: 1, endedAt: 0 }, 1000); // 500..1500
 * ```
 */
export function retryAt(
  run: { id: number; attempt: number; endedAt: number | null },
  baseMs: number,
  now = Date.now(),
): number {
  return (run.endedAt ?? now) +
    retryDelay({ baseMs, attempt: run.attempt, random: jitterOf(run.id) });
}
