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
} from "./cron.ts";
import { isEvery, parseEvery } from "./every.ts";
import { isRelativeTime, parseOnce } from "./onetime.ts";
import { splitWords } from "./text.ts";
import { validateTimezone } from "./zones.ts";
import { defaultZone } from "./default_zone.ts";
import { describeSchedule } from "./describe.ts";

/** A parsed schedule; plain data, safe to store and compare. */
export type Schedule =
  /** periodic: a cron expression (without its zone prefix) run in an IANA zone */
  | { kind: "cron"; expr: string; timezone: string }
  /** periodic: robfig's `@every <duration>`, counted from when the job starts */
  | { kind: "every"; expr: string; everyMs: number }
  /** one-time: the resolved instant */
  | { kind: "once"; expr: string; at: Date }
  /** empty schedule: runs only when started or run */
  | { kind: "manual"; expr: "" };

/** Longest schedule text accepted, in characters. */
export const MAX_SCHEDULE_LENGTH = MAX_CRON_LENGTH;

/** Options for {@link parseSchedule}. */
export type ParseOptions = {
  /** The job's IANA zone (default: the server's, default_zone.ts): cron runs in it, a zoneless absolute time is read in it. */
  timezone?: string;
  /** What relative times count from (default: the current time). */
  now?: Date;
};

/** cron's `@reboot`: a job that runs when started and once at each server start (recovery.ts). */
export const REBOOT = "@reboot";

/**
 * Whether a schedule is `@reboot` (any case).
 *
 * @example
 * ```ts
 * isReboot("@reboot"); // true
 * ```
 */
export function isReboot(expr: string): boolean {
  return typeof expr === "string" && expr.trim().toLowerCase() === REBOOT;
}

/** robfig/cron's zone prefix: `CRON_TZ=Europe/Berlin 0 0 * * *` (or `TZ=`). */
const ZONE_PREFIX = /^(CRON_TZ|TZ)=(\S*)(?:\s+|$)/;

/**
 * The zone a schedule's `CRON_TZ=` or `TZ=` prefix names, validated, or
 * undefined when it has none.
 *
 * @example
 * ```ts
 * scheduleZone("CRON_TZ=europe/berlin 0 0 * * *"); // "Europe/Berlin"
 * scheduleZone("0 0 * * *"); // undefined
 * ```
 */
export function scheduleZone(expr: string): string | undefined {
  const m = ZONE_PREFIX.exec(expr.trim());
  if (!m) return undefined;
  if (m[2] === "") {
    throw invalid(
      "schedule",
      `${m[1]}= needs a time zone, as in ${m[1]}=Europe/Berlin`,
    );
  }
  try {
    return validateTimezone(m[2]);
  } catch (e) {
    throw invalid(
      "schedule",
      `${m[1]}=${m[2].slice(0, 64)}: ${
        (e as JobproError).message.replace(/^timezone: /, "")
      }`,
    );
  }
}

/** The schedule without its zone prefix, whitespace collapsed. */
function withoutPrefix(text: string): string {
  return text.replace(ZONE_PREFIX, "");
}

/**
 * Whether a schedule makes a periodic job: cron (with or without a zone
 * prefix, nicknames included) or `@every`. A relative time written with
 * spaces (`1 h 30 m`) is one-time, never cron.
 *
 * @example
 * ```ts
 * isPeriodic("*\/15 * * * * *"); // true
 * isPeriodic("CRON_TZ=Europe/Berlin @daily"); // true
 * isPeriodic("1 h 30 m 5 s"); // false
 * ```
 */
export function isPeriodic(expr: string): boolean {
  if (typeof expr !== "string") return false;
  const text = expr.trim();
  if (isReboot(text)) return false;
  if (ZONE_PREFIX.test(text)) return true;
  return !isRelativeTime(text) && isCronExpression(text);
}

/**
 * Parses a schedule string. Empty (or blank) is manual; cron, a zone prefix
 * or `@every` is periodic; anything else must be a one-time time.
 *
 * @example
 * ```ts
 * parseSchedule("*\/15 * * * * *"); // { kind: "cron", expr: "*\/15 * * * * *", timezone: "UTC" }
 * parseSchedule("TZ=Asia/Tokyo 0 9 * * *"); // { kind: "cron", expr: "0 9 * * *", timezone: "Asia/Tokyo" }
 * parseSchedule("@every 1h30m"); // { kind: "every", expr: "@every 1h30m", everyMs: 5400000 }
 * parseSchedule("in 30s", { now: new Date("2024-01-15T12:00:00Z") }).kind; // "once", at 12:00:30Z
 * parseSchedule(""); // { kind: "manual", expr: "" }
 * parseSchedule("0 61 * * *"); // throws "schedule: minute field: 61 is out of range 0-59"
 * ```
 */
export function parseSchedule(expr: string, opts: ParseOptions = {}): Schedule {
  return parseWithWarnings(expr, opts).schedule;
}

/** {@link parseSchedule}, with what the schedule means that its text may not say. */
function parseWithWarnings(
  expr: string,
  opts: ParseOptions,
): { schedule: Schedule; warnings: readonly string[] } {
  if (typeof expr !== "string") throw invalid("schedule", "must be a string");
  if (expr.length > MAX_SCHEDULE_LENGTH) {
    throw invalid(
      "schedule",
      `is too long (${expr.length} characters, at most ${MAX_SCHEDULE_LENGTH})`,
    );
  }
  const given = opts.timezone ? validateTimezone(opts.timezone) : undefined;
  let text = splitWords(expr).join(" ");
  if (text === "" || isReboot(text)) {
    return { schedule: { kind: "manual", expr: "" }, warnings: [] };
  }
  const prefixed = scheduleZone(text);
  if (prefixed !== undefined) {
    if (given !== undefined && given !== prefixed) {
      throw invalid(
        "timezone",
        `"${given}" conflicts with the schedule's ${
          ZONE_PREFIX.exec(text)![1]
        }=${prefixed}: give the zone once`,
      );
    }
    text = withoutPrefix(text);
    if (!isEvery(text) && !isCronExpression(text)) {
      throw invalid(
        "schedule",
        `a zone prefix must be followed by a cron expression, got '${
          text.slice(0, 40) || "nothing"
        }'`,
      );
    }
  }
  const timezone = prefixed ?? given ?? defaultZone();
  if (isEvery(text)) {
    const { everyMs, warnings } = parseEvery(text);
    return { schedule: { kind: "every", expr: text, everyMs }, warnings };
  }
  if (prefixed !== undefined || isPeriodic(text)) {
    const spec = compileCron(text);
    return {
      schedule: { kind: "cron", expr: text, timezone },
      warnings: spec.warnings,
    };
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
  return {
    schedule: { kind: "once", expr: text, at: new Date(at) },
    warnings: [],
  };
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
    case "every":
      // robfig: the next whole second plus the interval.
      return beforeYear10000(Math.floor(t / 1000) * 1000 + s.everyMs);
    case "cron":
      if (!Number.isFinite(t) || t >= LAST_INSTANT) return null;
      return beforeYear10000(
        nextCronRun(compileCron(s.expr), validateTimezone(s.timezone), t),
      );
  }
}

/** The last instant of year 9999: no schedule fires after it. */
const LAST_INSTANT = 253_402_300_799_999;

function beforeYear10000(t: number | null): Date | null {
  return t === null || !Number.isFinite(t) || t > LAST_INSTANT
    ? null
    : new Date(t);
}

/**
 * The first tick strictly after `now` of a periodic schedule whose last tick
 * was `tick`: what a late scheduler (or one restarted after a stop) moves on
 * to instead of firing a backlog. An `@every` schedule keeps its phase, the
 * ticks staying whole intervals from the first one.
 *
 * @example
 * ```ts
 * const s = parseSchedule("@every 10s");
 * nextTickAfter(s, Date.UTC(2024, 0, 1), Date.UTC(2024, 0, 1, 0, 0, 35)); // 00:00:40
 * ```
 */
export function nextTickAfter(
  s: Schedule,
  tick: number,
  now: number,
): number | null {
  if (s.kind === "every" && tick <= now) {
    const steps = Math.floor((now - tick) / s.everyMs) + 1;
    return beforeYear10000(tick + steps * s.everyMs)?.getTime() ?? null;
  }
  return nextRun(s, new Date(Math.max(tick, now)))?.getTime() ?? null;
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
  /** The job's IANA zone (default: the server's, default_zone.ts). */
  timezone?: string;
  /** List cron times strictly after this (default: `now`). */
  from?: Date;
  /** How many cron times to list, 0-100 (default 5). */
  count?: number;
  /** What relative times count from (default: the current time). */
  now?: Date;
};

/** A schedule previewed: what it is, in words, and when it runs. */
export type Preview = {
  type: "periodic" | "onetime" | "manual";
  description: string;
  /** ISO 8601 instants: periodic, the next `count`; one-time, its instant even when past; manual, none. */
  next: string[];
  /** What the schedule means that its text may not say (present only when there is something to say). */
  warnings?: string[];
};

/** Most times a preview lists. */
const MAX_PREVIEW_COUNT = 100;

/**
 * Parses a schedule and previews it: its type, description and next times.
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
  const { schedule: s, warnings } = parseWithWarnings(expr, {
    timezone: opts.timezone,
    now,
  });
  const description = describeSchedule(s);
  const said = warnings.length ? { warnings: [...warnings] } : {};
  switch (s.kind) {
    case "manual":
      return { type: "manual", description, next: [] };
    case "once":
      return { type: "onetime", description, next: [s.at.toISOString()] };
    case "cron":
    case "every": {
      const runs = nextRuns(s, opts.from ?? now, count);
      return {
        type: "periodic",
        description,
        next: runs.map((d) => d.toISOString()),
        ...said,
      };
    }
  }
}
