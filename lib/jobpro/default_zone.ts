/**
 * The server-wide default time zone (JOBPRO_TIMEZONE): a job without a zone
 * of its own is scheduled in it, and a zoneless absolute time is read in
 * it. It is the process's, as the variable is: set once when the engine is
 * assembled (engine.ts), read wherever a schedule is parsed.
 *
 * @example
 * ```ts
 * setDefaultZone("Europe/Berlin");
 * defaultZone(); // "Europe/Berlin"
 * effectiveZone({ timezone: null }); // "Europe/Berlin"
 * ```
 * @module
 */
import { validateTimezone } from "./zones.ts";

let zone = "UTC";

/** The zone a job without its own is scheduled in (default "UTC"). */
export function defaultZone(): string {
  return zone;
}

/**
 * Sets the default zone; throws `invalid` ("timezone") for an unknown one.
 *
 * @example
 * ```ts
 * setDefaultZone("UTC");
 * ```
 */
export function setDefaultZone(tz: string): void {
  zone = validateTimezone(tz);
}

/**
 * The zone a job is scheduled in: its own, or the default.
 *
 * @example
 * ```ts
 * effectiveZone({ timezone: "Asia/Tokyo" }); // "Asia/Tokyo"
 * ```
 */
export function effectiveZone(job: { timezone: string | null }): string {
  return job.timezone || zone;
}
