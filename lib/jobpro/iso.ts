/**
 * ISO 8601 / RFC 3339 times: fast formatting of epoch milliseconds as UTC
 * strings, and strict parsing of RFC 3339 date-times.
 *
 * `Date#toISOString` costs about 1.5 µs in Deno; the engine formats several
 * times per run (run and job views for the API and events), which made it a
 * fifth of the CPU at 40,000 runs a second.
 *
 * @example
 * ```ts
 * isoString(0); // "1970-01-01T00:00:00.000Z"
 * parseRfc3339("2024-01-15T14:30:00+01:00"); // 1705325400000
 * ```
 * @module
 */
import { civilFromDays, daysFromCivil, daysInMonth } from "./calendar.ts";

const pad2 = (n: number) => (n < 10 ? "0" : "") + n;
const pad3 = (n: number) => (n < 10 ? "00" : n < 100 ? "0" : "") + n;
const DAY_MS = 86_400_000;

/**
 * The same string as `new Date(ms).toISOString()` for years 0000-9999.
 *
 * @example
 * ```ts
 * isoString(Date.UTC(2024, 0, 15, 14, 30)); // "2024-01-15T14:30:00.000Z"
 * ```
 */
export function isoString(at: number): string {
  // A cluster's clock (the database's) has fractions of a millisecond: they
  // would print as a second fraction ("...:54.494.608Z"), which no parser reads.
  const ms = Math.floor(at);
  const days = Math.floor(ms / DAY_MS);
  let rest = ms - days * DAY_MS;
  if (days < -719_528 || days > 2_932_896 || !Number.isFinite(ms)) {
    return new Date(ms).toISOString(); // outside 0000-9999: let Date decide
  }
  const { year, month, day } = civilFromDays(days);
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = Math.floor(rest / 1000);
  const milli = rest - s * 1000;
  const y = year < 1000 ? String(year).padStart(4, "0") : String(year);
  return `${y}-${pad2(month)}-${pad2(day)}T${pad2(h)}:${pad2(m)}:${pad2(s)}.${
    pad3(milli)
  }Z`;
}

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/**
 * Epoch milliseconds of an RFC 3339 date-time, or null when the text is not
 * one: a full date and time with seconds and a zone (`Z` or `±HH:MM`),
 * fractions of a second optional, each part in its range. A space may stand
 * for the `T` (RFC 3339 §5.6 allows it). No other shape is read: not a bare
 * number, not a date alone, not a time without a zone.
 *
 * @example
 * ```ts
 * parseRfc3339("2023-02-21T00:00:00Z"); // 1676937600000
 * parseRfc3339("2023-02-21T00:00:00"); // null: no zone
 * parseRfc3339("12"); // null
 * ```
 */
export function parseRfc3339(text: string): number | null {
  const m = RFC3339.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    return null;
  }
  if (hour > 23 || minute > 59 || second > 59) return null;
  let offset = 0;
  if (!m[8]) {
    const oh = Number(m[10]), om = Number(m[11]);
    if (oh > 23 || om > 59) return null;
    offset = (m[9] === "-" ? -1 : 1) * (oh * 60 + om) * 60_000;
  }
  const ms = m[7] ? Number(m[7].slice(0, 3).padEnd(3, "0")) : 0;
  return daysFromCivil(year, month, day) * DAY_MS +
    ((hour * 60 + minute) * 60 + second) * 1000 + ms - offset;
}
