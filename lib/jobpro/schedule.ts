/**
 * A job's schedule: what the user wrote, parsed into plain data, and the
 * times it fires. The one entry point for the manager and the HTTP layer.
 *
 * - periodic: a cron expression (see `cron.ts`), run in the job's IANA zone;
 * - one-time: a relative or absolute time (see `onetime.ts`), resolved once;
 * - manual: an empty schedule; the job runs only when started or run.
 *
 * Every bad input throws `JobproError("invalid", ..., "schedule")` whose
 * message names the wrong part, or field `"timezone"` for a bad zone.
 *
 * @example
 * ```ts
 * import { nextRun, parseSchedule } from "./schedule.ts";
 * const s = parseSchedule("0 30 2 * * MON-FRI", { timezone: "Europe/Berlin" });
 * nextRun(s, new Date("2024-01-15T00:00:00Z")); // 2024-01-15T01:30:00.000Z
 * ```
 * @module
 */
import { invalid, JobproError } from "./errors.ts";
import {
  compileCron,
  isCronExpression,
  MAX_CRON_LENGTH,
  nextCronRun,
  splitWords,
} from "./cron.ts";
import { parseOnce } from "./onetime.ts";
import { validateTimezone } from "./zones.ts";
import { describeSchedule } from "./describe.ts";

export { compileCron, isCronExpression } from "./cron.ts";
export type { CronSpec } from "./cron.ts";
export { validateTimezone, ZONE_ABBREVIATIONS } from "./zones.ts";
export type { ZoneAbbreviation } from "./zones.ts";
export { describeSchedule } from "./describe.ts";

/** A parsed schedule; plain data, safe to store and compare. */
export type Schedule =
  /** periodic: a cron expression run in an IANA zone */
  | { kind: "cron"; expr: string; timezone: string }
  /** one-time: the resolved instant */
  | { kind: "once"; expr: string; at: Date }
  /** empty schedule: runs only when started or run */
  | { kind: "manual"; expr: "" };

/** Longest schedule text accepted, in characters. */
export const MAX_SCHEDULE_LENGTH = MAX_CRON_LENGTH;

/** Options for {@link parseSchedule}. */
export type ParseOptions = {
  /** The job's IANA zone (default "UTC"): cron runs in it, a zoneless absolute time is read in it. */
  timezone?: string;
  /** What relative times count from (default: the current time). */
  now?: Date;
};

/**
 * Parses a schedule string. Empty (or blank) is manual; text shaped like cron
 * is periodic; anything else must be a one-time time.
 *
 * @example
 * ```ts
 * parseSchedule("*\/15 * * * * *"); // { kind: "cron", expr: "*\/15 * * * * *", timezone: "UTC" }
 * parseSchedule("in 30s", { now: new Date("2024-01-15T12:00:00Z") }).kind; // "once", at 12:00:30Z
 * parseSchedule(""); // { kind: "manual", expr: "" }
 * parseSchedule("0 61 * * *"); // throws "schedule: minute field: 61 is out of range 0-59"
 * ```
 */
export function parseSchedule(expr: string, opts: ParseOptions = {}): Schedule {
  if (typeof expr !== "string") throw invalid("schedule", "must be a string");
  if (expr.length > MAX_SCHEDULE_LENGTH) {
    throw invalid(
      "schedule",
      `is too long (${expr.length} characters, at most ${MAX_SCHEDULE_LENGTH})`,
    );
  }
  const timezone = opts.timezone ? validateTimezone(opts.timezone) : "UTC";
  const text = splitWords(expr).join(" ");
  if (text === "") return { kind: "manual", expr: "" };
  if (isCronExpression(text)) {
    compileCron(text);
    return { kind: "cron", expr: text, timezone };
  }
  const now = (opts.now ?? new Date()).getTime();
  if (!Number.isFinite(now)) {
    throw invalid("schedule", "the reference time is not a valid date");
  }
  const at = parseOnce(text, { now, timezone });
  // Years 0000-9999 only: beyond that a Date is invalid, or nearly so.
  if (
    !Number.isFinite(at) || at < -62_167_219_200_000 || at > 253_402_300_799_999
  ) {
    throw invalid("schedule", `"${text}" falls outside the years 0000-9999`);
  }
  return { kind: "once", expr: text, at: new Date(at) };
}

/**
 * The next fire time strictly after `after`, or null when there is none: a
 * manual schedule, a one-time schedule at or before `after`, a cron
 * expression with no time left before year 10000. (A one-time job whose time
 * has passed should run at once; that is the manager's call, made by
 * comparing `s.at` with the current time.)
 *
 * @example
 * ```ts
 * nextRun(parseSchedule("0 0 13 * 5"), new Date("2024-01-01T00:00:00Z")); // 2024-01-05 (a Friday)
 * nextRun(parseSchedule(""), new Date()); // null
 * ```
 */
export function nextRun(s: Schedule, after: Date): Date | null {
  const t = after.getTime();
  switch (s.kind) {
    case "manual":
      return null;
    case "once":
      return s.at.getTime() > t ? new Date(s.at.getTime()) : null;
    case "cron": {
      // Past year 9999 there is no next time (croner throws on such dates).
      if (!Number.isFinite(t) || t >= 253_402_300_799_999) return null;
      let next: number | null;
      try {
        next = nextCronRun(
          compileCron(s.expr),
          validateTimezone(s.timezone),
          t,
        );
      } catch (e) {
        if (e instanceof JobproError) throw e;
        return null;
      }
      return next === null || next > 253_402_300_799_999
        ? null
        : new Date(next);
    }
  }
}

/**
 * Up to `count` fire times strictly after `after`, in order.
 *
 * @example
 * ```ts
 * nextRuns(parseSchedule("@hourly"), new Date("2024-01-01T00:30:00Z"), 2);
 * // [2024-01-01T01:00:00Z, 2024-01-01T02:00:00Z]
 * ```
 */
export function nextRuns(s: Schedule, after: Date, count: number): Date[] {
  const runs: Date[] = [];
  let from = after;
  while (runs.length < count) {
    const next = nextRun(s, from);
    if (next === null) break;
    runs.push(next);
    from = next;
  }
  return runs;
}

/** Options for {@link previewSchedule}. */
export type PreviewOptions = {
  /** The job's IANA zone (default "UTC"). */
  timezone?: string;
  /** List cron times strictly after this (default: `now`). */
  from?: Date;
  /** How many cron times to list, 0-100 (default 5). */
  count?: number;
  /** What relative times count from (default: the current time). */
  now?: Date;
};

/** What GET /jobs/schedule answers. */
export type Preview = {
  type: "periodic" | "onetime" | "manual";
  description: string;
  /** ISO 8601 instants: cron, the next `count`; one-time, its instant even when past; manual, none. */
  next: string[];
};

/** Most times a preview lists. */
export const MAX_PREVIEW_COUNT = 100;

/**
 * Parses a schedule and previews it, for GET /jobs/schedule.
 *
 * @example
 * ```ts
 * previewSchedule("*\/15 * * * * *", { from: new Date("2024-01-01T00:00:00Z"), count: 2 });
 * // { type: "periodic", description: "Every 15 seconds",
 * //   next: ["2024-01-01T00:00:15.000Z", "2024-01-01T00:00:30.000Z"] }
 * ```
 */
export function previewSchedule(
  expr: string,
  opts: PreviewOptions = {},
): Preview {
  const count = opts.count ?? 5;
  if (!Number.isInteger(count) || count < 0 || count > MAX_PREVIEW_COUNT) {
    throw invalid(
      "count",
      `must be a whole number from 0 to ${MAX_PREVIEW_COUNT}, got ${count}`,
    );
  }
  const now = opts.now ?? opts.from ?? new Date();
  const s = parseSchedule(expr, { timezone: opts.timezone, now });
  const description = describeSchedule(s);
  switch (s.kind) {
    case "manual":
      return { type: "manual", description, next: [] };
    case "once":
      return { type: "onetime", description, next: [s.at.toISOString()] };
    case "cron": {
      const runs = nextRuns(s, opts.from ?? now, count);
      return {
        type: "periodic",
        description,
        next: runs.map((d) => d.toISOString()),
      };
    }
  }
}
