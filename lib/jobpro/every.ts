/**
 * `@every <duration>`: robfig/cron v3's fixed-interval schedule. The duration
 * is written as Go's `time.ParseDuration` reads it (`5m`, `1h30m`, `1.5h`,
 * `90s`, `500ms`; units `h m s ms us µs ns`), and means what robfig makes of
 * it: whole seconds (a fraction of a second is dropped; less than a second
 * is one second), counted from when the job is started, each tick on a whole
 * second. Unlike robfig, a zero or negative duration is refused rather than
 * read as one second.
 *
 * @example
 * ```ts
 * import { parseEvery } from "./every.ts";
 * parseEvery("@every 1h30m").everyMs; // 5400000
 * ```
 * @module
 */
import { invalid } from "./errors.ts";
import { clip, isDigit } from "./text.ts";

/** A parsed `@every`: its interval, and what the text may not say. */
export interface EverySpec {
  everyMs: number;
  warnings: string[];
}

/** Nanoseconds per unit, as Go's time package spells them. */
const UNITS: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  "µs": 1e3, // U+00B5 micro sign
  "μs": 1e3, // U+03BC Greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go's largest Duration, in nanoseconds (about 292 years). */
const MAX_NS = 9_223_372_036_854_775_807;

function fail(message: string): never {
  throw invalid("schedule", `@every: ${message}`);
}

/** Whether the text is an `@every` schedule (any case of the keyword). */
export function isEvery(text: string): boolean {
  return /^@every(\s|$)/i.test(text);
}

/**
 * Parses `@every <duration>`. Throws `JobproError("invalid", ...,
 * "schedule")` saying which part of the duration is wrong.
 *
 * @example
 * ```ts
 * parseEvery("@every 5m"); // { everyMs: 300000, warnings: [] }
 * parseEvery("@every 500ms"); // { everyMs: 1000, warnings: ["... rounded up to 1 second ..."] }
 * ```
 */
export function parseEvery(text: string): EverySpec {
  const body = text.trim().slice("@every".length).trim();
  if (body === "") fail("expected a duration such as 5m, 1h30m or 90s");
  const ns = parseGoDuration(body);
  if (ns <= 0) {
    fail(`'${clip(body)}' is not a positive duration`);
  }
  if (ns < 1e9) {
    return {
      everyMs: 1000,
      warnings: [
        `@every ${body} is less than a second: it runs every second, as robfig/cron does`,
      ],
    };
  }
  const everyMs = Math.floor(ns / 1e9) * 1000;
  const warnings = ns % 1e9 === 0 ? [] : [
    `@every ${body}: the fraction of a second is dropped, as robfig/cron does, so it runs every ${
      everyMs / 1000
    } s`,
  ];
  return { everyMs, warnings };
}

/**
 * Nanoseconds in a Go duration string: an optional sign, then one or more
 * decimal numbers each with a unit (`1h30m`, `1.5h`, `-2m`), or `0`.
 *
 * @example
 * ```ts
 * parseGoDuration("1h30m"); // 5400000000000
 * ```
 */
export function parseGoDuration(s: string): number {
  let i = 0;
  let sign = 1;
  if (s[0] === "-" || s[0] === "+") {
    sign = s[0] === "-" ? -1 : 1;
    i = 1;
  }
  if (s.slice(i) === "0") return 0;
  if (i >= s.length) fail(`'${clip(s)}' has no number`);
  let total = 0;
  while (i < s.length) {
    const start = i;
    while (isDigit(s[i])) i++;
    const whole = s.slice(start, i);
    let frac = "";
    if (s[i] === ".") {
      i++;
      const f = i;
      while (isDigit(s[i])) i++;
      frac = s.slice(f, i);
    }
    if (whole === "" && frac === "") {
      fail(`expected a number at '${clip(s.slice(start))}' in '${clip(s)}'`);
    }
    const u = i;
    while (i < s.length && !isDigit(s[i]) && s[i] !== ".") i++;
    const unit = s.slice(u, i);
    if (unit === "") {
      fail(
        `missing unit after '${
          clip(s.slice(start, u))
        }' (use h, m, s, ms, us or ns)`,
      );
    }
    const scale = UNITS[unit];
    if (scale === undefined) {
      fail(
        `unknown unit '${clip(unit)}' in '${
          clip(s)
        }' (use h, m, s, ms, us or ns)`,
      );
    }
    total += Number(whole || "0") * scale +
      (frac ? Number(`0.${frac}`) * scale : 0);
    if (total > MAX_NS) fail(`'${clip(s)}' is too long a duration`);
  }
  return sign * Math.round(total);
}

/**
 * The interval in words: "5 minutes", "1 hour 30 minutes".
 *
 * @example
 * ```ts
 * describeEvery(5_400_000); // "Every 1 hour 30 minutes"
 * ```
 */
export function describeEvery(everyMs: number): string {
  let s = Math.round(everyMs / 1000);
  const parts: string[] = [];
  for (
    const [unit, size] of [["hour", 3600], ["minute", 60], [
      "second",
      1,
    ]] as const
  ) {
    const n = Math.floor(s / size);
    s -= n * size;
    if (n) parts.push(`${n} ${unit}${n === 1 ? "" : "s"}`);
  }
  return parts.length === 1 && parts[0].startsWith("1 ")
    ? `Every ${parts[0].slice(2)}`
    : `Every ${parts.join(" ")}`;
}
