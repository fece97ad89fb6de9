/**
 * One-time schedules: a relative time counted from "now", or an absolute
 * date-time with an optional zone, resolved to one instant.
 *
 * Relative: `in 30s`, `+1h`, `5m`, `in 2h30m`, `1h 30m`, `in 2 hours`; units
 * s/sec/second(s), m/min/minute(s), h/hr/hour(s), d/day(s), w/week(s); also `now`.
 *
 * Absolute, each with an optional zone after the time:
 * - ISO / RFC 3339: `2024-01-15T14:30:00-08:00`, `2024-01-15T14:30:00.250Z`,
 *   `2024-01-15 14:30` (a space instead of `T`, seconds optional)
 * - US: `01/15/2024 2:30 PM`, `1/15/2024 14:30:05`
 * - month name: `Jan 15, 2024 3:04 PM`, `January 15 2024 15:04`
 *
 * The zone is `Z`, a numeric offset (`-0800`, `-08:00`, `-08`, also written
 * right after the time), `UTC+2`/`GMT-08:00`, an abbreviation from
 * `ZONE_ABBREVIATIONS` (`PST` is -08:00 all year), or an IANA name
 * (`America/New_York`, DST applied). A numeric offset may be followed by its
 * abbreviation (`-0800 PST`, Go's time format). Without a zone the time is read
 * in the job's zone. In an IANA zone a wall time repeated when clocks go back
 * means the earlier instant; one skipped when they go forward means the first
 * valid instant after.
 *
 * @example
 * ```ts
 * import { parseOnce } from "./onetime.ts";
 * const now = Date.UTC(2024, 0, 15, 12);
 * new Date(parseOnce("in 2h30m", { now, timezone: "UTC" })).toISOString(); // "2024-01-15T14:30:00.000Z"
 * new Date(parseOnce("Jan 15, 2024 3:04 PM MST", { now, timezone: "UTC" })).toISOString(); // "2024-01-15T22:04:00.000Z"
 * ```
 * @module
 */
import { invalid } from "./errors.ts";
import {
  capitalize,
  clip,
  isDigit,
  isLetter,
  MONTH_NAMES,
  nameIndex,
} from "./text.ts";
import {
  abbreviationOffset,
  isTimezone,
  validateTimezone,
  wallToInstant,
} from "./zones.ts";

function fail(message: string): never {
  throw invalid("schedule", message);
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Furthest a relative time may reach. */
const MAX_RELATIVE_DAYS = 3650;

const UNITS: Readonly<Record<string, number>> = {
  s: SECOND,
  sec: SECOND,
  secs: SECOND,
  second: SECOND,
  seconds: SECOND,
  m: MINUTE,
  min: MINUTE,
  mins: MINUTE,
  minute: MINUTE,
  minutes: MINUTE,
  h: HOUR,
  hr: HOUR,
  hrs: HOUR,
  hour: HOUR,
  hours: HOUR,
  d: DAY,
  day: DAY,
  days: DAY,
  w: 7 * DAY,
  week: 7 * DAY,
  weeks: 7 * DAY,
};

const EXAMPLES =
  "'in 30s', '+1h', '2024-01-15T14:30:00Z', '01/15/2024 2:30 PM EST' or 'Jan 15, 2024 3:04 PM MST'";

/** A cursor over the text: plain data, moved by the readers below. */
type Cursor = { s: string; i: number };

function isSpace(c: string | undefined): boolean {
  return c === " " || c === "\t";
}

function skipSpaces(c: Cursor): number {
  const start = c.i;
  while (isSpace(c.s[c.i])) c.i++;
  return c.i - start;
}

function readWhile(
  c: Cursor,
  pred: (ch: string | undefined) => boolean,
  max = Infinity,
): string {
  const start = c.i;
  while (c.i - start < max && pred(c.s[c.i])) c.i++;
  return c.s.slice(start, c.i);
}

function accept(c: Cursor, ch: string): boolean {
  if (c.s[c.i] === ch) {
    c.i++;
    return true;
  }
  return false;
}

function rest(c: Cursor): string {
  return clip(c.s.slice(c.i), 30);
}

/** Reads 1..max digits, failing with `what` named when there are none. */
function readNumber(c: Cursor, what: string, min: number, max: number): number {
  const d = readWhile(c, isDigit, max);
  if (d.length < min) fail(`expected the ${what} at '${rest(c)}'`);
  return Number(d);
}

/** Options for {@link parseOnce}. */
export type OnceOptions = {
  /** ms since the epoch that relative times count from. */
  now: number;
  /** IANA zone for an absolute time written without a zone. */
  timezone: string;
};

/**
 * Resolves a one-time schedule to an instant (ms since the epoch). Throws
 * `JobproError("invalid", ..., "schedule")` whose message names the wrong
 * part, e.g. `schedule: day 30 is out of range for February 2024 (1-29)`.
 *
 * @example
 * ```ts
 * parseOnce("+1h", { now: 0, timezone: "UTC" }); // 3600000
 * parseOnce("2024-01-15 14:30:00 America/New_York", { now: 0, timezone: "UTC" }) === Date.UTC(2024, 0, 15, 19, 30); // true
 * ```
 */
export function parseOnce(text: string, opts: OnceOptions): number {
  const t = text.trim();
  const form = formOf(t);
  switch (form) {
    case "now":
      return opts.now;
    case "relative":
      return opts.now + parseRelative(t.replace(/^(\+|in)/i, ""));
    case "iso":
    case "us":
    case "named":
      return parseAbsolute(t, form, opts.timezone);
    default:
      return fail(
        `'${
          clip(t)
        }' is not a cron expression, a relative time or a date-time: write e.g. ${EXAMPLES}`,
      );
  }
}

/**
 * Whether the text is written as a relative time: a number first, then only
 * numbers, spaces and time units (`1 h 30 m 5 s`, `2 hours 30 minutes`), or
 * `in ...` / `+...`. Told apart from cron before cron is tried, so spaced
 * units are never read as cron fields.
 *
 * @example
 * ```ts
 * isRelativeTime("1 h 30 m 5 s"); // true
 * isRelativeTime("5 4 * * *"); // false
 * ```
 */
export function isRelativeTime(text: string): boolean {
  const t = text.trim();
  if (formOf(t) !== "relative") return false;
  const words = t.replace(/^(\+|in\b)/i, "").split(/[0-9\s]+/).filter(Boolean);
  return words.every((w) => UNITS[w.toLowerCase()] !== undefined);
}

type Form = "now" | "relative" | "iso" | "us" | "named" | undefined;

/** Which kind of time the text is, from its first characters. */
function formOf(t: string): Form {
  const lower = t.toLowerCase();
  if (lower === "now") return "now";
  if (t.startsWith("+")) return "relative";
  if (lower.startsWith("in") && (isSpace(t[2]) || isDigit(t[2]))) {
    return "relative";
  }
  if (isLetter(t[0])) return "named";
  const c: Cursor = { s: t, i: 0 };
  const lead = readWhile(c, isDigit);
  if (lead.length === 4 && t[c.i] === "-") return "iso";
  if (lead.length > 0 && lead.length <= 2 && t[c.i] === "/") return "us";
  if (lead.length === 0) return undefined;
  if (t[c.i] === "." && isDigit(t[c.i + 1])) { // 1.5h: relative, refused with a reason
    c.i++;
    readWhile(c, isDigit);
  }
  skipSpaces(c);
  return isLetter(t[c.i]) ? "relative" : undefined;
}

/**
 * Milliseconds in a relative time such as `2h30m` or ` 5 minutes` (the part
 * after `in` or `+`).
 */
function parseRelative(body: string): number {
  const c: Cursor = { s: body, i: 0 };
  let total = 0;
  skipSpaces(c);
  if (c.i >= body.length) {
    fail("relative time: expected an amount such as 30s, 5m or 2h30m");
  }
  while (c.i < body.length) {
    const digits = readWhile(c, isDigit);
    if (!digits) fail(`relative time: expected a number at '${rest(c)}'`);
    if (c.s[c.i] === "." || c.s[c.i] === ",") {
      fail(`relative time: use whole numbers, e.g. 90m rather than 1.5h`);
    }
    if (digits.length > 9) fail(`relative time: ${clip(digits)} is too large`);
    skipSpaces(c);
    const unit = readWhile(c, isLetter);
    if (!unit) {
      fail(`relative time: missing unit after ${digits} (use s, m, h, d or w)`);
    }
    const ms = UNITS[unit.toLowerCase()];
    if (ms === undefined) {
      fail(`relative time: unknown unit '${clip(unit)}' (use s, m, h, d or w)`);
    }
    total += Number(digits) * ms;
    skipSpaces(c);
  }
  if (total > MAX_RELATIVE_DAYS * DAY) {
    fail(
      `relative time: '${
        clip(body.trim())
      }' is too far ahead (at most ${MAX_RELATIVE_DAYS} days)`,
    );
  }
  return total;
}

type TimeParts = {
  hour: number;
  minute: number;
  second: number;
  ms: number;
  meridiem?: "am" | "pm";
};

/** Where a zone came from: a fixed offset in minutes, or an IANA zone. */
type Zone = { offset: number } | { tz: string };

function parseAbsolute(
  text: string,
  form: "iso" | "us" | "named",
  timezone: string,
): number {
  const c: Cursor = { s: text, i: 0 };
  const date = form === "iso"
    ? readNumericDate(c, "-", ["year", "month", "day"])
    : form === "us"
    ? readNumericDate(c, "/", ["month", "day", "year"])
    : readNamedDate(c);
  checkDate(date);
  if (form === "iso") readIsoSeparator(c);
  else requireSpace(c);
  const time = readTime(c, form === "iso");
  const hour = checkTime(time);
  const zone = readZone(c) ?? { tz: timezone };
  const wall = Date.UTC(
    date.year,
    date.month - 1,
    date.day,
    hour,
    time.minute,
    time.second,
    time.ms,
  );
  return "offset" in zone
    ? wall - zone.offset * MINUTE
    : wallToInstant(wall, zone.tz);
}

type DateParts = { year: number; month: number; day: number };

/** Each number of a date: its name in errors, its fewest and most digits. */
const DATE_PARTS = {
  year: { what: "year (4 digits)", min: 4, max: 4 },
  month: { what: "month", min: 1, max: 2 },
  day: { what: "day", min: 1, max: 2 },
} as const;

function readPart(c: Cursor, part: keyof DateParts): number {
  const { what, min, max } = DATE_PARTS[part];
  return readNumber(c, what, min, max);
}

/**
 * Reads three numbers in `order` with `sep` between them, the second `sep`
 * required: `2024-01-15` (ISO) or `01/15/2024` (US). {@link formOf} has seen
 * the first number and separator already.
 */
function readNumericDate(
  c: Cursor,
  sep: "-" | "/",
  order: readonly [keyof DateParts, keyof DateParts, keyof DateParts],
): DateParts {
  const [first, second, third] = order;
  const date: DateParts = { year: 0, month: 0, day: 0 };
  date[first] = readPart(c, first);
  accept(c, sep);
  date[second] = readPart(c, second);
  if (!accept(c, sep)) {
    fail(`expected '${sep}' after the ${second} at '${rest(c)}'`);
  }
  date[third] = readPart(c, third);
  return date;
}

function readIsoSeparator(c: Cursor): void {
  if (accept(c, "T") || accept(c, "t")) return;
  requireSpace(c);
}

function readNamedDate(c: Cursor): DateParts {
  const word = readWhile(c, isLetter);
  const month = monthFromName(word);
  if (month === undefined) {
    fail(
      `'${
        clip(c.s)
      }' is not a cron expression, a relative time or a date-time: write e.g. ${EXAMPLES}`,
    );
  }
  accept(c, ".");
  skipSpaces(c);
  const day = readPart(c, "day");
  accept(c, ",");
  skipSpaces(c);
  const year = readPart(c, "year");
  accept(c, ",");
  return { year, month, day };
}

function requireSpace(c: Cursor): void {
  if (skipSpaces(c) === 0 || c.i >= c.s.length) {
    fail(
      c.i >= c.s.length
        ? "expected a time such as 14:30 or 2:30 PM after the date"
        : `expected a space before the time at '${rest(c)}'`,
    );
  }
}

/** A month (1-12) from its name, its first three letters, or `Sept`. */
function monthFromName(word: string): number | undefined {
  if (word.toLowerCase() === "sept") return 9;
  const i = nameIndex(word, MONTH_NAMES);
  return i === undefined ? undefined : i + 1;
}

function readTime(c: Cursor, fraction: boolean): TimeParts {
  const hour = readNumber(c, "hour", 1, 2);
  if (!accept(c, ":")) fail(`expected ':' after the hour at '${rest(c)}'`);
  const minute = readNumber(c, "minute (2 digits)", 2, 2);
  let second = 0;
  let ms = 0;
  if (accept(c, ":")) {
    second = readNumber(c, "second (2 digits)", 2, 2);
    if (accept(c, ".") || (fraction && accept(c, ","))) {
      const f = readWhile(c, isDigit);
      if (f.length === 0 || f.length > 9) {
        fail("expected 1 to 9 digits of fractional seconds");
      }
      ms = Number(f.slice(0, 3).padEnd(3, "0"));
    }
  }
  return { hour, minute, second, ms, meridiem: readMeridiem(c) };
}

/** Reads an optional AM/PM, attached (`2:30PM`) or after a space. */
function readMeridiem(c: Cursor): "am" | "pm" | undefined {
  const save = c.i;
  skipSpaces(c);
  const word = readWhile(c, isLetter, 3).toLowerCase();
  if ((word === "am" || word === "pm") && !isLetter(c.s[c.i])) return word;
  c.i = save;
  return undefined;
}

/** Reads the zone after the time, if any; the text must end after it. */
function readZone(c: Cursor): Zone | undefined {
  const attached = c.s[c.i];
  if (attached === "Z" || attached === "z") {
    c.i++;
    return expectEnd(c, { offset: 0 });
  }
  if (attached === "+" || attached === "-") {
    return finishOffset(c, readOffset(c));
  }
  if (c.i >= c.s.length) return undefined;
  if (skipSpaces(c) === 0) fail(`unexpected '${rest(c)}' after the time`);
  if (c.s[c.i] === "+" || c.s[c.i] === "-") {
    return finishOffset(c, readOffset(c));
  }
  const word = readWhile(c, (ch) => ch !== undefined && !isSpace(ch));
  return expectEnd(c, zoneFromWord(word));
}

/** After a numeric offset, allows its abbreviation (`-0800 PST`) when they agree. */
function finishOffset(c: Cursor, offset: number): Zone {
  if (skipSpaces(c) > 0 && c.i < c.s.length) {
    const word = readWhile(c, (ch) => ch !== undefined && !isSpace(ch));
    const abbr = abbreviationOffset(word);
    if (abbr === undefined) fail(`unexpected '${clip(word)}' after the offset`);
    if (abbr !== offset) {
      fail(
        `offset ${formatOffset(offset)} does not match ${word.toUpperCase()} (${
          formatOffset(abbr)
        })`,
      );
    }
  }
  return expectEnd(c, { offset });
}

function expectEnd<T>(c: Cursor, value: T): T {
  skipSpaces(c);
  if (c.i < c.s.length) fail(`unexpected '${rest(c)}' after the time zone`);
  return value;
}

/** Reads `±HH`, `±HHMM` or `±HH:MM` (also `±H` when `short`); minutes east of UTC. */
function readOffset(c: Cursor, short = false): number {
  const start = c.i;
  const sign = c.s[c.i] === "-" ? -1 : 1;
  c.i++;
  const hh = readWhile(c, isDigit, 2);
  if (hh.length < (short ? 1 : 2)) {
    fail(`offset '${clip(c.s.slice(start))}' must be written ±HH:MM or ±HHMM`);
  }
  accept(c, ":");
  const mm = readWhile(c, isDigit, 2);
  if (mm.length === 1) {
    fail(`offset '${c.s.slice(start, c.i)}' must be written ±HH:MM or ±HHMM`);
  }
  const hours = Number(hh);
  const minutes = mm ? Number(mm) : 0;
  const text = c.s.slice(start, c.i);
  if (minutes > 59) {
    fail(`offset ${text}: minutes ${mm} are out of range 00-59`);
  }
  if (hours > 14 || (hours === 14 && minutes > 0)) {
    fail(`offset ${text} is out of range -14:00 to +14:00`);
  }
  return sign * (hours * 60 + minutes);
}

function formatOffset(minutes: number): string {
  const sign = minutes < 0 ? "-" : "+";
  const m = Math.abs(minutes);
  return `${sign}${String(Math.floor(m / 60)).padStart(2, "0")}:${
    String(m % 60).padStart(2, "0")
  }`;
}

/** A zone written as one word: abbreviation, `UTC+2`, or IANA name. */
function zoneFromWord(word: string): Zone {
  const upper = word.toUpperCase();
  if (
    (upper.startsWith("UTC") || upper.startsWith("GMT")) &&
    (word[3] === "+" || word[3] === "-")
  ) {
    const c: Cursor = { s: word, i: 3 };
    const offset = readOffset(c, true);
    if (c.i < word.length) {
      fail(`unexpected '${word.slice(c.i)}' in the zone '${clip(word)}'`);
    }
    return { offset };
  }
  const abbr = abbreviationOffset(word);
  if (abbr !== undefined) return { offset: abbr };
  const lettersOnly = [...word].every(isLetter);
  if (!lettersOnly && isTimezone(word)) return { tz: validateTimezone(word) };
  if (lettersOnly) {
    fail(
      `unknown time zone abbreviation '${
        clip(word)
      }' (use one from the zone table, an IANA name such as America/New_York, or an offset such as -08:00)`,
    );
  }
  return fail(
    `unknown time zone '${
      clip(word)
    }' (use an IANA name such as America/New_York, or an offset such as -08:00)`,
  );
}

const MONTH_TITLES = MONTH_NAMES.map(capitalize);

function checkDate(d: DateParts): void {
  if (d.year < 1970 || d.year > 9999) {
    fail(`year ${d.year} is out of range 1970-9999`);
  }
  if (d.month < 1 || d.month > 12) {
    fail(`month ${d.month} is out of range 1-12`);
  }
  const days = new Date(Date.UTC(d.year, d.month, 0)).getUTCDate();
  if (d.day < 1 || d.day > days) {
    fail(
      `day ${d.day} is out of range for ${
        MONTH_TITLES[d.month - 1]
      } ${d.year} (1-${days})`,
    );
  }
}

/** Checks each part of the time; returns the hour on the 24-hour clock. */
function checkTime(t: TimeParts): number {
  let hour = t.hour;
  if (t.meridiem) {
    if (hour < 1 || hour > 12) {
      fail(
        `hour ${hour} is out of range 1-12 for a time with ${t.meridiem.toUpperCase()}`,
      );
    }
    hour = (hour % 12) + (t.meridiem === "pm" ? 12 : 0);
  } else if (hour > 23) fail(`hour ${hour} is out of range 0-23`);
  if (t.minute > 59) fail(`minute ${t.minute} is out of range 0-59`);
  if (t.second > 59) fail(`second ${t.second} is out of range 0-59`);
  return hour;
}
