import { assertEquals, assertThrows } from "@std/assert";
import {
  describeEvery,
  parseEvery,
  parseGoDuration,
} from "@/lib/jobpro/every.ts";
import { JobproError } from "@/lib/jobpro/errors.ts";

Deno.test("parseGoDuration reads Go's time.ParseDuration syntax", () => {
  const cases: [string, number][] = [
    ["5m", 300e9],
    ["1h30m", 5400e9],
    ["1.5h", 5400e9],
    [".5h", 1800e9],
    ["1h30m10s", 5410e9],
    ["90s", 90e9],
    ["500ms", 500e6],
    ["250us", 250e3],
    ["250µs", 250e3],
    ["250μs", 250e3],
    ["7ns", 7],
    ["0", 0],
    ["+2m", 120e9],
    ["-2m", -120e9],
    ["1h1h", 7200e9],
  ];
  for (const [text, ns] of cases) assertEquals(parseGoDuration(text), ns, text);
});

Deno.test("parseGoDuration names what is wrong", () => {
  const bad: [string, string][] = [
    ["5", "missing unit after '5'"],
    ["5x", "unknown unit 'x'"],
    ["5d", "unknown unit 'd'"],
    ["h", "expected a number at 'h'"],
    ["1h 30m", "unknown unit 'h '"],
    ["-", "has no number"],
    ["99999999999h", "too long a duration"],
  ];
  for (const [text, message] of bad) {
    assertThrows(() => parseGoDuration(text), JobproError, message);
  }
});

Deno.test("@every means what robfig makes of it: whole seconds, at least one", () => {
  assertEquals(parseEvery("@every 5m"), { everyMs: 300_000, warnings: [] });
  assertEquals(parseEvery("@every 1h30m").everyMs, 5_400_000);
  assertEquals(parseEvery("@EVERY 10s").everyMs, 10_000);
  const short = parseEvery("@every 500ms");
  assertEquals(short.everyMs, 1000);
  assertEquals(short.warnings.length, 1);
  const frac = parseEvery("@every 1.5s");
  assertEquals(frac.everyMs, 1000);
  assertEquals(frac.warnings.length, 1);
  assertThrows(() => parseEvery("@every"), JobproError, "expected a duration");
  assertThrows(
    () => parseEvery("@every 0s"),
    JobproError,
    "not a positive duration",
  );
  assertThrows(
    () => parseEvery("@every -5m"),
    JobproError,
    "not a positive duration",
  );
  assertThrows(
    () => parseEvery("@every 5 minutes"),
    JobproError,
    "schedule: @every:",
  );
});

Deno.test("describeEvery says the interval in words", () => {
  assertEquals(describeEvery(300_000), "Every 5 minutes");
  assertEquals(describeEvery(5_400_000), "Every 1 hour 30 minutes");
  assertEquals(describeEvery(3_600_000), "Every hour");
  assertEquals(describeEvery(1000), "Every second");
  assertEquals(describeEvery(90_061_000), "Every 25 hours 1 minute 1 second");
});
