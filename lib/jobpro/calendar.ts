/**
 * The wall-clock search behind every cron schedule: the first calendar time
 * after a given one whose month, day, hour, minute and second all match.
 *
 * It is right by construction rather than by special cases: it walks the
 * real calendar (each month has its own length, leap years included) from
 * the largest field to the smallest, and only ever skips times that cannot
 * match — a month not in the set skips to the first day of the next month, a
 * day that does not match skips to the next day's midnight, and so on. A
 * time is returned only when every field matches the actual date, so no day
 * is ever skipped and no day that does not exist (February 30) is matched.
 *
 * Times here are "wall" times: the clock reading in some zone, held as
 * milliseconds on a fake UTC axis (no DST: every day has 86,400 seconds).
 * Mapping wall times to instants, DST included, is `cron.ts`'s job.
 *
 * @example
 * ```ts
 * import { nextMatch } from "./calendar.ts";
 * const spec = { seconds: [0], minutes: [0], hours: [0], days: 1 << 1, months: 0b1111111111110,
 *   weekdays: 0b1111111, domStar: false, dowStar: true };
 * new Date(nextMatch(spec, Date.UTC(2023, 1, 21))!).toISOString(); // "2023-03-01T00:00:00.000Z"
 * ```
 * @module
 */

/** The sets a cron expression allows, as plain data. */
export interface CalendarSpec {
  /** Allowed seconds, ascending. */
  seconds: readonly number[];
  /** Allowed minutes, ascending. */
  minutes: readonly number[];
  /** Allowed hours, ascending. */
  hours: readonly number[];
  /** Days of the month 1-31 as bits (bit d set: day d allowed). */
  days: number;
  /** Months 1-12 as bits (bit m set: month m allowed). */
  months: number;
  /** Days of the week 0-6 (Sunday 0) as bits. */
  weekdays: number;
  /**
   * Day-of-month or day-of-week written with `*` or `?` (robfig's "star
   * bit"): then a day must match both fields; when both are restricted, a day
   * matching either fires (Vixie cron, robfig/cron, croniter).
   */
  domStar: boolean;
  dowStar: boolean;
}

const DAY_MS = 86_400_000;
const LAST_YEAR = 9999;

/**
 * Days from 1970-01-01 to a civil date (proleptic Gregorian; any year 0-9999).
 * H. Hinnant's `days_from_civil`.
 *
 * @example
 * ```ts
 * daysFromCivil(1970, 1, 1); // 0
 * daysFromCivil(2024, 2, 29); // 19782
 * ```
 */
export function daysFromCivil(
  year: number,
  month: number,
  day: number,
): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = (month + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** A civil date. */
export interface Civil {
  year: number;
  month: number;
  day: number;
}

/**
 * The civil date of a day count from 1970-01-01. H. Hinnant's `civil_from_days`.
 *
 * @example
 * ```ts
 * civilFromDays(19782); // { year: 2024, month: 2, day: 29 }
 * ```
 */
export function civilFromDays(days: number): Civil {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) -
      Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

/**
 * Days in a month of a year (February has 29 in leap years).
 *
 * @example
 * ```ts
 * daysInMonth(2023, 2); // 28
 * daysInMonth(2024, 2); // 29
 * ```
 */
export function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    return leap ? 29 : 28;
  }
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

const has = (bits: number, v: number) => ((bits >>> v) & 1) === 1;

/** The smallest allowed value at least `v`, or -1. */
function atLeast(values: readonly number[], v: number): number {
  for (const x of values) if (x >= v) return x;
  return -1;
}

function dayMatches(
  spec: CalendarSpec,
  year: number,
  month: number,
  day: number,
): boolean {
  const dom = has(spec.days, day);
  const dow = has(spec.weekdays, (daysFromCivil(year, month, day) + 4) % 7);
  return spec.domStar || spec.dowStar ? dom && dow : dom || dow;
}

/**
 * The first wall time strictly after `wall` (whole seconds) that matches
 * every field, or null when there is none up to the end of year 9999.
 *
 * @example
 * ```ts
 * nextMatch(spec, Date.UTC(2024, 0, 1, 0, 0, 0)); // the first match after midnight
 * ```
 */
export function nextMatch(spec: CalendarSpec, wall: number): number | null {
  const start = Math.floor(wall / 1000) + 1; // whole seconds, strictly after
  const days = Math.floor(start / 86_400);
  let { year, month, day } = civilFromDays(days);
  let rest = start - days * 86_400;
  let hour = Math.floor(rest / 3600);
  rest -= hour * 3600;
  let minute = Math.floor(rest / 60);
  let second = rest - minute * 60;
  while (year <= LAST_YEAR) {
    if (!has(spec.months, month) || day > daysInMonth(year, month)) {
      month++;
      if (month > 12) {
        month = 1;
        year++;
      }
      day = 1;
      hour = minute = second = 0;
      continue;
    }
    const h = dayMatches(spec, year, month, day)
      ? atLeast(spec.hours, hour)
      : -1;
    if (h < 0) {
      day++;
      hour = minute = second = 0;
      continue;
    }
    if (h > hour) {
      hour = h;
      minute = second = 0;
    }
    const m = atLeast(spec.minutes, minute);
    if (m < 0) {
      hour++; // 24 matches no hour: the next turn moves to the next day
      minute = second = 0;
      continue;
    }
    if (m > minute) {
      minute = m;
      second = 0;
    }
    const s = atLeast(spec.seconds, second);
    if (s < 0) {
      minute++; // 60 matches no minute: the next turn moves to the next hour
      second = 0;
      continue;
    }
    return daysFromCivil(year, month, day) * DAY_MS +
      ((hour * 60 + minute) * 60 + s) * 1000;
  }
  return null;
}
