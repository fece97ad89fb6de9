import { assert, assertEquals, assertThrows } from "@std/assert";
import { JobproError } from "../../lib/jobpro/errors.ts";
import {
  abbreviationOffset,
  instantToWall,
  isTimezone,
  offsetAt,
  offsetChangeBetween,
  validateTimezone,
  wallToInstant,
  ZONE_ABBREVIATIONS,
} from "../../lib/jobpro/zones.ts";

const NY = "America/New_York";
const BERLIN = "Europe/Berlin";
const H = 3_600_000;

Deno.test("zone table: the required abbreviations with their real offsets", () => {
  const want: Record<string, number> = {
    PST: -8 * 60,
    PDT: -7 * 60,
    MST: -7 * 60,
    MDT: -6 * 60,
    CST: -6 * 60,
    CDT: -5 * 60,
    EST: -5 * 60,
    EDT: -4 * 60,
    AKST: -9 * 60,
    AKDT: -8 * 60,
    HST: -10 * 60,
    UTC: 0,
    GMT: 0,
    Z: 0,
    WET: 0,
    WEST: 60,
    CET: 60,
    CEST: 120,
    EET: 120,
    EEST: 180,
    BST: 60,
    IST: 330,
    MSK: 180,
    JST: 540,
    KST: 540,
    HKT: 480,
    SGT: 480,
    AEST: 600,
    AEDT: 660,
    ACST: 570,
    AWST: 480,
    NZST: 720,
    NZDT: 780,
  };
  for (const [abbr, minutes] of Object.entries(want)) {
    assertEquals(abbreviationOffset(abbr), minutes, abbr);
  }
});

Deno.test("zone table: well-formed, unique, upper case; ambiguous ones say which meaning", () => {
  const seen = new Set<string>();
  for (const z of ZONE_ABBREVIATIONS) {
    assert(!seen.has(z.abbr), `duplicate ${z.abbr}`);
    seen.add(z.abbr);
    assertEquals(z.abbr, z.abbr.toUpperCase());
    assert(/^[+-]\d\d:\d\d$/.test(z.offset), `${z.abbr} offset ${z.offset}`);
    assert(z.name.length > 0);
  }
  for (const ambiguous of ["IST", "CST", "BST", "AST"]) {
    assert(
      ZONE_ABBREVIATIONS.find((z) => z.abbr === ambiguous)?.note,
      ambiguous,
    );
  }
});

Deno.test("abbreviationOffset: any case; unknown is undefined", () => {
  assertEquals(abbreviationOffset("pst"), -480);
  assertEquals(abbreviationOffset("Nzdt"), 780);
  assertEquals(abbreviationOffset("XYZ"), undefined);
  assertEquals(abbreviationOffset("America/New_York"), undefined);
});

Deno.test("validateTimezone: accepts IANA names, fixes only letter case", () => {
  assertEquals(validateTimezone("UTC"), "UTC");
  assertEquals(validateTimezone("utc"), "UTC");
  assertEquals(validateTimezone("america/new_york"), NY);
  assertEquals(validateTimezone(BERLIN), BERLIN);
  assertEquals(validateTimezone("US/Eastern"), "US/Eastern");
  assertEquals(validateTimezone("Asia/Calcutta"), "Asia/Calcutta");
  // Real IANA names that look like abbreviations stay zones.
  assertEquals(validateTimezone("EST"), "EST");
  assertEquals(validateTimezone("CET"), "CET");
});

Deno.test("validateTimezone: rejects, naming the zone and the field", () => {
  for (
    const bad of [
      "Mars/Olympus",
      "America/Nowhere",
      "GMT+2",
      "CTT",
      "Asia/Tokyo2",
    ]
  ) {
    const e = assertThrows(
      () => validateTimezone(bad),
      JobproError,
      `'${bad}' is not a known IANA time zone`,
    );
    assertEquals(e.field, "timezone");
    assertEquals(e.code, "invalid");
  }
  // ICU would take PST as America/Los_Angeles and BST as Asia/Dhaka: refused, with the reason.
  assertThrows(
    () => validateTimezone("PST"),
    JobproError,
    "timezone: 'PST' is a zone abbreviation (-08:00 all year)",
  );
  assertThrows(
    () => validateTimezone("bst"),
    JobproError,
    "'bst' is a zone abbreviation (+01:00 all year)",
  );
  assertThrows(
    () => validateTimezone(""),
    JobproError,
    "timezone: must be an IANA time zone name",
  );
  assertThrows(
    () => validateTimezone("A".repeat(100)),
    JobproError,
    "timezone: is too long",
  );
  assert(isTimezone(NY));
  assert(!isTimezone("PST"));
});

Deno.test("offsetAt and instantToWall follow DST", () => {
  assertEquals(offsetAt(Date.UTC(2024, 0, 15), NY), -5 * H);
  assertEquals(offsetAt(Date.UTC(2024, 6, 15), NY), -4 * H);
  assertEquals(offsetAt(Date.UTC(2024, 6, 15), BERLIN), 2 * H);
  assertEquals(offsetAt(Date.UTC(2024, 6, 15), "Asia/Kathmandu"), 5.75 * H);
  assertEquals(offsetAt(Date.UTC(2024, 6, 15, 0, 0, 0, 999), "UTC"), 0);
  assertEquals(
    instantToWall(Date.UTC(2024, 0, 15, 19, 30), NY),
    Date.UTC(2024, 0, 15, 14, 30),
  );
  // The change itself: 07:00Z on 2024-03-10 is 03:00 EDT; a second before is 01:59:59 EST.
  assertEquals(
    instantToWall(Date.UTC(2024, 2, 10, 7), NY),
    Date.UTC(2024, 2, 10, 3),
  );
  assertEquals(
    instantToWall(Date.UTC(2024, 2, 10, 6, 59, 59), NY),
    Date.UTC(2024, 2, 10, 1, 59, 59),
  );
});

Deno.test("wallToInstant: ordinary times", () => {
  assertEquals(
    wallToInstant(Date.UTC(2024, 0, 15, 14, 30), NY),
    Date.UTC(2024, 0, 15, 19, 30),
  );
  assertEquals(
    wallToInstant(Date.UTC(2024, 6, 15, 14, 30), NY),
    Date.UTC(2024, 6, 15, 18, 30),
  );
  assertEquals(
    wallToInstant(Date.UTC(2024, 0, 15, 14, 30, 5, 250), BERLIN),
    Date.UTC(2024, 0, 15, 13, 30, 5, 250),
  );
  assertEquals(
    wallToInstant(Date.UTC(2024, 0, 15, 14, 30), "UTC"),
    Date.UTC(2024, 0, 15, 14, 30),
  );
  assertEquals(
    wallToInstant(Date.UTC(2024, 0, 15, 14, 30), "+05:30"),
    Date.UTC(2024, 0, 15, 9),
  );
});

Deno.test("wallToInstant: a skipped wall time gives the first valid instant after", () => {
  // New York 2024-03-10: 02:00 EST jumps to 03:00 EDT at 07:00Z.
  assertEquals(
    wallToInstant(Date.UTC(2024, 2, 10, 2, 30), NY),
    Date.UTC(2024, 2, 10, 7),
  );
  assertEquals(
    wallToInstant(Date.UTC(2024, 2, 10, 2, 0), NY),
    Date.UTC(2024, 2, 10, 7),
  );
  assertEquals(
    wallToInstant(Date.UTC(2024, 2, 10, 2, 59, 59), NY),
    Date.UTC(2024, 2, 10, 7),
  );
  assertEquals(
    wallToInstant(Date.UTC(2024, 2, 10, 3, 0), NY),
    Date.UTC(2024, 2, 10, 7),
  );
  assertEquals(
    wallToInstant(Date.UTC(2024, 2, 10, 1, 59), NY),
    Date.UTC(2024, 2, 10, 6, 59),
  );
  // Berlin 2024-03-31: 02:00 CET jumps to 03:00 CEST at 01:00Z.
  assertEquals(
    wallToInstant(Date.UTC(2024, 2, 31, 2, 30), BERLIN),
    Date.UTC(2024, 2, 31, 1),
  );
  // Lord Howe moves by 30 minutes: 02:00 to 02:30 on 2024-10-06 (15:30Z on the 5th).
  assertEquals(
    wallToInstant(Date.UTC(2024, 9, 6, 2, 15), "Australia/Lord_Howe"),
    Date.UTC(2024, 9, 5, 15, 30),
  );
});

Deno.test("wallToInstant: a repeated wall time gives the earlier instant", () => {
  // New York 2024-11-03: 02:00 EDT goes back to 01:00 EST at 06:00Z.
  assertEquals(
    wallToInstant(Date.UTC(2024, 10, 3, 1, 30), NY),
    Date.UTC(2024, 10, 3, 5, 30),
  );
  assertEquals(
    wallToInstant(Date.UTC(2024, 10, 3, 1, 0), NY),
    Date.UTC(2024, 10, 3, 5, 0),
  );
  assertEquals(
    wallToInstant(Date.UTC(2024, 10, 3, 2, 0), NY),
    Date.UTC(2024, 10, 3, 7, 0),
  );
  // Berlin 2024-10-27: 03:00 CEST goes back to 02:00 CET at 01:00Z.
  assertEquals(
    wallToInstant(Date.UTC(2024, 9, 27, 2, 30), BERLIN),
    Date.UTC(2024, 9, 27, 0, 30),
  );
});

Deno.test("offsetChangeBetween finds the change, or nothing", () => {
  assertEquals(
    offsetChangeBetween(Date.UTC(2024, 0, 1), Date.UTC(2024, 11, 31), NY),
    Date.UTC(2024, 2, 10, 7),
  );
  assertEquals(
    offsetChangeBetween(Date.UTC(2024, 5, 1), Date.UTC(2024, 11, 31), NY),
    Date.UTC(2024, 10, 3, 6),
  );
  assertEquals(
    offsetChangeBetween(Date.UTC(2024, 2, 10, 6), Date.UTC(2024, 2, 10, 7), NY),
    Date.UTC(2024, 2, 10, 7),
  );
  assertEquals(
    offsetChangeBetween(Date.UTC(2024, 2, 10, 7), Date.UTC(2024, 2, 11), NY),
    undefined,
  );
  assertEquals(
    offsetChangeBetween(
      Date.UTC(2024, 0, 1),
      Date.UTC(2024, 11, 31),
      "Asia/Tokyo",
    ),
    undefined,
  );
  assertEquals(
    offsetChangeBetween(Date.UTC(2024, 0, 1), Date.UTC(2024, 11, 31), "UTC"),
    undefined,
  );
});
