/**
 * Cron expressions: parsing and validating them field by field, and computing
 * their fire times in a time zone, daylight saving time included.
 *
 * Accepted: 5 fields (`minute hour day-of-month month day-of-week`) or 6 with
 * seconds first; `*`, numbers, lists `1,15`, ranges `1-5`, steps `*\/15`,
 * `1-30/5` and `5/15` (from 5 to the end); month names `JAN`-`DEC` and day names
 * `SUN`-`SAT` (3 letters or full, any case; day 7 is Sunday too); `?` as `*` in
 * day-of-month and day-of-week; nicknames `@yearly @annually @monthly @weekly
 * @daily @midnight @hourly`. When day-of-month and day-of-week are both
 * restricted (neither is `*` or `?`) a day matches if EITHER matches, as in
 * Vixie cron and robfig/cron.
 *
 * Fire times are computed by croner on the wall clock of the zone (croner runs
 * in UTC on "fake UTC" wall times) and mapped to instants here, because croner
 * 10's own DST handling skips runs in the spring-forward gap, can return times
 * out of order there, and fires interval jobs only once through a repeated
 * hour. The rules applied instead:
 * - A fixed-time job (hour field restricted) fires once per matching wall
 *   time: in a repeated hour only the first time; a wall time skipped by
 *   spring-forward fires at the first valid instant after (the jump itself).
 * - An interval job (hour field `*` or `*\/n`) fires at every instant whose wall
 *   time matches: through both passes of a repeated hour, and straight on
 *   after a skipped hour, so `*\/15` stays 15 minutes apart in real time.
 *
 * @example
 * ```ts
 * import { nextCronRun, parseCron } from "./cron.ts";
 * const spec = parseCron("30 2 * * *");
 * new Date(nextCronRun(spec, "America/New_York", Date.UTC(2024, 2, 9, 12))!).toISOString();
 * // "2024-03-10T07:00:00.000Z": 02:30 is skipped that day, so 03:00 EDT
 * ```
 * @module
 */
import { Cron } from "croner";
import { invalid } from "./errors.ts";
import {
  instantToWall,
  offsetAt,
  offsetChangeBetween,
  wallToInstant,
} from "./zones.ts";

/** A validated cron expression, as plain data. */
export type CronSpec = {
  /** The six fields (seconds first), names as numbers, `?` as `*`, nicknames expanded. */
  fields: readonly string[];
  /** The six fields as plain numbers or `*`, as given to croner. */
  pattern: string;
  /** Per field: unrestricted (`*`, `?` or `*\/1`). */
  stars: readonly boolean[];
  /** The hour field is `*` or `*\/n`: the job keeps its interval across DST changes. */
  interval: boolean;
};

type FieldDef = {
  name: string;
  min: number;
  max: number;
  /** Largest value `*` stands for (6 for day-of-week, where 7 is also Sunday). */
  starMax: number;
  names?: readonly string[];
  nameKind?: string;
  question?: boolean;
};

const MONTH_NAMES = [
  "january",
  "february",
  "march",
  "april",
  "may",
  "june",
  "july",
  "august",
  "september",
  "october",
  "november",
  "december",
];
const DAY_NAMES = [
  "sunday",
  "monday",
  "tuesday",
  "wednesday",
  "thursday",
  "friday",
  "saturday",
];

const FIELDS: readonly FieldDef[] = [
  { name: "second", min: 0, max: 59, starMax: 59 },
  { name: "minute", min: 0, max: 59, starMax: 59 },
  { name: "hour", min: 0, max: 23, starMax: 23 },
  { name: "day-of-month", min: 1, max: 31, starMax: 31, question: true },
  {
    name: "month",
    min: 1,
    max: 12,
    starMax: 12,
    names: MONTH_NAMES,
    nameKind: "month",
  },
  {
    name: "day-of-week",
    min: 0,
    max: 7,
    starMax: 6,
    names: DAY_NAMES,
    nameKind: "day",
    question: true,
  },
];

const NICKNAMES: Readonly<Record<string, string>> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

/** Longest cron expression accepted. */
export const MAX_CRON_LENGTH = 256;

function fail(message: string): never {
  throw invalid("schedule", message);
}

function isDigit(c: string): boolean {
  return c >= "0" && c <= "9";
}

/** ASCII letters only: `toLowerCase` would let some non-ASCII letters through. */
function isLetter(c: string): boolean {
  const code = c.charCodeAt(0) | 0x20;
  return c.length === 1 && code >= 97 && code <= 122;
}

function allChars(s: string, pred: (c: string) => boolean): boolean {
  for (const c of s) if (!pred(c)) return false;
  return s.length > 0;
}

function isCronChar(c: string): boolean {
  return isDigit(c) || isLetter(c) || "*?,/-#+".includes(c);
}

/**
 * Splits on runs of spaces, tabs and line breaks, in one linear pass.
 *
 * @example
 * ```ts
 * splitWords("  *\/5   *\t* * * "); // ["*\/5", "*", "*", "*", "*"]
 * ```
 */
export function splitWords(s: string): string[] {
  const words: string[] = [];
  let cur = "";
  for (const c of s) {
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      if (cur) words.push(cur);
      cur = "";
    } else cur += c;
  }
  if (cur) words.push(cur);
  return words;
}

/**
 * True when the text has the shape of a cron expression: a nickname (`@...`),
 * or words made only of cron characters that are either at least five or
 * contain `*` or `?`. Decides whether a schedule is periodic or one-time; it
 * does not validate (`parseCron` does, with precise errors), so `61 * * * *`
 * is a cron expression — an invalid one.
 *
 * @example
 * ```ts
 * isCronExpression("*\/15 * * * * *"); // true
 * isCronExpression("@daily"); // true
 * isCronExpression("in 30s"); // false
 * isCronExpression("2024-01-15 14:30:00 PST"); // false
 * ```
 */
export function isCronExpression(expr: string): boolean {
  if (typeof expr !== "string" || expr.length > MAX_CRON_LENGTH) return false;
  const t = expr.trim();
  if (t.startsWith("@")) return true;
  const words = splitWords(t);
  if (words.length === 0 || words[0].toLowerCase() === "in" || t[0] === "+") {
    return false;
  }
  if (!words.every((w) => allChars(w, isCronChar))) return false;
  return words.length >= 5 ||
    words.some((w) => w.includes("*") || w.includes("?"));
}

/**
 * Parses and validates a cron expression. Throws
 * `JobproError("invalid", ..., "schedule")` whose message names the wrong
 * part, e.g. `schedule: minute field: 61 is out of range 0-59`.
 *
 * @example
 * ```ts
 * parseCron("0 0 13 * FRI").pattern; // "0 0 0 13 * 5"
 * parseCron("@hourly").interval; // true
 * parseCron("61 * * * *"); // throws "schedule: minute field: 61 is out of range 0-59"
 * ```
 */
export function parseCron(expr: string): CronSpec {
  if (expr.length > MAX_CRON_LENGTH) {
    fail(`is too long (${expr.length} characters, at most ${MAX_CRON_LENGTH})`);
  }
  let words = splitWords(expr);
  if (words.length > 0 && words[0].startsWith("@")) {
    words = expandNickname(words);
  }
  if (words.length !== 5 && words.length !== 6) {
    fail(`expected 5 or 6 fields, got ${words.length}`);
  }
  if (words.length === 5) words = ["0", ...words];
  const parsed = words.map((w, i) => parseField(w, FIELDS[i]));
  const stars = parsed.map((p) => p.star);
  checkReachable(parsed[3], parsed[4], stars[5]);
  return {
    fields: parsed.map((p) => p.text),
    pattern: parsed.map((p) => (p.star ? "*" : p.values.join(","))).join(" "),
    stars,
    interval: words[2] === "*" || words[2].startsWith("*/"),
  };
}

function expandNickname(words: string[]): string[] {
  const nick = words[0].toLowerCase();
  const expansion = NICKNAMES[nick];
  if (expansion === undefined) {
    fail(
      `'${
        clip(words[0])
      }' is not a known nickname (use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly)`,
    );
  }
  if (words.length > 1) {
    fail(
      `'${words[0]}' takes no other fields, got '${
        clip(words.slice(1).join(" "))
      }'`,
    );
  }
  return expansion.split(" ");
}

/** Shortens user text quoted in an error message. */
function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}...` : s;
}

type ParsedField = { values: number[]; star: boolean; text: string };

function parseField(word: string, def: FieldDef): ParsedField {
  const err = (msg: string): never => fail(`${def.name} field: ${msg}`);
  for (const c of word) {
    if (!isDigit(c) && !isLetter(c) && !"*?,/-".includes(c)) {
      err(`unexpected character '${c}' in '${clip(word)}'${hint(c)}`);
    }
  }
  const items = word.split(",");
  const set = new Set<number>();
  const texts = items.map((item) => parseItem(item, def, set, err));
  const star = items.length === 1 && isStarItem(items[0]);
  return {
    values: [...set].sort((a, b) => a - b),
    star,
    text: texts.join(","),
  };
}

function hint(c: string): string {
  return c === "#" ? " (nth weekday '#' is not supported)" : "";
}

function isStarItem(item: string): boolean {
  return item === "*" || item === "?" || item === "*/1";
}

/** Adds the item's values to `set`; returns its normalized text. */
function parseItem(
  item: string,
  def: FieldDef,
  set: Set<number>,
  err: (msg: string) => never,
): string {
  if (item === "") err("empty item in the list (two commas, or one at an end)");
  const parts = item.split("/");
  if (parts.length > 2) err(`'${clip(item)}' has more than one '/'`);
  const [base, stepText] = parts;
  const step = stepText === undefined ? 1 : parseStep(stepText, item, def, err);
  if (base === "*" || base === "?") {
    if (base === "?" && !def.question) {
      err("'?' is only allowed in the day-of-month and day-of-week fields");
    }
    if (base === "?" && stepText !== undefined) {
      err(`'?' takes no step, got '${clip(item)}'`);
    }
    addRange(set, def, def.min, def.starMax, step);
    return stepText === undefined ? "*" : `*/${step}`;
  }
  const range = base.split("-");
  if (range.length > 2) {
    err(`'${clip(base)}' is not a range: use one '-' as in 1-5`);
  }
  if (range.some((r) => r === "")) {
    err(
      `range '${clip(base)}' is missing its ${
        range[0] === "" ? "start" : "end"
      }`,
    );
  }
  const lo = parseValue(range[0], def, err);
  const hi = range.length === 2
    ? parseValue(range[1], def, err)
    : stepText === undefined
    ? lo
    : Math.max(lo, def.starMax);
  if (lo > hi) {
    err(`range ${base} is reversed (the start must not be after the end)`);
  }
  addRange(set, def, lo, hi, step);
  const baseText = range.length === 2 ? `${lo}-${hi}` : `${lo}`;
  return stepText === undefined ? baseText : `${baseText}/${step}`;
}

/** Day-of-week 7 is Sunday, stored as 0. */
function addRange(
  set: Set<number>,
  def: FieldDef,
  lo: number,
  hi: number,
  step: number,
): void {
  const fold = def.names === DAY_NAMES;
  for (let v = lo; v <= hi; v += step) set.add(fold && v === 7 ? 0 : v);
}

function parseStep(
  text: string,
  item: string,
  def: FieldDef,
  err: (msg: string) => never,
): number {
  if (!allChars(text, isDigit)) {
    err(`step '${clip(text)}' in '${clip(item)}' is not a number`);
  }
  const step = Number(text);
  if (step < 1) err(`step ${text} in '${clip(item)}' must be at least 1`);
  const span = def.starMax - def.min + 1;
  if (step > span) {
    err(
      `step ${clip(text)} in '${
        clip(item)
      }' is larger than the field's range ${def.min}-${def.starMax}`,
    );
  }
  return step;
}

function parseValue(
  tok: string,
  def: FieldDef,
  err: (msg: string) => never,
): number {
  if (allChars(tok, isDigit)) {
    const v = Number(tok);
    if (v < def.min || v > def.max) {
      err(`${clip(tok)} is out of range ${def.min}-${def.max}`);
    }
    return v;
  }
  if (allChars(tok, isLetter) && def.names) {
    const v = nameValue(tok, def.names);
    if (v === undefined) err(`'${clip(tok)}' is not a ${def.nameKind} name`);
    return def.names === MONTH_NAMES ? v + 1 : v;
  }
  const expected = def.names
    ? `a number or a ${def.nameKind} name`
    : "a number";
  const up = tok.toUpperCase();
  const lw = def.question && (up.includes("L") || up.includes("W"))
    ? " ('L' and 'W' are not supported)"
    : "";
  return err(`'${clip(tok)}' is not ${expected}${lw}`);
}

/** Index of a 3-letter or full name, any case. */
function nameValue(tok: string, names: readonly string[]): number | undefined {
  const t = tok.toLowerCase();
  const i = names.findIndex((n) =>
    n === t || (t.length === 3 && n.startsWith(t))
  );
  return i < 0 ? undefined : i;
}

const MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const MONTH_SHORT = [
  "Jan",
  "Feb",
  "Mar",
  "Apr",
  "May",
  "Jun",
  "Jul",
  "Aug",
  "Sep",
  "Oct",
  "Nov",
  "Dec",
];

/** Rejects day-of-month/month pairs that never occur, like `30 2` (Feb 30). */
function checkReachable(
  dom: ParsedField,
  month: ParsedField,
  dowStar: boolean,
): void {
  if (dom.star || !dowStar) return;
  const minDay = dom.values[0];
  if (month.values.some((m) => minDay <= MONTH_DAYS[m - 1])) return;
  const months = month.values.map((m) => MONTH_SHORT[m - 1]).join(", ");
  fail(
    `day-of-month field: ${dom.text} never occurs in ${months}, so the schedule would never run`,
  );
}

const compiled = new Map<string, CronSpec>();
const croners = new Map<string, Cron>();
const MAX_CACHED = 1000;

/** Keeps a bounded number of entries, dropping the oldest. */
function remember<T>(cache: Map<string, T>, key: string, value: T): T {
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
  cache.set(key, value);
  return value;
}

/**
 * {@link parseCron}, cached by expression text.
 *
 * @example
 * ```ts
 * compileCron("@daily").pattern; // "0 0 0 * * *"
 * ```
 */
export function compileCron(expr: string): CronSpec {
  return compiled.get(expr) ?? remember(compiled, expr, parseCron(expr));
}

/** croner on fake-UTC wall times: no zone, so none of its DST handling applies. */
function cronerFor(pattern: string): Cron {
  return croners.get(pattern) ??
    remember(
      croners,
      pattern,
      new Cron(pattern, { utcOffset: 0, mode: "6-part", paused: true }),
    );
}

/** The first matching wall time strictly after `wall` (whole seconds). */
function nextWall(pattern: string, wall: number): number | null {
  const d = cronerFor(pattern).nextRun(new Date(wall));
  return d ? d.getTime() : null;
}

/**
 * The first fire time strictly after `after` (ms since the epoch) of a cron
 * spec in a zone, or null when there is none before year 10000.
 *
 * @example
 * ```ts
 * const spec = parseCron("*\/15 * * * * *");
 * nextCronRun(spec, "UTC", Date.UTC(2024, 0, 1, 0, 0, 15)) === Date.UTC(2024, 0, 1, 0, 0, 30); // true
 * ```
 */
export function nextCronRun(
  spec: CronSpec,
  tz: string,
  after: number,
): number | null {
  if (tz === "UTC") return nextWall(spec.pattern, after);
  return spec.interval
    ? nextInterval(spec.pattern, tz, after)
    : nextFixed(spec.pattern, tz, after);
}

/** Bounds the loops below; each normally ends in one or two turns. */
const MAX_TURNS = 10_000;

function nextFixed(pattern: string, tz: string, after: number): number | null {
  let wall = instantToWall(after, tz);
  for (let turn = 0; turn < MAX_TURNS; turn++) {
    const w = nextWall(pattern, wall);
    if (w === null) return null;
    const t = wallToInstant(w, tz);
    if (t > after) return t;
    // `after` lies in the second pass of a repeated hour, and w already fired
    // in the first: continue from the end of the repeated wall times.
    const change = offsetChangeBetween(t, after, tz);
    wall = change === undefined ? w : Math.max(w, change + offsetAt(t, tz) - 1);
  }
  return null;
}

function nextInterval(
  pattern: string,
  tz: string,
  after: number,
): number | null {
  let from = after;
  let inclusive = false;
  for (let turn = 0; turn < MAX_TURNS; turn++) {
    const offset = offsetAt(from, tz);
    const w = nextWall(pattern, from + offset - (inclusive ? 1 : 0));
    if (w === null) return null;
    const t = w - offset;
    const change = offsetChangeBetween(from, t, tz);
    if (change === undefined) return t;
    // The offset changes before t: search again from the change, on the new offset.
    from = change;
    inclusive = true;
  }
  return null;
}
