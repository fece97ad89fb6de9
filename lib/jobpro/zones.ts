/**
 * Time zones: the table of zone abbreviations jobpro accepts, IANA zone
 * validation, and the conversion between an instant and the wall-clock time of
 * a zone, daylight saving time included.
 *
 * Offsets come from the runtime's `Intl.DateTimeFormat`, so they follow the
 * IANA database the runtime ships with; nothing here hard-codes DST rules.
 *
 * A wall-clock time is represented as "fake UTC" milliseconds: the number that
 * `Date.UTC(year, month - 1, day, hour, minute, second)` gives for it.
 *
 * @example
 * ```ts
 * import { wallToInstant } from "./zones.ts";
 * // 02:30 does not exist in New York on 2024-03-10: the first valid instant after is 03:00 EDT.
 * new Date(wallToInstant(Date.UTC(2024, 2, 10, 2, 30), "America/New_York")).toISOString();
 * // "2024-03-10T07:00:00.000Z"
 * ```
 * @module
 */
import { invalid } from "./errors.ts";

/** One accepted zone abbreviation and the fixed offset it stands for. */
export type ZoneAbbreviation = {
  /** The abbreviation, upper case, as written after a time. */
  abbr: string;
  /** Its offset from UTC, `±HH:MM`. */
  offset: string;
  /** What it stands for. */
  name: string;
  /** Set when the abbreviation means different zones in different places. */
  note?: string;
};

/**
 * Every zone abbreviation jobpro understands, with its real fixed offset.
 * An abbreviation stands for one offset all year (PST is always -08:00, even
 * in July); write an IANA name such as `America/Los_Angeles` to follow DST.
 * Ambiguous abbreviations carry a `note` saying which meaning was chosen.
 *
 * @example
 * ```ts
 * import { ZONE_ABBREVIATIONS } from "./zones.ts";
 * const rows = ZONE_ABBREVIATIONS.map((z) => `| ${z.abbr} | ${z.offset} | ${z.name} |`);
 * ```
 */
export const ZONE_ABBREVIATIONS: readonly ZoneAbbreviation[] = [
  { abbr: "UTC", offset: "+00:00", name: "Coordinated Universal Time" },
  { abbr: "UT", offset: "+00:00", name: "Universal Time" },
  { abbr: "GMT", offset: "+00:00", name: "Greenwich Mean Time" },
  { abbr: "Z", offset: "+00:00", name: "Zulu (UTC)" },
  // North America
  { abbr: "HST", offset: "-10:00", name: "Hawaii-Aleutian Standard Time" },
  { abbr: "HDT", offset: "-09:00", name: "Hawaii-Aleutian Daylight Time" },
  { abbr: "AKST", offset: "-09:00", name: "Alaska Standard Time" },
  { abbr: "AKDT", offset: "-08:00", name: "Alaska Daylight Time" },
  { abbr: "PST", offset: "-08:00", name: "Pacific Standard Time" },
  { abbr: "PDT", offset: "-07:00", name: "Pacific Daylight Time" },
  { abbr: "MST", offset: "-07:00", name: "Mountain Standard Time" },
  { abbr: "MDT", offset: "-06:00", name: "Mountain Daylight Time" },
  {
    abbr: "CST",
    offset: "-06:00",
    name: "Central Standard Time (North America)",
    note: "not China Standard Time (+08:00) nor Cuba Standard Time (-05:00)",
  },
  { abbr: "CDT", offset: "-05:00", name: "Central Daylight Time" },
  { abbr: "EST", offset: "-05:00", name: "Eastern Standard Time" },
  { abbr: "EDT", offset: "-04:00", name: "Eastern Daylight Time" },
  {
    abbr: "AST",
    offset: "-04:00",
    name: "Atlantic Standard Time",
    note: "not Arabia Standard Time (+03:00)",
  },
  { abbr: "ADT", offset: "-03:00", name: "Atlantic Daylight Time" },
  { abbr: "NST", offset: "-03:30", name: "Newfoundland Standard Time" },
  { abbr: "NDT", offset: "-02:30", name: "Newfoundland Daylight Time" },
  // South America
  { abbr: "ART", offset: "-03:00", name: "Argentina Time" },
  { abbr: "BRT", offset: "-03:00", name: "Brasília Time" },
  { abbr: "CLT", offset: "-04:00", name: "Chile Standard Time" },
  { abbr: "CLST", offset: "-03:00", name: "Chile Summer Time" },
  // Europe
  { abbr: "WET", offset: "+00:00", name: "Western European Time" },
  { abbr: "WEST", offset: "+01:00", name: "Western European Summer Time" },
  {
    abbr: "BST",
    offset: "+01:00",
    name: "British Summer Time",
    note: "not Bangladesh Standard Time (+06:00)",
  },
  {
    abbr: "IST",
    offset: "+05:30",
    name: "India Standard Time",
    note: "not Irish Standard Time (+01:00) nor Israel Standard Time (+02:00)",
  },
  { abbr: "CET", offset: "+01:00", name: "Central European Time" },
  { abbr: "CEST", offset: "+02:00", name: "Central European Summer Time" },
  { abbr: "EET", offset: "+02:00", name: "Eastern European Time" },
  { abbr: "EEST", offset: "+03:00", name: "Eastern European Summer Time" },
  { abbr: "MSK", offset: "+03:00", name: "Moscow Time" },
  { abbr: "TRT", offset: "+03:00", name: "Turkey Time" },
  // Africa
  { abbr: "WAT", offset: "+01:00", name: "West Africa Time" },
  { abbr: "CAT", offset: "+02:00", name: "Central Africa Time" },
  { abbr: "SAST", offset: "+02:00", name: "South Africa Standard Time" },
  { abbr: "EAT", offset: "+03:00", name: "East Africa Time" },
  // Asia
  {
    abbr: "GST",
    offset: "+04:00",
    name: "Gulf Standard Time",
    note: "not South Georgia Time (-02:00)",
  },
  { abbr: "PKT", offset: "+05:00", name: "Pakistan Standard Time" },
  { abbr: "NPT", offset: "+05:45", name: "Nepal Time" },
  { abbr: "ICT", offset: "+07:00", name: "Indochina Time" },
  { abbr: "WIB", offset: "+07:00", name: "Western Indonesia Time" },
  { abbr: "HKT", offset: "+08:00", name: "Hong Kong Time" },
  { abbr: "SGT", offset: "+08:00", name: "Singapore Time" },
  { abbr: "PHT", offset: "+08:00", name: "Philippine Time" },
  { abbr: "AWST", offset: "+08:00", name: "Australian Western Standard Time" },
  { abbr: "JST", offset: "+09:00", name: "Japan Standard Time" },
  { abbr: "KST", offset: "+09:00", name: "Korea Standard Time" },
  // Oceania
  { abbr: "ACST", offset: "+09:30", name: "Australian Central Standard Time" },
  { abbr: "ACDT", offset: "+10:30", name: "Australian Central Daylight Time" },
  { abbr: "AEST", offset: "+10:00", name: "Australian Eastern Standard Time" },
  { abbr: "AEDT", offset: "+11:00", name: "Australian Eastern Daylight Time" },
  { abbr: "NZST", offset: "+12:00", name: "New Zealand Standard Time" },
  { abbr: "NZDT", offset: "+13:00", name: "New Zealand Daylight Time" },
];

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Longest IANA name accepted; real ones are under 40 characters. */
const MAX_ZONE_LENGTH = 64;

const ABBREVIATIONS: ReadonlyMap<string, number> = new Map(
  ZONE_ABBREVIATIONS.map((z) => [z.abbr, offsetTextToMinutes(z.offset)]),
);

function offsetTextToMinutes(text: string): number {
  const sign = text[0] === "-" ? -1 : 1;
  return sign * (Number(text.slice(1, 3)) * 60 + Number(text.slice(4, 6)));
}

/**
 * The offset in minutes east of UTC for a zone abbreviation from
 * {@link ZONE_ABBREVIATIONS} (any letter case), or undefined when it is not in
 * the table.
 *
 * @example
 * ```ts
 * abbreviationOffset("PST"); // -480
 * abbreviationOffset("ist"); // 330
 * abbreviationOffset("XYZ"); // undefined
 * ```
 */
export function abbreviationOffset(abbr: string): number | undefined {
  return ABBREVIATIONS.get(abbr.toUpperCase());
}

/** By lower-cased zone name: Intl ignores case, and this bounds the cache to real zones. */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(tz: string): Intl.DateTimeFormat {
  const key = tz.toLowerCase();
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(key, f);
  }
  return f;
}

/**
 * Legacy IDs that ICU accepts but the IANA database does not have. Most clash
 * with the abbreviations above (to ICU, BST is Asia/Dhaka and AST is
 * America/Anchorage), so they are refused rather than silently followed.
 */
const ICU_LEGACY_IDS = new Set(
  "ACT AET AGT ART AST BET BST CAT CNT CST CTT EAT ECT IET IST JST MIT NET NST PLT PNT PRT PST SST VST"
    .split(" "),
);

/** The zone's canonical spelling per Intl, or undefined when it is not a zone. */
function resolveZone(tz: string): string | undefined {
  if (ICU_LEGACY_IDS.has(tz.toUpperCase())) return undefined;
  try {
    return formatterFor(tz).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/**
 * Checks an IANA time zone name (or a fixed offset zone such as `+05:30`, as
 * Intl accepts) and returns it, with its letter case corrected when it was
 * only the case that differed (`america/new_york` → `America/New_York`).
 * Aliases are kept as written (`US/Eastern` stays `US/Eastern`).
 * Throws `invalid("timezone", ...)` naming the zone.
 *
 * @example
 * ```ts
 * validateTimezone("europe/berlin"); // "Europe/Berlin"
 * validateTimezone("Mars/Olympus"); // throws "timezone: 'Mars/Olympus' is not a known IANA time zone ..."
 * ```
 */
export function validateTimezone(tz: string): string {
  const known = validated.get(tz);
  if (known !== undefined) return known;
  const zone = checkTimezone(tz);
  if (validated.size >= 1000) validated.clear();
  validated.set(tz, zone);
  return zone;
}

/** Zones already checked (Intl takes microseconds a check), by the text given. */
const validated = new Map<string, string>();

function checkTimezone(tz: string): string {
  if (typeof tz !== "string" || tz.trim() === "") {
    throw invalid(
      "timezone",
      "must be an IANA time zone name such as UTC or America/New_York",
    );
  }
  if (tz.length > MAX_ZONE_LENGTH) {
    throw invalid(
      "timezone",
      `is too long (${tz.length} characters, at most ${MAX_ZONE_LENGTH})`,
    );
  }
  const resolved = resolveZone(tz);
  const abbr = abbreviationOffset(tz);
  if (resolved === undefined && abbr !== undefined) {
    const offset = ZONE_ABBREVIATIONS.find((z) =>
      z.abbr === tz.toUpperCase()
    )!.offset;
    throw invalid(
      "timezone",
      `'${tz}' is a zone abbreviation (${offset} all year), not an IANA time zone: use a name such as America/Los_Angeles or Europe/Berlin`,
    );
  }
  if (resolved === undefined) {
    throw invalid(
      "timezone",
      `'${tz}' is not a known IANA time zone (e.g. UTC, America/New_York, Europe/Berlin)`,
    );
  }
  return resolved.toLowerCase() === tz.toLowerCase() ? resolved : tz;
}

/**
 * True when `tz` names a time zone the runtime knows (no exception).
 *
 * @example
 * ```ts
 * isTimezone("Asia/Tokyo"); // true
 * isTimezone("PST"); // false: an abbreviation, not a zone
 * ```
 */
export function isTimezone(tz: string): boolean {
  return tz.length <= MAX_ZONE_LENGTH && resolveZone(tz) !== undefined;
}

/**
 * The zone's offset from UTC in milliseconds at an instant (wall = instant +
 * offset). Whole seconds only: the instant's milliseconds do not matter.
 *
 * @example
 * ```ts
 * offsetAt(Date.UTC(2024, 0, 15), "America/New_York"); // -18000000 (-05:00)
 * offsetAt(Date.UTC(2024, 6, 15), "America/New_York"); // -14400000 (-04:00)
 * ```
 */
export function offsetAt(instant: number, tz: string): number {
  if (tz === "UTC") return 0;
  const whole = Math.floor(instant / 1000) * 1000;
  const p: Record<string, number> = {};
  for (const part of formatterFor(tz).formatToParts(new Date(whole))) {
    if (part.type !== "literal") p[part.type] = Number(part.value);
  }
  const wall = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return wall - whole;
}

/**
 * The wall-clock time of an instant in a zone, as fake-UTC milliseconds.
 *
 * @example
 * ```ts
 * new Date(instantToWall(Date.UTC(2024, 0, 15, 19, 30), "America/New_York")).toISOString();
 * // "2024-01-15T14:30:00.000Z" (read as 14:30 local)
 * ```
 */
export function instantToWall(instant: number, tz: string): number {
  return instant + offsetAt(instant, tz);
}

/**
 * Converts a wall-clock time in a zone to an instant. A wall time that occurs
 * twice (the hour repeated when clocks go back) gives the earlier instant; a
 * wall time that does not occur (skipped when clocks go forward) gives the
 * first valid instant after it, which is the moment the clocks jumped.
 * Assumes a zone changes its offset at most once within a day either side.
 *
 * @example
 * ```ts
 * const ny = "America/New_York";
 * wallToInstant(Date.UTC(2024, 10, 3, 1, 30), ny) === Date.UTC(2024, 10, 3, 5, 30); // 01:30 EDT
 * wallToInstant(Date.UTC(2024, 2, 10, 2, 30), ny) === Date.UTC(2024, 2, 10, 7, 0); // 03:00 EDT
 * ```
 */
export function wallToInstant(wall: number, tz: string): number {
  if (tz === "UTC") return wall;
  const before = offsetAt(wall - DAY, tz);
  const after = offsetAt(wall + DAY, tz);
  const candidates = [before, after]
    .map((o) => wall - o)
    .filter((t) => instantToWall(t, tz) === wall);
  if (candidates.length > 0) return Math.min(...candidates);
  if (before === after) return wall - before; // two changes within a day: no real zone does this
  // In a gap: the clocks jumped from before `wall` to after it between lo and hi.
  const lo = wall - Math.max(before, after);
  const hi = wall - Math.min(before, after);
  return firstInstant(lo, hi, (t) => instantToWall(t, tz) >= wall);
}

/**
 * The first whole second in (lo, hi] where `pred` holds, given that it does
 * not hold at lo, holds at hi, and flips once in between.
 */
function firstInstant(
  lo: number,
  hi: number,
  pred: (t: number) => boolean,
): number {
  let a = Math.floor(lo / 1000);
  let b = Math.ceil(hi / 1000);
  while (b - a > 1) {
    const mid = Math.floor((a + b) / 2);
    if (pred(mid * 1000)) b = mid;
    else a = mid;
  }
  return b * 1000;
}

/**
 * The first instant in (from, to] where the zone's offset differs from its
 * offset at `from`, or undefined when it is the same throughout. Samples at
 * most a day apart, so it assumes a zone never changes its offset twice within
 * a day (true of every zone in the IANA database since 1970).
 *
 * @example
 * ```ts
 * const t = offsetChangeBetween(Date.UTC(2024, 2, 9), Date.UTC(2024, 2, 12), "America/New_York");
 * new Date(t!).toISOString(); // "2024-03-10T07:00:00.000Z"
 * ```
 */
export function offsetChangeBetween(
  from: number,
  to: number,
  tz: string,
): number | undefined {
  if (tz === "UTC" || to <= from) return undefined;
  const base = offsetAt(from, tz);
  let prev = from;
  while (prev < to) {
    const next = Math.min(prev + DAY, to);
    if (offsetAt(next, tz) !== base) {
      return firstInstant(prev, next, (t) => offsetAt(t, tz) !== base);
    }
    prev = next;
  }
  return undefined;
}
