import { assertEquals, assertThrows } from "@std/assert";
import { JobproError } from "../../lib/jobpro/errors.ts";
import { parseOnce } from "../../lib/jobpro/onetime.ts";
import { ZONE_ABBREVIATIONS } from "../../lib/jobpro/zones.ts";

const NOW = Date.UTC(2024, 0, 10, 12, 0, 0);

function at(text: string, timezone = "UTC", now = NOW): string {
  return new Date(parseOnce(text, { now, timezone })).toISOString();
}

function onceError(text: string, part: string, timezone = "UTC"): void {
  const e = assertThrows(
    () => parseOnce(text, { now: NOW, timezone }),
    JobproError,
    part,
  );
  assertEquals(e.code, "invalid");
  assertEquals(e.field, "schedule");
}

// --- the seed's cases (FEATURES.md), exact instants --------------------------------------

Deno.test("seed: relative times count from now", () => {
  assertEquals(at("in 30s"), "2024-01-10T12:00:30.000Z");
  assertEquals(at("+1h"), "2024-01-10T13:00:00.000Z");
  assertEquals(at("5m"), "2024-01-10T12:05:00.000Z");
  assertEquals(at("in 2h30m"), "2024-01-10T14:30:00.000Z");
});

Deno.test("seed: absolute times", () => {
  assertEquals(at("2024-01-15T14:30:00-08:00"), "2024-01-15T22:30:00.000Z");
  assertEquals(at("2024-01-15 14:30:00 PST"), "2024-01-15T22:30:00.000Z");
  assertEquals(
    at("2024-01-15 14:30:00 America/New_York"),
    "2024-01-15T19:30:00.000Z",
  );
  assertEquals(at("01/15/2024 2:30 PM EST"), "2024-01-15T19:30:00.000Z");
  assertEquals(at("Jan 15, 2024 3:04 PM MST"), "2024-01-15T22:04:00.000Z");
});

Deno.test("seed: the same with numeric offsets", () => {
  assertEquals(at("2024-01-15 14:30:00 -0800"), "2024-01-15T22:30:00.000Z");
  assertEquals(at("01/15/2024 2:30 PM -0500"), "2024-01-15T19:30:00.000Z");
  assertEquals(at("Jan 15, 2024 3:04 PM -0700"), "2024-01-15T22:04:00.000Z");
  assertEquals(at("2024-01-15 14:30:00 -08:00"), "2024-01-15T22:30:00.000Z");
  assertEquals(at("01/15/2024 2:30 PM -05:00"), "2024-01-15T19:30:00.000Z");
  assertEquals(at("Jan 15, 2024 3:04 PM -07:00"), "2024-01-15T22:04:00.000Z");
});

// --- relative ------------------------------------------------------------------------

Deno.test("relative: units, combinations, spaces, case", () => {
  assertEquals(at("1h30m"), "2024-01-10T13:30:00.000Z");
  assertEquals(at("in 1h 30m 15s"), "2024-01-10T13:30:15.000Z");
  assertEquals(at("in 2 hours"), "2024-01-10T14:00:00.000Z");
  assertEquals(at("+ 90 seconds"), "2024-01-10T12:01:30.000Z");
  assertEquals(at("in 1d"), "2024-01-11T12:00:00.000Z");
  assertEquals(at("in 2 days"), "2024-01-12T12:00:00.000Z");
  assertEquals(at("1w"), "2024-01-17T12:00:00.000Z");
  assertEquals(at("10 min"), "2024-01-10T12:10:00.000Z");
  assertEquals(at("3hrs"), "2024-01-10T15:00:00.000Z");
  assertEquals(at("IN 30S"), "2024-01-10T12:00:30.000Z");
  assertEquals(at("in30s"), "2024-01-10T12:00:30.000Z");
  assertEquals(at("in 0s"), "2024-01-10T12:00:00.000Z");
  assertEquals(at("now"), "2024-01-10T12:00:00.000Z");
  assertEquals(at("  in 30s  "), "2024-01-10T12:00:30.000Z");
});

Deno.test("relative: the job's zone does not matter", () => {
  assertEquals(at("in 30s", "America/New_York"), "2024-01-10T12:00:30.000Z");
});

Deno.test("relative: errors name the part", () => {
  onceError("in 5x", "relative time: unknown unit 'x' (use s, m, h, d or w)");
  onceError("in 30", "relative time: missing unit after 30");
  onceError("in 1h30", "relative time: missing unit after 30");
  onceError("in", "is not a cron expression, a relative time or a date-time");
  onceError("in ", "is not a cron expression, a relative time or a date-time");
  onceError("+", "relative time: expected an amount");
  onceError("in h", "relative time: expected a number at 'h'");
  onceError("in 1.5h", "relative time: use whole numbers");
  onceError("1.5h", "relative time: use whole numbers");
  onceError("in 5 years", "relative time: unknown unit 'years'");
  onceError(
    "in 99999999d",
    "relative time: '99999999d' is too far ahead (at most 3650 days)",
  );
  onceError("in 9999999999s", "relative time: 9999999999 is too large");
  onceError("+1h-", "relative time: expected a number at '-'");
});

// --- absolute: forms -------------------------------------------------------------------

Deno.test("RFC 3339: Z, offsets, fractions, lower case, space separator", () => {
  assertEquals(at("2024-01-15T14:30:00Z"), "2024-01-15T14:30:00.000Z");
  assertEquals(at("2024-01-15t14:30:00z"), "2024-01-15T14:30:00.000Z");
  assertEquals(at("2024-01-15T14:30:00.5Z"), "2024-01-15T14:30:00.500Z");
  assertEquals(
    at("2024-01-15T14:30:00.123456789Z"),
    "2024-01-15T14:30:00.123Z",
  );
  assertEquals(at("2024-01-15T14:30:00.25+05:30"), "2024-01-15T09:00:00.250Z");
  assertEquals(at("2024-01-15T14:30:00+0530"), "2024-01-15T09:00:00.000Z");
  assertEquals(at("2024-01-15T14:30:00-08"), "2024-01-15T22:30:00.000Z");
  assertEquals(at("2024-01-15T14:30:00+00:00"), "2024-01-15T14:30:00.000Z");
  assertEquals(at("2024-01-15 14:30:00Z"), "2024-01-15T14:30:00.000Z");
  assertEquals(at("2024-01-15T14:30"), "2024-01-15T14:30:00.000Z");
  assertEquals(at("2024-1-5T4:30"), "2024-01-05T04:30:00.000Z");
});

Deno.test("zone word after the time: abbreviation, IANA name, Z, UTC±h", () => {
  assertEquals(at("2024-01-15T14:30:00 PST"), "2024-01-15T22:30:00.000Z");
  assertEquals(at("2024-01-15 14:30:00 pst"), "2024-01-15T22:30:00.000Z");
  assertEquals(at("2024-01-15 14:30:00 Z"), "2024-01-15T14:30:00.000Z");
  assertEquals(at("2024-01-15 14:30:00 UTC"), "2024-01-15T14:30:00.000Z");
  assertEquals(at("2024-01-15 14:30:00 GMT"), "2024-01-15T14:30:00.000Z");
  assertEquals(at("2024-01-15 14:30:00 UTC+2"), "2024-01-15T12:30:00.000Z");
  assertEquals(at("2024-01-15 14:30:00 UTC+5:30"), "2024-01-15T09:00:00.000Z");
  assertEquals(at("2024-01-15 14:30:00 GMT-08:00"), "2024-01-15T22:30:00.000Z");
  assertEquals(
    at("2024-01-15 14:30:00 Europe/Berlin"),
    "2024-01-15T13:30:00.000Z",
  );
  assertEquals(
    at("2024-01-15 14:30:00 america/new_york"),
    "2024-01-15T19:30:00.000Z",
  );
  assertEquals(at("2024-01-15 14:30:00 Etc/UTC"), "2024-01-15T14:30:00.000Z");
  // Go's time.String layout: an offset followed by its abbreviation.
  assertEquals(at("2024-01-15 14:30:00 -0800 PST"), "2024-01-15T22:30:00.000Z");
  assertEquals(
    at("2024-01-15 14:30:00.5 +0000 UTC"),
    "2024-01-15T14:30:00.500Z",
  );
});

Deno.test("US form: 12- and 24-hour clock, seconds, AM/PM spellings", () => {
  assertEquals(at("01/15/2024 2:30 PM"), "2024-01-15T14:30:00.000Z");
  assertEquals(at("1/15/2024 2:30 pm"), "2024-01-15T14:30:00.000Z");
  assertEquals(at("01/15/2024 2:30PM EST"), "2024-01-15T19:30:00.000Z");
  assertEquals(at("01/15/2024 14:30:05"), "2024-01-15T14:30:05.000Z");
  assertEquals(at("01/15/2024 12:00 AM"), "2024-01-15T00:00:00.000Z");
  assertEquals(at("01/15/2024 12:00 PM"), "2024-01-15T12:00:00.000Z");
  assertEquals(at("01/15/2024 12:30 AM PST"), "2024-01-15T08:30:00.000Z");
});

Deno.test("month-name form: short and full names, optional comma", () => {
  assertEquals(at("Jan 15, 2024 3:04 PM"), "2024-01-15T15:04:00.000Z");
  assertEquals(at("January 15 2024 15:04"), "2024-01-15T15:04:00.000Z");
  assertEquals(at("jan 15, 2024 3:04:05 pm mst"), "2024-01-15T22:04:05.000Z");
  assertEquals(at("Sept 1, 2024 9:00 AM CEST"), "2024-09-01T07:00:00.000Z");
  assertEquals(at("Dec. 31, 2024, 11:59 PM JST"), "2024-12-31T14:59:00.000Z");
});

Deno.test("every abbreviation in the table resolves to its offset", () => {
  for (const z of ZONE_ABBREVIATIONS) {
    const sign = z.offset[0] === "-" ? -1 : 1;
    const minutes = sign *
      (Number(z.offset.slice(1, 3)) * 60 + Number(z.offset.slice(4)));
    const want = new Date(Date.UTC(2024, 6, 15, 12) - minutes * 60_000)
      .toISOString();
    assertEquals(at(`2024-07-15 12:00:00 ${z.abbr}`), want, z.abbr);
  }
});

Deno.test("abbreviations are fixed offsets all year; IANA names follow DST", () => {
  assertEquals(at("2024-07-15 12:00 PST"), "2024-07-15T20:00:00.000Z");
  assertEquals(
    at("2024-07-15 12:00 America/Los_Angeles"),
    "2024-07-15T19:00:00.000Z",
  );
  assertEquals(
    at("2024-01-15 12:00 America/Los_Angeles"),
    "2024-01-15T20:00:00.000Z",
  );
  assertEquals(at("2024-07-15 12:00 IST"), "2024-07-15T06:30:00.000Z");
});

// --- zones: the job's zone, DST gaps and overlaps ------------------------------------------

Deno.test("a time without a zone is read in the job's zone, else UTC", () => {
  assertEquals(at("2024-01-15 14:30:00"), "2024-01-15T14:30:00.000Z");
  assertEquals(
    at("2024-01-15 14:30:00", "America/New_York"),
    "2024-01-15T19:30:00.000Z",
  );
  assertEquals(
    at("01/15/2024 2:30 PM", "Europe/Berlin"),
    "2024-01-15T13:30:00.000Z",
  );
  assertEquals(
    at("Jul 15, 2024 2:30 PM", "Europe/Berlin"),
    "2024-07-15T12:30:00.000Z",
  );
  // An explicit zone wins over the job's.
  assertEquals(
    at("2024-01-15 14:30:00 PST", "Europe/Berlin"),
    "2024-01-15T22:30:00.000Z",
  );
  assertEquals(
    at("2024-01-15T14:30:00Z", "Europe/Berlin"),
    "2024-01-15T14:30:00.000Z",
  );
});

Deno.test("IANA zone: a wall time in the spring gap takes the first valid instant after", () => {
  assertEquals(
    at("2024-03-10 02:30:00 America/New_York"),
    "2024-03-10T07:00:00.000Z",
  );
  assertEquals(
    at("2024-03-10 02:30:00", "America/New_York"),
    "2024-03-10T07:00:00.000Z",
  );
  assertEquals(
    at("2024-03-31 02:30:00 Europe/Berlin"),
    "2024-03-31T01:00:00.000Z",
  );
});

Deno.test("IANA zone: a repeated wall time takes the earlier instant", () => {
  assertEquals(
    at("2024-11-03 01:30:00 America/New_York"),
    "2024-11-03T05:30:00.000Z",
  );
  assertEquals(
    at("2024-10-27 02:30:00 Europe/Berlin"),
    "2024-10-27T00:30:00.000Z",
  );
  // A numeric offset picks the pass explicitly.
  assertEquals(at("2024-11-03 01:30:00 -0500"), "2024-11-03T06:30:00.000Z");
});

Deno.test("past times are allowed (the manager runs them at once)", () => {
  assertEquals(at("2020-01-01T00:00:00Z"), "2020-01-01T00:00:00.000Z");
});

// --- errors name the part -------------------------------------------------------------------

Deno.test("errors: invalid dates say which part is wrong", () => {
  onceError(
    "2024-02-30 10:00",
    "day 30 is out of range for February 2024 (1-29)",
  );
  onceError(
    "2023-02-29T10:00:00Z",
    "day 29 is out of range for February 2023 (1-28)",
  );
  onceError("2024-04-31 10:00", "day 31 is out of range for April 2024 (1-30)");
  onceError("2024-02-30", "day 30 is out of range for February 2024");
  onceError("13/45/2024", "month 13 is out of range 1-12");
  onceError("13/45/2024 2:30 PM", "month 13 is out of range 1-12");
  onceError(
    "01/45/2024 2:30 PM",
    "day 45 is out of range for January 2024 (1-31)",
  );
  onceError("2024-00-10 10:00", "month 0 is out of range 1-12");
  onceError("2024-01-00 10:00", "day 0 is out of range for January 2024");
  onceError("1969-12-31 10:00", "year 1969 is out of range 1970-9999");
  onceError(
    "Foo 15, 2024 3:04 PM",
    "'Foo 15, 2024 3:04 PM' is not a cron expression",
  );
});

Deno.test("errors: invalid times say which part is wrong", () => {
  onceError("2024-01-15 25:00", "hour 25 is out of range 0-23");
  onceError("2024-01-15 24:00", "hour 24 is out of range 0-23");
  onceError("2024-01-15 10:60", "minute 60 is out of range 0-59");
  onceError("2024-01-15 10:30:60", "second 60 is out of range 0-59");
  onceError(
    "01/15/2024 13:30 PM",
    "hour 13 is out of range 1-12 for a time with PM",
  );
  onceError(
    "01/15/2024 0:30 AM",
    "hour 0 is out of range 1-12 for a time with AM",
  );
  onceError("2024-01-15 10", "expected ':' after the hour");
  onceError("2024-01-15 10:5", "expected the minute (2 digits)");
  onceError(
    "2024-01-15T10:30:00.Z",
    "expected 1 to 9 digits of fractional seconds",
  );
  onceError(
    "2024-01-15",
    "expected a time such as 14:30 or 2:30 PM after the date",
  );
  onceError(
    "01/15/2024",
    "expected a time such as 14:30 or 2:30 PM after the date",
  );
  onceError("2024-01-15X10:30", "expected a space before the time");
  onceError("01/15/24 10:30", "expected the year (4 digits)");
});

Deno.test("errors: zones that are not known are named, never UTC", () => {
  onceError("2024-01-15 14:30:00 XYZ", "unknown time zone abbreviation 'XYZ'");
  onceError(
    "2024-01-15 14:30:00 BRST",
    "unknown time zone abbreviation 'BRST'",
  );
  onceError(
    "2024-01-15 14:30:00 Japan",
    "unknown time zone abbreviation 'Japan'",
  );
  onceError(
    "2024-01-15 14:30:00 America/Nowhere",
    "unknown time zone 'America/Nowhere'",
  );
  onceError(
    "2024-01-15 14:30:00 -2500",
    "offset -2500 is out of range -14:00 to +14:00",
  );
  onceError(
    "2024-01-15 14:30:00 +05:75",
    "offset +05:75: minutes 75 are out of range 00-59",
  );
  onceError(
    "2024-01-15 14:30:00 -8",
    "offset '-8' must be written ±HH:MM or ±HHMM",
  );
  onceError(
    "2024-01-15 14:30:00 -0800 PDT",
    "offset -08:00 does not match PDT (-07:00)",
  );
  onceError(
    "2024-01-15 14:30:00 -0800 foo",
    "unexpected 'foo' after the offset",
  );
  onceError(
    "2024-01-15 14:30:00 PST extra",
    "unexpected 'extra' after the time zone",
  );
  onceError("2024-01-15 14:30:00Zulu", "unexpected 'ulu' after the time zone");
  onceError(
    "2024-01-15 14:30:00 UTC+2x",
    "unexpected 'x' in the zone 'UTC+2x'",
  );
});

Deno.test("errors: text that is no kind of schedule", () => {
  for (const text of ["tomorrow", "2024", "10:30", "-5m", "next friday", "@"]) {
    onceError(text, "is not a cron expression, a relative time or a date-time");
  }
});
