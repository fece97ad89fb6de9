/**
 * jobpro's schedules against a brute-force reference written here, sharing
 * no code with the engine: random cron expressions are generated as
 * structure (which values each field allows), printed as text for jobpro to
 * parse, and the reference matches wall-clock times against the structure
 * directly, then maps them to instants with the DST rules the README states,
 * using its own reading of the zone data (Intl).
 */
import { assert, assertEquals, assertThrows } from "@std/assert";
import { nextRuns, parseSchedule } from "@/lib/jobpro/schedule.ts";
import { JobproError } from "@/lib/jobpro/errors.ts";

// ---- a seeded PRNG -----------------------------------------------------------

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

// ---- the reference: expressions as structure ----------------------------------

type FieldRef = {
  text: string;
  values: Set<number>;
  /** robfig's star bit: some item is `*` or `?` with no step (or step 1). */
  star: boolean;
  /** A single `*`/`?` item, stepped or not. */
  wild: boolean;
};

type Bounds = { min: number; max: number; starMax: number; names?: string[] };

const MONTHS = [
  "jan",
  "feb",
  "mar",
  "apr",
  "may",
  "jun",
  "jul",
  "aug",
  "sep",
  "oct",
  "nov",
  "dec",
];
const FULL_MONTHS = [
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
const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

const B = {
  second: { min: 0, max: 59, starMax: 59 },
  minute: { min: 0, max: 59, starMax: 59 },
  hour: { min: 0, max: 23, starMax: 23 },
  dom: { min: 1, max: 31, starMax: 31 },
  month: { min: 1, max: 12, starMax: 12, names: MONTHS },
  dow: { min: 0, max: 7, starMax: 6, names: DAYS },
} satisfies Record<string, Bounds>;

type Random = () => number;
const int = (r: Random, lo: number, hi: number) =>
  lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(r: Random, xs: readonly T[]): T =>
  xs[int(r, 0, xs.length - 1)];

function randomCase(r: Random, s: string): string {
  const c = r();
  return c < 0.4
    ? s.toUpperCase()
    : c < 0.8
    ? s
    : s[0].toUpperCase() + s.slice(1);
}

/** A value as text: a number, or for months and days sometimes a name. */
function valueText(r: Random, b: Bounds, v: number): string {
  if (!b.names || r() < 0.6 || v === 7) return String(v);
  if (b === B.month && r() < 0.3) return randomCase(r, FULL_MONTHS[v - 1]);
  return randomCase(r, b.names[b === B.month ? v - 1 : v]);
}

const fold = (b: Bounds, v: number) => (b === B.dow && v === 7 ? 0 : v);

/** One random list item: its text, the values it adds, whether it is a star. */
function item(
  r: Random,
  b: Bounds,
): { text: string; values: number[]; star: boolean; wild: boolean } {
  const kind = r();
  const span = b.starMax - b.min + 1;
  const add = (lo: number, hi: number, step: number) => {
    const out: number[] = [];
    for (let v = lo; v <= hi; v += step) out.push(fold(b, v));
    return out;
  };
  if (kind < 0.12) {
    const q = r() < 0.25 ? "?" : "*";
    return {
      text: q,
      values: add(b.min, b.starMax, 1),
      star: true,
      wild: true,
    };
  }
  if (kind < 0.3) {
    // a step of * (sometimes larger than the range: it then means the start)
    const step = r() < 0.1
      ? int(r, span, span + 40)
      : int(r, 2, Math.max(2, span - 1));
    return {
      text: `${r() < 0.2 ? "?" : "*"}/${step}`,
      values: add(b.min, b.starMax, step),
      star: false,
      wild: true,
    };
  }
  const a = int(r, b.min, b.max);
  if (kind < 0.6) {
    return {
      text: valueText(r, b, a),
      values: [fold(b, a)],
      star: false,
      wild: false,
    };
  }
  const c = int(r, a, b.max);
  if (kind < 0.8) {
    return {
      text: `${valueText(r, b, a)}-${valueText(r, b, c)}`,
      values: add(a, c, 1),
      star: false,
      wild: false,
    };
  }
  const step = int(r, 1, Math.max(1, c - a + 3));
  if (kind < 0.9) {
    return {
      text: `${valueText(r, b, a)}-${valueText(r, b, c)}/${step}`,
      values: add(a, c, step),
      star: false,
      wild: false,
    };
  }
  // a/step: from a to the end of the field
  return {
    text: `${valueText(r, b, a)}/${step}`,
    values: add(a, Math.max(a, b.starMax), step),
    star: false,
    wild: false,
  };
}

/** A random field: mostly `*` or one item, sometimes a list of up to three. */
function field(r: Random, b: Bounds, starBias: number): FieldRef {
  if (r() < starBias) {
    const values = new Set<number>();
    for (let v = b.min; v <= b.starMax; v++) values.add(v);
    return { text: "*", values, star: true, wild: true };
  }
  const n = r() < 0.7 ? 1 : int(r, 2, 3);
  const items = Array.from({ length: n }, () => item(r, b));
  const values = new Set(items.flatMap((i) => i.values));
  return {
    text: items.map((i) => i.text).join(","),
    values,
    star: items.some((i) => i.star),
    wild: n === 1 && items[0].wild,
  };
}

type ExprRef = {
  text: string;
  fields: FieldRef[]; // second, minute, hour, dom, month, dow
  /** The README's interval rule: the hour field is one `*`/`?` item that leaves more than one hour. */
  interval: boolean;
};

function expression(r: Random): ExprRef {
  const six = r() < 0.5;
  const second = six
    ? field(r, B.second, 0.3)
    : { text: "0", values: new Set([0]), star: false, wild: false };
  const fields = [
    second,
    field(r, B.minute, 0.15),
    field(r, B.hour, 0.35),
    field(r, B.dom, 0.5),
    field(r, B.month, 0.6),
    field(r, B.dow, 0.55),
  ];
  // Both day fields restricted in a good share of the cases.
  if (r() < 0.2) {
    fields[3] = field(r, B.dom, 0);
    fields[5] = field(r, B.dow, 0);
  }
  const texts = fields.map((f) => f.text);
  const hour = fields[2];
  return {
    text: (six ? texts : texts.slice(1)).join(" "),
    fields,
    interval: hour.wild && hour.values.size > 1,
  };
}

/** Sakamoto's method: 0 is Sunday. */
function dayOfWeek(y: number, m: number, d: number): number {
  const t = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
  const yy = m < 3 ? y - 1 : y;
  return (yy + Math.floor(yy / 4) - Math.floor(yy / 100) +
    Math.floor(yy / 400) +
    t[m - 1] + d) % 7;
}

function monthDays(y: number, m: number): number {
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}

function dayMatches(e: ExprRef, y: number, m: number, d: number): boolean {
  const [, , , dom, month, dow] = e.fields;
  if (!month.values.has(m)) return false;
  const a = dom.values.has(d);
  const b = dow.values.has(dayOfWeek(y, m, d));
  return dom.star || dow.star ? a && b : a || b;
}

/** Whether some date matches at all (dom/month pairs like Feb 30 never do): tried over a leap cycle. */
function everMatches(e: ExprRef): boolean {
  for (let y = 2024; y < 2028; y++) {
    for (let m = 1; m <= 12; m++) {
      const days = monthDays(y, m);
      for (let d = 1; d <= days; d++) if (dayMatches(e, y, m, d)) return true;
    }
  }
  return false;
}

/** Matching wall times (fake-UTC ms) of one civil day from `lo`, in order, while `more()` says so. */
function* wallTimesOfDay(
  e: ExprRef,
  base: number,
  lo: number,
  more: (wall: number) => boolean,
): Generator<number> {
  const [second, minute, hour] = e.fields;
  for (let h = 0; h < 24; h++) {
    const hourStart = base + h * 3_600_000;
    if (!hour.values.has(h) || hourStart + 3_600_000 <= lo) continue;
    for (let mi = 0; mi < 60; mi++) {
      const minuteStart = hourStart + mi * 60_000;
      if (!minute.values.has(mi) || minuteStart + 60_000 <= lo) continue;
      for (let s = 0; s < 60; s++) {
        const w = minuteStart + s * 1000;
        if (!second.values.has(s) || w < lo) continue;
        if (!more(w)) return;
        yield w;
      }
    }
  }
}

// ---- the reference: zones, read through Intl -----------------------------------

const formatters = new Map<string, Intl.DateTimeFormat>();

function wallOf(instant: number, tz: string): number {
  const t = Math.floor(instant / 1000) * 1000;
  if (tz === "UTC") return t;
  let f = formatters.get(tz);
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
    formatters.set(tz, f);
  }
  const p: Record<string, number> = {};
  for (const x of f.formatToParts(new Date(t))) p[x.type] = Number(x.value);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
}

const DAY = 86_400_000;

/** A zone's offsets as a table of changes, read once from Intl (1990-2100). */
type ZoneTable = { at: number[]; offset: number[]; first: number };
const tables = new Map<string, ZoneTable>();
const TABLE_FROM = Date.UTC(1990, 0, 1), TABLE_TO = Date.UTC(2100, 0, 1);

function intlOffset(instant: number, tz: string): number {
  return wallOf(instant, tz) - Math.floor(instant / 1000) * 1000;
}

function tableOf(tz: string): ZoneTable {
  let t = tables.get(tz);
  if (t) return t;
  t = { at: [], offset: [], first: intlOffset(TABLE_FROM, tz) };
  // Weekly samples: these zones never change their offset twice in a week.
  const WEEK = 7 * DAY;
  for (let d = TABLE_FROM; d < TABLE_TO; d += WEEK) {
    const base = intlOffset(d, tz);
    if (base === intlOffset(d + WEEK, tz)) continue;
    let lo = d / 1000, hi = (d + WEEK) / 1000;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (intlOffset(mid * 1000, tz) === base) lo = mid;
      else hi = mid;
    }
    t.at.push(hi * 1000);
    t.offset.push(intlOffset(hi * 1000, tz));
  }
  tables.set(tz, t);
  return t;
}

/** The zone's offset at an instant: from the table inside 1990-2100, from Intl outside. */
function offsetOf(instant: number, tz: string): number {
  if (tz === "UTC") return 0;
  if (instant < TABLE_FROM || instant >= TABLE_TO) {
    return intlOffset(instant, tz);
  }
  const t = tableOf(tz);
  const s = Math.floor(instant / 1000) * 1000;
  let lo = 0, hi = t.at.length; // first change after s
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (t.at[mid] <= s) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? t.first : t.offset[lo - 1];
}

const wallAt = (instant: number, tz: string) =>
  Math.floor(instant / 1000) * 1000 + offsetOf(instant, tz);

/** Every instant whose wall time in `tz` is `wall`, ascending (0, 1 or 2). */
function instantsOf(wall: number, tz: string): number[] {
  const offsets = new Set([
    offsetOf(wall - DAY, tz),
    offsetOf(wall, tz),
    offsetOf(wall + DAY, tz),
  ]);
  return [...offsets].map((o) => wall - o).filter((t) => wallAt(t, tz) === wall)
    .sort((a, b) => a - b);
}

/** For a wall time skipped by a jump forward: the first instant after the jump. */
function jumpAfter(wall: number, tz: string): number {
  let lo = Math.floor((wall - offsetOf(wall + DAY, tz)) / 1000);
  let hi = Math.ceil((wall - offsetOf(wall - DAY, tz)) / 1000);
  if (lo > hi) [lo, hi] = [hi, lo];
  // wall time goes from below `wall` to above it between lo and hi
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (wallAt(mid * 1000, tz) >= wall) hi = mid;
    else lo = mid;
  }
  return hi * 1000;
}

/**
 * The first `n` fire times strictly after `after`, by the README's rules:
 * an interval job fires at every instant whose wall time matches; a fixed
 * job fires at the first instant of each matching wall time, and a matching
 * wall time skipped by a jump forward fires at the jump.
 */
function referenceNext(
  e: ExprRef,
  tz: string,
  after: number,
  n: number,
): number[] {
  const fires: number[] = [];
  // No zone here moves its clocks by more than an hour, so an instant is
  // within MARGIN of its wall time's reading at any nearby instant.
  const MARGIN = 3 * 3_600_000;
  const lo = wallAt(after, tz) - MARGIN;
  let hi = Infinity; // once n fires are known: the wall times that can still come before them
  const limit = Date.UTC(2200, 0, 1);
  for (
    let day = Math.floor(lo / DAY) * DAY;
    day < limit && day <= hi;
    day += DAY
  ) {
    const d = new Date(day);
    const [y, m, dd] = [
      d.getUTCFullYear(),
      d.getUTCMonth() + 1,
      d.getUTCDate(),
    ];
    if (!dayMatches(e, y, m, dd)) continue;
    for (const wall of wallTimesOfDay(e, day, lo, (w) => w <= hi)) {
      const at = instantsOf(wall, tz);
      const times = e.interval
        ? at
        : at.length
        ? [at[0]]
        : [jumpAfter(wall, tz)];
      for (const t of times) if (t > after && !fires.includes(t)) fires.push(t);
      if (fires.length >= n && hi === Infinity) {
        fires.sort((a, b) => a - b);
        hi = wallAt(fires[n - 1], tz) + MARGIN;
      }
    }
  }
  return fires.sort((a, b) => a - b).slice(0, n);
}

// ---- where the clocks change ----------------------------------------------------

/** The instants in [from, to) at which the zone's offset changes. */
function transitions(tz: string, from: number, to: number): number[] {
  if (tz === "UTC") return [];
  return tableOf(tz).at.filter((t) => t >= from && t < to);
}

const ZONES = [
  "UTC",
  "America/New_York",
  "Europe/Berlin",
  "Australia/Sydney",
  "America/Sao_Paulo", // until 2019: clocks changed at midnight
];

const iso = (t: number) => new Date(t).toISOString();

Deno.test("differential: 5,000 random cron expressions in UTC and 4 DST zones agree with a brute-force wall-clock reference, 10 next times each", () => {
  const r = rng(20261201);
  const from = Date.UTC(1996, 0, 1), to = Date.UTC(2034, 0, 1);
  const changes = new Map(ZONES.map((z) => [z, transitions(z, from, to)]));
  let compared = 0, refused = 0, nearChange = 0;
  const kinds = { interval: 0, fixed: 0, bothDays: 0, list: 0, longStep: 0 };
  for (let i = 0; i < 5000; i++) {
    const e = expression(r);
    const tz = ZONES[i % ZONES.length];
    if (!everMatches(e)) {
      // Feb 30 and the like: refused as never running, naming the field.
      const err = assertThrows(() => parseSchedule(e.text), JobproError);
      assert(err.message.includes("never occurs"), `${e.text}: ${err.message}`);
      refused++;
      continue;
    }
    const near = changes.get(tz)!;
    let start: number;
    if (near.length && r() < 0.75) {
      // within a day and a half either side of a change
      start = pick(r, near) + int(r, -36 * 3600, 36 * 3600) * 1000;
      nearChange++;
    } else start = from + Math.floor(r() * (to - from));
    if (r() < 0.3) start += int(r, 0, 999); // off the whole second too
    const s = parseSchedule(e.text, { timezone: tz });
    const got = nextRuns(s, new Date(start), 10).map((d) => d.getTime());
    const want = referenceNext(e, tz, start, 10);
    assertEquals(
      got.map(iso),
      want.map(iso),
      `"${e.text}" in ${tz} after ${iso(start)}${
        e.interval ? " (interval)" : ""
      }`,
    );
    compared++;
    if (e.interval) kinds.interval++;
    else kinds.fixed++;
    if (!e.fields[3].star && !e.fields[5].star) kinds.bothDays++;
    if (e.text.includes(",")) kinds.list++;
    if (/[*?]\/\d{2,}/.test(e.text)) kinds.longStep++;
  }
  console.log(
    `[cron] ${compared} expressions compared (${nearChange} from near a DST change), ${refused} refused as never running; ${
      JSON.stringify(kinds)
    }`,
  );
  assert(compared >= 4900, `only ${compared} expressions were compared`);
  for (const [k, n] of Object.entries(kinds)) {
    assert(n > 100, `too few ${k}: ${n}`);
  }
});

/** Day-of-month patterns: every single day, step, start/step, and lists that touch both ends of a month. */
function dayPatterns(): { text: string; days: Set<number> }[] {
  const out: { text: string; days: Set<number> }[] = [];
  const set = (xs: number[]) => new Set(xs.filter((d) => d >= 1 && d <= 31));
  const steps = (a: number, n: number) => {
    const xs: number[] = [];
    for (let d = a; d <= 31; d += n) xs.push(d);
    return xs;
  };
  for (let d = 1; d <= 31; d++) out.push({ text: `${d}`, days: set([d]) });
  for (let n = 2; n <= 31; n++) {
    out.push({ text: `*/${n}`, days: set(steps(1, n)) });
  }
  for (let a = 1; a <= 31; a++) {
    for (const n of [2, 3, 5, 7, 10, 15]) {
      out.push({ text: `${a}/${n}`, days: set(steps(a, n)) });
    }
  }
  for (let a = 1; a <= 3; a++) {
    for (let b = 28; b <= 31; b++) {
      out.push({ text: `${a},${b}`, days: set([a, b]) });
      out.push({
        text: `${a}-${b}`,
        days: set(steps(a, 1).filter((d) => d <= b)),
      });
    }
  }
  out.push({ text: "1,15,30", days: set([1, 15, 30]) });
  out.push({ text: "29-31", days: set([29, 30, 31]) });
  return out;
}

Deno.test("every day-of-month pattern across every month boundary of a 28-year cycle, alone and with each weekday", () => {
  const start = Date.UTC(2000, 0, 1), end = Date.UTC(2028, 0, 1);
  const calendar: { t: number; dom: number; dow: number }[] = [];
  for (let t = start; t < end; t += DAY) {
    const d = new Date(t);
    calendar.push({ t, dom: d.getUTCDate(), dow: d.getUTCDay() });
  }
  let patterns = 0, fires = 0;
  for (const p of dayPatterns()) {
    // Both day fields restricted (OR): every weekday with the single days
    // and lists; one weekday with a step.
    const dows = p.text.includes("/")
      ? p.text.startsWith("*") ? ["*", String(p.days.size % 7)] : ["*"]
      : ["*", "0", "1", "2", "3", "4", "5", "6"];
    for (const dow of dows) {
      const text = `0 0 0 ${p.text} * ${dow}`;
      const want: number[] = [];
      for (const c of calendar) {
        const dom = p.days.has(c.dom);
        if (dow === "*" ? dom : dom || Number(dow) === c.dow) want.push(c.t);
      }
      const s = parseSchedule(text);
      const got: number[] = [];
      let after = start - 1;
      for (;;) {
        const next = nextRuns(s, new Date(after), 1)[0]?.getTime();
        if (next === undefined || next >= end) break;
        got.push(next);
        after = next;
      }
      if (got.length !== want.length || got.some((g, i) => g !== want[i])) {
        const i = got.findIndex((g, k) => g !== want[k]);
        throw new Error(
          `"${text}": ${got.length} fires, want ${want.length}; first difference at #${i}: got ${
            got[i] === undefined ? "none" : iso(got[i])
          }, want ${want[i] === undefined ? "none" : iso(want[i])}`,
        );
      }
      patterns++;
      fires += got.length;
    }
  }
  console.log(
    `[cron] ${patterns} day patterns walked over 2000-2027: ${fires} fires, all as the calendar says`,
  );
});
