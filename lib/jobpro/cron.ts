/**
 * Cron expressions: parsing and validating them field by field, and computing
 * their fire times in a time zone, daylight saving time included.
 *
 * The syntax is robfig/cron v3's (the library the Go service used), so every
 * schedule it accepts is accepted here with the same meaning: 5 fields
 * (`minute hour day-of-month month day-of-week`) or 6 with seconds first;
 * `*` and `?` (the same, in any field), numbers, lists `1,15`, ranges `1-5`,
 * steps `*\/15`, `1-30/5` and `5/15` (from 5 to the end of the field); a step
 * larger than the field's range leaves only its start (`*\/90` in seconds is
 * second 0) and the spec carries a warning saying so; month names `JAN`-`DEC`
 * and day names `SUN`-`SAT`; nicknames `@yearly @annually @monthly @weekly
 * @daily @midnight @hourly`. Beyond robfig: full names (`Monday`), any case,
 * and day-of-week 7 as Sunday.
 *
 * Days: when day-of-month or day-of-week contains a `*` or `?` item (alone or
 * in a list: `*,5` is unrestricted) a day must match both; when both are
 * restricted, a day matching either fires (Vixie cron, robfig/cron, croniter).
 *
 * Wall times come from the calendar search in `calendar.ts`; this module maps
 * them to instants in the job's zone with these rules:
 * - A fixed-time job (hour field restricted) fires once per matching wall
 *   time: in a repeated hour only the first time; a wall time skipped by
 *   spring-forward fires at the first valid instant after (the jump itself).
 * - An interval job (hour field `*`, `?`, or a step of them that leaves more
 *   than one hour) fires at every instant whose wall time matches: through
 *   both passes of a repeated hour, and straight on after a skipped hour, so
 *   `*\/15` stays 15 minutes apart in real time.
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
import { type CalendarSpec, nextMatch } from "./calendar.ts";
import { invalid } from "./errors.ts";
import {
  allChars,
  capitalize,
  clip,
  DAY_NAMES,
  isDigit,
  isLetter,
  MONTH_NAMES,
  nameIndex,
  splitWords,
} from "./text.ts";
import {
  instantToWall,
  offsetAt,
  offsetChangeBetween,
  wallToInstant,
} from "./zones.ts";

/** A validated cron expression, as plain data. */
export interface CronSpec extends CalendarSpec {
  /** The six fields (seconds first), normalized: names as numbers, unrestricted as `*`. */
  fields: readonly string[];
  /** The six fields as plain value lists or `*`. */
  pattern: string;
  /** Per field: unrestricted (an item `*` or `?`, or such with step 1). */
  stars: readonly boolean[];
  /** The hour field steps through the day: the job keeps its interval across DST changes. */
  interval: boolean;
  /** What the expression means that its text may not say (a step beyond its field). */
  warnings: readonly string[];
}

type FieldDef = {
  name: string;
  min: number;
  max: number;
  /** Largest value `*` stands for (6 for day-of-week, where 7 is also Sunday). */
  starMax: number;
  names?: readonly string[];
  nameKind?: string;
  /** A day field, where Quartz users may try 'L' and 'W'. */
  day?: true;
};

const FIELDS: readonly FieldDef[] = [
  { name: "second", min: 0, max: 59, starMax: 59 },
  { name: "minute", min: 0, max: 59, starMax: 59 },
  { name: "hour", min: 0, max: 23, starMax: 23 },
  { name: "day-of-month", min: 1, max: 31, starMax: 31, day: true },
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
    day: true,
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

function isCronChar(c: string): boolean {
  return isDigit(c) || isLetter(c) || "*?,/-#+".includes(c);
}

/**
 * True when the text has the shape of a cron expression: a nickname (`@...`),
 * or words made only of cron characters that are either at least five or
 * contain `*` or `?`. Decides whether a schedule is periodic or one-time; it
 * does not validate (`parseCron` does, with precise errors), so `61 * * * *`
 * is a cron expression — an invalid one. (A relative time such as
 * `1 h 30 m 5 s` is told apart before this is asked: see `schedule.ts`.)
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
  const [second, minute, hour, dom, month, dow] = parsed;
  checkReachable(dom, month, dow.star);
  return {
    fields: parsed.map((p) => p.text),
    pattern: parsed.map((p) => (p.star ? "*" : p.values.join(","))).join(" "),
    stars: parsed.map((p) => p.star),
    interval: hour.stepsThrough && hour.values.length > 1,
    warnings: parsed.flatMap((p) => p.warnings),
    seconds: second.values,
    minutes: minute.values,
    hours: hour.values,
    days: bits(dom.values),
    months: bits(month.values),
    weekdays: bits(dow.values),
    domStar: dom.star,
    dowStar: dow.star,
  };
}

function bits(values: readonly number[]): number {
  let b = 0;
  for (const v of values) b |= 1 << v;
  return b;
}

function expandNickname(words: string[]): string[] {
  const nick = words[0].toLowerCase();
  const expansion = NICKNAMES[nick];
  if (expansion === undefined) {
    fail(
      `'${
        clip(words[0])
      }' is not a known nickname (use @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or @every <duration>)`,
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

type ParsedField = {
  values: number[];
  /** An item is `*` or `?` with no step or step 1: the field is unrestricted. */
  star: boolean;
  /** The field is one `*` or `?` item, stepped or not (for the hour: an interval job). */
  stepsThrough: boolean;
  text: string;
  warnings: string[];
};

type Err = (msg: string) => never;

function parseField(word: string, def: FieldDef): ParsedField {
  const err: Err = (msg) => fail(`${def.name} field: ${msg}`);
  for (const c of word) {
    if (!isDigit(c) && !isLetter(c) && !"*?,/-+".includes(c)) {
      err(`unexpected character '${c}' in '${clip(word)}'${hint(c)}`);
    }
  }
  const set = new Set<number>();
  const warnings: string[] = [];
  const items = word.split(",").map((item) =>
    parseItem(item, def, set, err, warnings)
  );
  const star = items.some((i) => i.star);
  const all = [...set].sort((a, b) => a - b);
  return {
    values: star ? range(def.min, def.starMax) : all,
    star,
    stepsThrough: items.length === 1 && items[0].wild,
    text: star ? "*" : items.map((i) => i.text).join(","),
    warnings,
  };
}

function range(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let v = lo; v <= hi; v++) out.push(v);
  return out;
}

function hint(c: string): string {
  return c === "#" ? " (nth weekday '#' is not supported)" : "";
}

type ParsedItem = {
  /** Normalized text, for the description. */
  text: string;
  /** `*` or `?`, with no step or step 1. */
  star: boolean;
  /** `*` or `?`, stepped or not. */
  wild: boolean;
};

/** Adds the item's values to `set`. */
function parseItem(
  item: string,
  def: FieldDef,
  set: Set<number>,
  err: Err,
  warnings: string[],
): ParsedItem {
  if (item === "") err("empty item in the list (two commas, or one at an end)");
  const parts = item.split("/");
  if (parts.length > 2) err(`'${clip(item)}' has more than one '/'`);
  const [base, stepText] = parts;
  const step = stepText === undefined ? 1 : parseStep(stepText, item, err);
  const wild = base === "*" || base === "?";
  const [lo, hi] = wild
    ? [def.min, def.starMax]
    : parseRange(base, def, stepText !== undefined, err);
  addRange(set, def, lo, hi, step);
  if (step > 1 && lo + step > hi) {
    // robfig and croniter accept it; say what it means.
    warnings.push(
      `${def.name} field: step ${step} in '${
        clip(item)
      }' is larger than the range ${lo}-${hi}, so it means only ${lo}`,
    );
    return { text: String(lo), star: false, wild };
  }
  const baseText = wild ? "*" : lo === hi ? `${lo}` : `${lo}-${hi}`;
  return {
    text: step === 1 ? baseText : `${baseText}/${step}`,
    star: wild && step === 1,
    wild,
  };
}

/** `a`, `a-b`, or `a` with a step (from a to the field's end). */
function parseRange(
  base: string,
  def: FieldDef,
  stepped: boolean,
  err: Err,
): [number, number] {
  const ends = base.split("-");
  if (ends.length > 2) {
    err(`'${clip(base)}' is not a range: use one '-' as in 1-5`);
  }
  if (ends.some((r) => r === "")) {
    err(
      `range '${clip(base)}' is missing its ${
        ends[0] === "" ? "start" : "end"
      }`,
    );
  }
  const lo = parseValue(ends[0], def, err);
  const hi = ends.length === 2
    ? parseValue(ends[1], def, err)
    : stepped
    ? Math.max(lo, def.starMax)
    : lo;
  if (lo > hi) {
    err(`range ${base} is reversed (the start must not be after the end)`);
  }
  return [lo, hi];
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

/** Digits, optionally after a '+' (robfig reads numbers with Go's Atoi). */
function isNumber(text: string): boolean {
  return allChars(text.startsWith("+") ? text.slice(1) : text, isDigit);
}

function parseStep(text: string, item: string, err: Err): number {
  if (!isNumber(text)) {
    err(`step '${clip(text)}' in '${clip(item)}' is not a number`);
  }
  const step = Number(text);
  if (step < 1) err(`step ${text} in '${clip(item)}' must be at least 1`);
  return step;
}

function parseValue(tok: string, def: FieldDef, err: Err): number {
  if (isNumber(tok)) {
    const v = Number(tok);
    if (v < def.min || v > def.max) {
      err(`${clip(tok)} is out of range ${def.min}-${def.max}`);
    }
    return v;
  }
  if (allChars(tok, isLetter) && def.names) {
    const v = nameIndex(tok, def.names);
    if (v === undefined) err(`'${clip(tok)}' is not a ${def.nameKind} name`);
    return def.names === MONTH_NAMES ? v + 1 : v;
  }
  const expected = def.names
    ? `a number or a ${def.nameKind} name`
    : "a number";
  const up = tok.toUpperCase();
  const lw = def.day && (up.includes("L") || up.includes("W"))
    ? " ('L' and 'W' are not supported)"
    : "";
  return err(`'${clip(tok)}' is not ${expected}${lw}`);
}

const MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Rejects day-of-month/month pairs that never occur, like `30 2` (Feb 30). */
function checkReachable(
  dom: ParsedField,
  month: ParsedField,
  dowStar: boolean,
): void {
  if (dom.star || !dowStar) return;
  const minDay = dom.values[0];
  if (month.values.some((m) => minDay <= MONTH_DAYS[m - 1])) return;
  const months = month.values.map((m) =>
    capitalize(MONTH_NAMES[m - 1].slice(0, 3))
  ).join(", ");
  fail(
    `day-of-month field: ${dom.text} never occurs in ${months}, so the schedule would never run`,
  );
}

const compiled = new Map<string, CronSpec>();
const MAX_CACHED = 1000;

/**
 * {@link parseCron}, cached by expression text.
 *
 * @example
 * ```ts
 * compileCron("@daily").pattern; // "0 0 0 * * *"
 * ```
 */
export function compileCron(expr: string): CronSpec {
  const hit = compiled.get(expr);
  if (hit) return hit;
  const spec = parseCron(expr);
  if (compiled.size >= MAX_CACHED) {
    compiled.delete(compiled.keys().next().value!);
  }
  compiled.set(expr, spec);
  return spec;
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
  if (tz === "UTC") return nextMatch(spec, after);
  return spec.interval
    ? nextInterval(spec, tz, after)
    : nextFixed(spec, tz, after);
}

/** Bounds the loops below; each normally ends in one or two turns. */
const MAX_TURNS = 10_000;

function nextFixed(spec: CronSpec, tz: string, after: number): number | null {
  let wall = instantToWall(after, tz);
  for (let turn = 0; turn < MAX_TURNS; turn++) {
    const w = nextMatch(spec, wall);
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
  spec: CronSpec,
  tz: string,
  after: number,
): number | null {
  let from = after;
  let inclusive = false;
  for (let turn = 0; turn < MAX_TURNS; turn++) {
    const offset = offsetAt(from, tz);
    const w = nextMatch(spec, from + offset - (inclusive ? 1 : 0));
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
