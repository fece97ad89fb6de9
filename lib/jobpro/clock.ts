/**
 * Where the engine reads the time. Tests pass their own to make time-dependent
 * behaviour (restart catch-up, due one-time jobs) deterministic.
 *
 * @example
 * ```ts
 * const clock: Clock = { now: () => Date.parse("2024-01-15T00:00:00Z") };
 * ```
 * @module
 */

/** A source of the current time in epoch milliseconds. */
export interface Clock {
  now(): number;
}

/** The real clock. */
export const systemClock: Clock = { now: () => Date.now() };
