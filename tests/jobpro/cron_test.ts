import {
  assert,
  assertEquals,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import {
  compileCron,
  isCronExpression,
  nextCronRun,
  parseCron,
} from "../../lib/jobpro/cron.ts";
import { JobproError } from "../../lib/jobpro/errors.ts";
import { instantToWall } from "../../lib/jobpro/zones.ts";

const NY = "America/New_York";
const BERLIN = "Europe/Berlin";

/** The next `n` fire times as ISO strings. */
function runs(expr: string, tz: string, from: string, n: number): string[] {
  const spec = parseCron(expr);
  const out: string[] = [];
  let t = Date.parse(from);
  for (let i = 0; i < n; i++) {
    const next = nextCronRun(spec, tz, t);
    if (next === null) break;
    out.push(new Date(next).toISOString());
    t = next;
  }
  return out;
}

function cronError(expr: string, text: string): void {
  const e = assertThrows(() => parseCron(expr), JobproError, text);
  assertEquals(e.code, "invalid");
  assertEquals(e.field, "schedule");
}

// --- shape: periodic or one-time ---------------------------------------------------

Deno.test("isCronExpression: cron shapes, including invalid ones, are cron", () => {
  for (
    const e of [
      "*/15 * * * * *",
      "0 30 2 * * *",
      "30 2 * * *",
      "0 0 * JAN MON-FRI",
      "@daily",
      "@every 5m",
      "61 * * * *",
      "* * * *",
      "1 2 3 4 5 6 7",
      "  */5 * * * *  ",
      "0 0 ? * MON",
      "0 12 1 * +MON",
    ]
  ) assert(isCronExpression(e), e);
});

Deno.test("isCronExpression: one-time and manual schedules are not cron", () => {
  for (
    const e of [
      "",
      "   ",
      "in 30s",
      "+1h",
      "5m",
      "in 2h30m",
      "1h30m",
      "in 1 h 30 m 5 s",
      "2024-01-15T14:30:00-08:00",
      "2024-01-15 14:30:00 PST",
      "2024-01-15 14:30:00 America/New_York",
      "01/15/2024 2:30 PM EST",
      "Jan 15, 2024 3:04 PM MST",
      "tomorrow",
      "1 2 3 4",
    ]
  ) assert(!isCronExpression(e), e);
  assert(!isCronExpression("* ".repeat(200)), "over the length bound");
});

// --- fields ------------------------------------------------------------------------

Deno.test("parseCron: 5 fields get second 0; 6 fields have seconds first", () => {
  assertEquals(parseCron("30 2 * * *").pattern, "0 30 2 * * *");
  assertEquals(parseCron("15 30 2 * * *").pattern, "15 30 2 * * *");
  assertEquals(runs("30 2 * * *", "UTC", "2024-01-01T00:00:00Z", 1), [
    "2024-01-01T02:30:00.000Z",
  ]);
  assertEquals(runs("15 30 2 * * *", "UTC", "2024-01-01T00:00:00Z", 1), [
    "2024-01-01T02:30:15.000Z",
  ]);
});

Deno.test("parseCron: *, lists, ranges, steps", () => {
  assertEquals(parseCron("*/15 * * * * *").pattern, "0,15,30,45 * * * * *");
  assertEquals(
    parseCron("1-30/5 * * * *").pattern,
    "0 1,6,11,16,21,26 * * * *",
  );
  assertEquals(parseCron("1,15,45 * * * *").pattern, "0 1,15,45 * * * *");
  assertEquals(parseCron("0 9-11 * * *").pattern, "0 0 9,10,11 * * *");
  assertEquals(
    parseCron("5/20 * * * *").pattern,
    "0 5,25,45 * * * *",
    "a/n runs from a to the end",
  );
  assertEquals(parseCron("*/1 * * * *").stars[1], true, "*/1 is unrestricted");
  assertEquals(parseCron("1-2,5,7-9/2 * * * *").pattern, "0 1,2,5,7,9 * * * *");
  assertEquals(runs("*/15 * * * * *", "UTC", "2024-01-01T00:00:00Z", 3), [
    "2024-01-01T00:00:15.000Z",
    "2024-01-01T00:00:30.000Z",
    "2024-01-01T00:00:45.000Z",
  ]);
});

Deno.test("parseCron: month and day names, 3 letters or full, any case; 7 is Sunday", () => {
  assertEquals(
    parseCron("0 0 1 JAN,mar Mon-FRI").pattern,
    "0 0 0 1 1,3 1,2,3,4,5",
  );
  assertEquals(
    parseCron("0 0 * January-March Sunday").pattern,
    "0 0 0 * 1,2,3 0",
  );
  assertEquals(parseCron("0 0 * * 7").pattern, "0 0 0 * * 0");
  assertEquals(parseCron("0 0 * * 5-7").pattern, "0 0 0 * * 0,5,6");
  assertEquals(parseCron("0 0 * * 0-7").pattern, "0 0 0 * * 0,1,2,3,4,5,6");
  assertEquals(parseCron("0 0 * * MON-FRI/2").pattern, "0 0 0 * * 1,3,5");
});

Deno.test("parseCron: each nickname", () => {
  const cases: Record<string, string> = {
    "@yearly": "0 0 0 1 1 *",
    "@annually": "0 0 0 1 1 *",
    "@monthly": "0 0 0 1 * *",
    "@weekly": "0 0 0 * * 0",
    "@daily": "0 0 0 * * *",
    "@midnight": "0 0 0 * * *",
    "@hourly": "0 0 * * * *",
    "@DAILY": "0 0 0 * * *",
  };
  for (const [nick, pattern] of Object.entries(cases)) {
    assertEquals(parseCron(nick).pattern, pattern, nick);
  }
  assertEquals(runs("@weekly", "UTC", "2024-01-01T00:00:00Z", 2), [
    "2024-01-07T00:00:00.000Z",
    "2024-01-14T00:00:00.000Z",
  ]);
  assertEquals(runs("@yearly", "UTC", "2024-01-01T00:00:00Z", 1), [
    "2025-01-01T00:00:00.000Z",
  ]);
});

Deno.test("parseCron: '?' means '*' in day-of-month and day-of-week", () => {
  const spec = parseCron("0 0 ? * MON");
  assertEquals(spec.pattern, "0 0 0 * * 1");
  assertEquals(spec.stars[3], true);
  // '?' must not make croner OR the days: only Mondays.
  assertEquals(runs("0 0 ? * MON", "UTC", "2024-01-01T00:00:00Z", 2), [
    "2024-01-08T00:00:00.000Z",
    "2024-01-15T00:00:00.000Z",
  ]);
  assertEquals(runs("0 0 1 * ?", "UTC", "2024-01-01T00:00:00Z", 2), [
    "2024-02-01T00:00:00.000Z",
    "2024-03-01T00:00:00.000Z",
  ]);
});

Deno.test("OR semantics: 0 0 13 * 5 fires on every 13th and every Friday", () => {
  assertEquals(runs("0 0 13 * 5", "UTC", "2024-01-01T00:00:00Z", 6), [
    "2024-01-05T00:00:00.000Z", // Friday
    "2024-01-12T00:00:00.000Z", // Friday
    "2024-01-13T00:00:00.000Z", // 13th, a Saturday
    "2024-01-19T00:00:00.000Z",
    "2024-01-26T00:00:00.000Z",
    "2024-02-02T00:00:00.000Z",
  ]);
  // September 13, 2024 is a Friday: fires once that day, not twice.
  assertEquals(runs("0 0 13 * 5", "UTC", "2024-09-12T00:00:00Z", 2), [
    "2024-09-13T00:00:00.000Z",
    "2024-09-20T00:00:00.000Z",
  ]);
  // A stepped day-of-month is restricted too (robfig/cron): */10 OR Monday.
  assertEquals(runs("0 0 */10 * 1", "UTC", "2024-01-01T00:00:00Z", 4), [
    "2024-01-08T00:00:00.000Z",
    "2024-01-11T00:00:00.000Z",
    "2024-01-15T00:00:00.000Z",
    "2024-01-21T00:00:00.000Z",
  ]);
});

Deno.test("AND when only one day field is restricted", () => {
  assertEquals(runs("0 0 * * 5", "UTC", "2024-01-01T00:00:00Z", 2), [
    "2024-01-05T00:00:00.000Z",
    "2024-01-12T00:00:00.000Z",
  ]);
  assertEquals(runs("0 0 13 * *", "UTC", "2024-01-01T00:00:00Z", 2), [
    "2024-01-13T00:00:00.000Z",
    "2024-02-13T00:00:00.000Z",
  ]);
});

Deno.test("interval: the hour field is * or */n", () => {
  assertEquals(parseCron("*/15 * * * * *").interval, true);
  assertEquals(parseCron("0 */2 * * *").interval, true);
  assertEquals(parseCron("@hourly").interval, true);
  assertEquals(parseCron("30 2 * * *").interval, false);
  assertEquals(parseCron("*/5 1 * * *").interval, false);
  assertEquals(parseCron("@daily").interval, false);
});

Deno.test("a pattern with no time left gives null; Feb 29 waits for a leap year", () => {
  assertEquals(runs("0 0 29 2 *", "UTC", "2024-03-01T00:00:00Z", 1), [
    "2028-02-29T00:00:00.000Z",
  ]);
  assertEquals(
    nextCronRun(parseCron("0 0 1 1 *"), "UTC", Date.UTC(9999, 6, 1)),
    null,
  );
});

Deno.test("compileCron caches by text", () => {
  assert(compileCron("0 0 * * *") === compileCron("0 0 * * *"));
});

// --- errors name the field and the part ---------------------------------------------

Deno.test("errors: field count", () => {
  cronError("1 2 3 4 5 6 7", "expected 5 or 6 fields, got 7");
  cronError("* * * *", "expected 5 or 6 fields, got 4");
  cronError("", "expected 5 or 6 fields, got 0");
});

Deno.test("errors: out of range, per field", () => {
  cronError("61 * * * *", "minute field: 61 is out of range 0-59");
  cronError("60 * * * * *", "second field: 60 is out of range 0-59");
  cronError("0 24 * * *", "hour field: 24 is out of range 0-23");
  cronError("0 0 0 * *", "day-of-month field: 0 is out of range 1-31");
  cronError("0 0 32 * *", "day-of-month field: 32 is out of range 1-31");
  cronError("0 0 * 13 *", "month field: 13 is out of range 1-12");
  cronError("0 0 * * 8", "day-of-week field: 8 is out of range 0-7");
  cronError("1-60 * * * *", "minute field: 60 is out of range 0-59");
  cronError("0 0 * 0-3 *", "month field: 0 is out of range 1-12");
});

Deno.test("errors: names", () => {
  cronError("0 0 * * FUNDAY", "day-of-week field: 'FUNDAY' is not a day name");
  cronError("0 0 * FOO *", "month field: 'FOO' is not a month name");
  cronError(
    "0 0 * * MON-FUNDAY",
    "day-of-week field: 'FUNDAY' is not a day name",
  );
  cronError("abc * * * *", "minute field: 'abc' is not a number");
  cronError("0 MON * * *", "hour field: 'MON' is not a number");
  cronError(
    "0 0 * * 1a",
    "day-of-week field: '1a' is not a number or a day name",
  );
});

Deno.test("errors: ranges, steps, lists", () => {
  cronError("5-1 * * * *", "minute field: range 5-1 is reversed");
  cronError("0 0 * * FRI-MON", "day-of-week field: range FRI-MON is reversed");
  cronError("*/0 * * * *", "minute field: step 0 in '*/0' must be at least 1");
  cronError("*/x * * * *", "minute field: step 'x' in '*/x' is not a number");
  cronError("1/2/3 * * * *", "minute field: '1/2/3' has more than one '/'");
  cronError("1-2-3 * * * *", "minute field: '1-2-3' is not a range");
  cronError("-5 * * * *", "minute field: range '-5' is missing its start");
  cronError("5- * * * *", "minute field: range '5-' is missing its end");
  cronError("1,,2 * * * *", "minute field: empty item in the list");
  cronError("1, * * * *", "minute field: empty item");
});

Deno.test("errors: unsupported characters", () => {
  cronError(
    "0 0 * * 5#2",
    "day-of-week field: unexpected character '#' in '5#2'",
  );
  cronError(
    "0 0 L * *",
    "day-of-month field: 'L' is not a number ('L' and 'W' are not supported)",
  );
  cronError("0 0 15W * *", "day-of-month field: '15W' is not a number");
  cronError(
    "0 12 1 * +MON",
    "day-of-week field: '+MON' is not a number or a day name",
  );
  cronError("0 0 * * 1.5", "day-of-week field: unexpected character '.'");
});

Deno.test("errors: nicknames", () => {
  cronError("@often", "'@often' is not a known nickname (use @yearly");
  cronError("@daily 5", "'@daily' takes no other fields");
});

Deno.test("errors: a day that never comes", () => {
  cronError(
    "0 0 30 2 *",
    "day-of-month field: 30 never occurs in Feb, so the schedule would never run",
  );
  cronError("0 0 31 4,6 *", "day-of-month field: 31 never occurs in Apr, Jun");
  // With a day of week as well, it fires on those days (OR): not an error.
  assertEquals(runs("0 0 30 2 MON", "UTC", "2024-01-01T00:00:00Z", 1), [
    "2024-02-05T00:00:00.000Z",
  ]);
});

Deno.test("errors: length bound", () => {
  cronError(`0 0 * * ${"1,".repeat(200)}1`, "is too long");
});

// --- DST: fixed-time jobs --------------------------------------------------------------

Deno.test("DST New York spring forward: 02:30 runs at 03:00 EDT once that day", () => {
  assertEquals(runs("30 2 * * *", NY, "2024-03-08T12:00:00Z", 4), [
    "2024-03-09T07:30:00.000Z", // 02:30 EST
    "2024-03-10T07:00:00.000Z", // 02:30 does not exist: 03:00 EDT
    "2024-03-11T06:30:00.000Z", // 02:30 EDT
    "2024-03-12T06:30:00.000Z",
  ]);
  // Two skipped times fire once, together, at the jump.
  assertEquals(runs("0,30 2 * * *", NY, "2024-03-10T00:00:00Z", 3), [
    "2024-03-10T07:00:00.000Z",
    "2024-03-11T06:00:00.000Z",
    "2024-03-11T06:30:00.000Z",
  ]);
  // A time at the jump and one in the gap: still once.
  assertEquals(runs("0 30 2,3 * * *", NY, "2024-03-10T05:00:00Z", 3), [
    "2024-03-10T07:00:00.000Z",
    "2024-03-10T07:30:00.000Z",
    "2024-03-11T06:30:00.000Z",
  ]);
});

Deno.test("DST New York fall back: 01:30 runs once, at 01:30 EDT", () => {
  assertEquals(runs("30 1 * * *", NY, "2024-11-02T12:00:00Z", 3), [
    "2024-11-03T05:30:00.000Z", // 01:30 EDT; 01:30 EST (06:30Z) is skipped
    "2024-11-04T06:30:00.000Z",
    "2024-11-05T06:30:00.000Z",
  ]);
  // Asked from inside the second pass of the repeated hour: the next day.
  assertEquals(runs("30 1 * * *", NY, "2024-11-03T06:10:00Z", 1), [
    "2024-11-04T06:30:00.000Z",
  ]);
  // A fixed-hour job with a minute step runs through the repeated hour once.
  const everyTen = runs("*/10 1 * * *", NY, "2024-11-03T04:59:00Z", 7);
  assertEquals(everyTen, [
    "2024-11-03T05:00:00.000Z",
    "2024-11-03T05:10:00.000Z",
    "2024-11-03T05:20:00.000Z",
    "2024-11-03T05:30:00.000Z",
    "2024-11-03T05:40:00.000Z",
    "2024-11-03T05:50:00.000Z",
    "2024-11-04T06:00:00.000Z",
  ]);
  assertEquals(runs("* * 1 * * *", NY, "2024-11-03T06:10:00Z", 1), [
    "2024-11-04T06:00:00.000Z",
  ]);
});

Deno.test("DST Berlin: 02:30 on the spring day runs at 03:00 CEST; in the autumn once at CEST", () => {
  assertEquals(runs("30 2 * * *", BERLIN, "2024-03-30T12:00:00Z", 3), [
    "2024-03-31T01:00:00.000Z", // 03:00 CEST
    "2024-04-01T00:30:00.000Z",
    "2024-04-02T00:30:00.000Z",
  ]);
  assertEquals(runs("30 2 * * *", BERLIN, "2024-10-26T12:00:00Z", 3), [
    "2024-10-27T00:30:00.000Z", // 02:30 CEST; 02:30 CET (01:30Z) is skipped
    "2024-10-28T01:30:00.000Z",
    "2024-10-29T01:30:00.000Z",
  ]);
});

// --- DST: interval jobs ---------------------------------------------------------------

Deno.test("DST New York spring forward: */15 stays 15 minutes apart", () => {
  assertEquals(runs("*/15 * * * *", NY, "2024-03-10T06:30:00Z", 5), [
    "2024-03-10T06:45:00.000Z", // 01:45 EST
    "2024-03-10T07:00:00.000Z", // 03:00 EDT
    "2024-03-10T07:15:00.000Z",
    "2024-03-10T07:30:00.000Z",
    "2024-03-10T07:45:00.000Z",
  ]);
  assertEquals(runs("0 * * * *", NY, "2024-03-10T05:30:00Z", 3), [
    "2024-03-10T06:00:00.000Z", // 01:00 EST
    "2024-03-10T07:00:00.000Z", // 03:00 EDT
    "2024-03-10T08:00:00.000Z",
  ]);
});

Deno.test("DST New York fall back: */15 runs through both passes of 01:xx", () => {
  assertEquals(runs("*/15 * * * *", NY, "2024-11-03T05:30:00Z", 11), [
    "2024-11-03T05:45:00.000Z", // 01:45 EDT
    "2024-11-03T06:00:00.000Z", // 01:00 EST
    "2024-11-03T06:15:00.000Z",
    "2024-11-03T06:30:00.000Z",
    "2024-11-03T06:45:00.000Z",
    "2024-11-03T07:00:00.000Z", // 02:00 EST
    "2024-11-03T07:15:00.000Z",
    "2024-11-03T07:30:00.000Z",
    "2024-11-03T07:45:00.000Z",
    "2024-11-03T08:00:00.000Z",
    "2024-11-03T08:15:00.000Z",
  ]);
  assertEquals(runs("0 * * * *", NY, "2024-11-03T04:30:00Z", 3), [
    "2024-11-03T05:00:00.000Z", // 01:00 EDT
    "2024-11-03T06:00:00.000Z", // 01:00 EST
    "2024-11-03T07:00:00.000Z", // 02:00 EST
  ]);
});

Deno.test("DST Berlin: */30 keeps its interval at both changes", () => {
  assertEquals(runs("0 */30 * * * *", BERLIN, "2024-03-31T00:00:00Z", 4), [
    "2024-03-31T00:30:00.000Z", // 01:30 CET
    "2024-03-31T01:00:00.000Z", // 03:00 CEST
    "2024-03-31T01:30:00.000Z",
    "2024-03-31T02:00:00.000Z",
  ]);
  assertEquals(runs("0 */30 * * * *", BERLIN, "2024-10-27T00:00:00Z", 6), [
    "2024-10-27T00:30:00.000Z", // 02:30 CEST
    "2024-10-27T01:00:00.000Z", // 02:00 CET
    "2024-10-27T01:30:00.000Z", // 02:30 CET
    "2024-10-27T02:00:00.000Z", // 03:00 CET
    "2024-10-27T02:30:00.000Z",
    "2024-10-27T03:00:00.000Z",
  ]);
});

Deno.test("DST: an hour step follows the wall clock, so 02:00 is not run on the spring day", () => {
  // Only minute-level intervals keep their real-time spacing: with hours */2,
  // 02:00 does not exist on 2024-03-10 and 01:00 EST/EDT is not a match.
  assertEquals(runs("0 */2 * * *", NY, "2024-03-10T04:00:00Z", 2), [
    "2024-03-10T05:00:00.000Z", // 00:00 EST
    "2024-03-10T08:00:00.000Z", // 04:00 EDT
  ]);
  assertEquals(runs("0 */2 * * *", NY, "2024-11-03T03:00:00Z", 2), [
    "2024-11-03T04:00:00.000Z", // 00:00 EDT
    "2024-11-03T07:00:00.000Z", // 02:00 EST
  ]);
});

Deno.test("DST: every second across the New York changes", () => {
  assertEquals(runs("* * * * * *", NY, "2024-03-10T06:59:58Z", 3), [
    "2024-03-10T06:59:59.000Z",
    "2024-03-10T07:00:00.000Z",
    "2024-03-10T07:00:01.000Z",
  ]);
  assertEquals(runs("* * * * * *", NY, "2024-11-03T05:59:58Z", 3), [
    "2024-11-03T05:59:59.000Z",
    "2024-11-03T06:00:00.000Z",
    "2024-11-03T06:00:01.000Z",
  ]);
});

Deno.test("zones without DST and far-off days", () => {
  assertEquals(
    runs("0 9 * * MON-FRI", "Asia/Tokyo", "2024-01-05T00:00:00Z", 2),
    [
      "2024-01-08T00:00:00.000Z",
      "2024-01-09T00:00:00.000Z",
    ],
  );
  assertEquals(runs("0 9 * * *", "Asia/Kolkata", "2024-01-01T00:00:00Z", 1), [
    "2024-01-01T03:30:00.000Z",
  ]);
  // Hourly on Feb 29 in New York: the next leap day, in EST.
  assertEquals(runs("0 * 29 2 *", NY, "2025-01-01T00:00:00Z", 2), [
    "2028-02-29T05:00:00.000Z",
    "2028-02-29T06:00:00.000Z",
  ]);
  // Hourly on one November day from January: offsets change twice in between.
  assertEquals(runs("0 * 3 11 *", NY, "2024-01-01T00:00:00Z", 3), [
    "2024-11-03T04:00:00.000Z", // 00:00 EDT
    "2024-11-03T05:00:00.000Z", // 01:00 EDT
    "2024-11-03T06:00:00.000Z", // 01:00 EST
  ]);
});

// --- property: agrees with a brute-force walk over every minute --------------------------

/** A tiny seeded PRNG, so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Does a fake-UTC wall time match the spec's minute, hour, dom, month, dow? */
function matches(pattern: string, wall: number): boolean {
  const d = new Date(wall);
  const [, min, hour, dom, month, dow] = pattern.split(" ");
  const has = (field: string, v: number) =>
    field === "*" || field.split(",").map(Number).includes(v);
  const domOk = has(dom, d.getUTCDate());
  const dowOk = has(dow, d.getUTCDay());
  const dayOk = dom !== "*" && dow !== "*" ? domOk || dowOk : domOk && dowOk;
  return d.getUTCSeconds() === 0 && has(min, d.getUTCMinutes()) &&
    has(hour, d.getUTCHours()) &&
    has(month, d.getUTCMonth() + 1) && dayOk;
}

/**
 * The rules, checked minute by minute without any of the code under test:
 * interval jobs fire whenever the wall time matches; fixed-time jobs fire at
 * the first occurrence of a matching wall time, or at the jump when clocks
 * skip over one.
 */
function bruteNext(expr: string, tz: string, after: number): number | null {
  const spec = parseCron(expr);
  let t = Math.floor(after / 60_000) * 60_000 + 60_000;
  for (let i = 0; i < 8 * 1440; i++, t += 60_000) {
    const wall = instantToWall(t, tz);
    const prevWall = instantToWall(t - 60_000, tz);
    if (spec.interval) {
      if (matches(spec.pattern, wall)) return t;
      continue;
    }
    for (let w = prevWall + 60_000; w < wall; w += 60_000) {
      if (matches(spec.pattern, w)) return t; // skipped by a jump forward
    }
    if (!matches(spec.pattern, wall)) continue;
    let seen = false;
    for (let k = 1; k <= 180 && !seen; k++) {
      seen = instantToWall(t - k * 60_000, tz) === wall;
    }
    if (!seen) return t;
  }
  return null;
}

Deno.test("property: next runs agree with a minute-by-minute walk around DST changes", () => {
  const random = rng(42);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)];
  const changes: [string, number][] = [
    [NY, Date.UTC(2024, 2, 10, 7)],
    [NY, Date.UTC(2024, 10, 3, 6)],
    [BERLIN, Date.UTC(2024, 2, 31, 1)],
    [BERLIN, Date.UTC(2024, 9, 27, 1)],
    ["Australia/Lord_Howe", Date.UTC(2024, 3, 6, 15)], // 30-minute change
    ["Australia/Lord_Howe", Date.UTC(2024, 9, 5, 15, 30)],
    ["Australia/Sydney", Date.UTC(2024, 3, 6, 16)],
    ["Australia/Sydney", Date.UTC(2024, 9, 5, 16)],
    ["America/Santiago", Date.UTC(2024, 8, 8, 4)], // at midnight: 00:00 is skipped
    ["America/Santiago", Date.UTC(2024, 3, 7, 3)], // back to 23:00 the day before
  ];
  const minutes = ["*/15", "0", "30", "0,30", "*/7", "45", "10-20/5", "*"];
  const hours = ["*", "*/2", "1", "2", "3", "1-3", "0,2", "2,3", "23", "0"];
  for (let i = 0; i < 80; i++) {
    const [tz, change] = pick(changes);
    const expr = `${pick(minutes)} ${pick(hours)} * * ${
      pick(["*", "*", "0", "6,0"])
    }`;
    const start = change - 6 * 3_600_000 +
      Math.floor(random() * 12 * 60) * 60_000;
    let t = start;
    for (let k = 0; k < 3; k++) {
      const got = nextCronRun(parseCron(expr), tz, t);
      const want = bruteNext(expr, tz, t);
      assertEquals(
        got === null ? null : new Date(got).toISOString(),
        want === null ? null : new Date(want).toISOString(),
        `${expr} in ${tz} after ${new Date(t).toISOString()}`,
      );
      if (got === null) break;
      t = got;
    }
  }
});

Deno.test("error messages quote user text only in bounded length", () => {
  const e = assertThrows(
    () => parseCron(`${"x".repeat(200)} * * * *`),
    JobproError,
  );
  assertStringIncludes(e.message, "...");
  assert(e.message.length < 120, e.message);
});

// --- issue 10: found by an outside test against croniter and robfig/cron ------------

Deno.test("day-of-month matches on March 1-3 after February are never skipped", () => {
  const from = "2023-02-21T00:00:00Z";
  assertEquals(runs("0 0 */10 * *", "UTC", from, 2), [
    "2023-03-01T00:00:00.000Z",
    "2023-03-11T00:00:00.000Z",
  ]);
  assertEquals(runs("0 0 1,15,30 * *", "UTC", from, 2), [
    "2023-03-01T00:00:00.000Z",
    "2023-03-15T00:00:00.000Z",
  ]);
  assertEquals(runs("0 0 1,31 * *", "UTC", from, 2), [
    "2023-03-01T00:00:00.000Z",
    "2023-03-31T00:00:00.000Z",
  ]);
  assertEquals(runs("0 0 */15 * *", "UTC", "2024-02-20T00:00:00Z", 2), [
    "2024-03-01T00:00:00.000Z", // a leap year too
    "2024-03-16T00:00:00.000Z",
  ]);
  assertEquals(runs("0 0 0 1,31 * *", "UTC", from, 1), [
    "2023-03-01T00:00:00.000Z",
  ]);
  // Both day fields restricted: either day fires.
  assertEquals(runs("0 0 1 * FRI", "UTC", "2034-02-25T00:00:00Z", 2), [
    "2034-03-01T00:00:00.000Z",
    "2034-03-03T00:00:00.000Z",
  ]);
  assertEquals(runs("0 0 1 * THU", "UTC", "2023-02-24T00:00:00Z", 2), [
    "2023-03-01T00:00:00.000Z",
    "2023-03-02T00:00:00.000Z",
  ]);
  // And in a zone, where the wall clock is searched the same way.
  assertEquals(runs("0 0 1,31 * *", BERLIN, from, 1), [
    "2023-02-28T23:00:00.000Z",
  ]);
});

Deno.test("a '*' or '?' item in a list leaves the field unrestricted, so the other day field decides alone", () => {
  const mondays = [
    "2024-01-08T00:00:00.000Z",
    "2024-01-15T00:00:00.000Z",
  ];
  assertEquals(
    runs("0 0 *,5 * MON", "UTC", "2024-01-01T00:00:00Z", 2),
    mondays,
  );
  assertEquals(
    runs("0 0 ?,5 * MON", "UTC", "2024-01-01T00:00:00Z", 2),
    mondays,
  );
  assertEquals(parseCron("0 0 *,5 * MON").stars[3], true);
  assertEquals(runs("0 0 13 * *,MON", "UTC", "2024-01-01T00:00:00Z", 2), [
    "2024-01-13T00:00:00.000Z",
    "2024-02-13T00:00:00.000Z",
  ]);
  // A stepped '*' is restricted (robfig clears its star bit): OR applies.
  assertEquals(parseCron("0 0 */2 * MON").stars[3], false);
});

Deno.test("robfig syntax: '?' in any field, with or without a step; steps beyond a field's range; Atoi's '+'", () => {
  assertEquals(parseCron("? ? ? ? ?").pattern, "0 * * * * *");
  assertEquals(parseCron("?/20 * * * *").pattern, "0 0,20,40 * * * *");
  assertEquals(parseCron("0 0 ?/10 * *").pattern, "0 0 0 1,11,21,31 * *");
  const month = parseCron("0 0 1 */15 *");
  assertEquals(month.pattern, "0 0 0 1 1 *", "*/15 in months is January only");
  assertStringIncludes(
    month.warnings.join(),
    "month field: step 15 in '*/15' is larger than the range 1-12, so it means only 1",
  );
  const sec = parseCron("*/90 * * * * *");
  assertEquals(sec.pattern, "0 * * * * *", "*/90 in seconds is second 0");
  assertStringIncludes(sec.warnings.join(), "second field: step 90");
  assertEquals(runs("*/90 * * * * *", "UTC", "2024-01-01T00:00:00Z", 2), [
    "2024-01-01T00:01:00.000Z",
    "2024-01-01T00:02:00.000Z",
  ]);
  assertEquals(parseCron("5/15 * * * *").warnings, []);
  assertEquals(parseCron("+5 +1-+3 * * *").pattern, "0 5 1,2,3 * * *");
});
