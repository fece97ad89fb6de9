import { assert, assertEquals, assertThrows } from "@std/assert";
import { JobproError } from "../../lib/jobpro/errors.ts";
import {
  isPeriodic,
  MAX_SCHEDULE_LENGTH,
  nextRun,
  nextRuns,
  nextTickAfter,
  parseSchedule,
  previewSchedule,
  type Schedule,
} from "../../lib/jobpro/schedule.ts";
import { describeSchedule } from "../../lib/jobpro/describe.ts";
import {
  validateTimezone,
  ZONE_ABBREVIATIONS,
} from "../../lib/jobpro/zones.ts";

const NOW = new Date("2024-01-10T12:00:00Z");

function isoRuns(s: Schedule, after: string, n: number): string[] {
  return nextRuns(s, new Date(after), n).map((d) => d.toISOString());
}

// --- parseSchedule ------------------------------------------------------------------------

Deno.test("parseSchedule: cron is periodic, in the job's zone (default UTC)", () => {
  assertEquals(parseSchedule("*/15 * * * * *"), {
    kind: "cron",
    expr: "*/15 * * * * *",
    timezone: "UTC",
  });
  assertEquals(parseSchedule("30 2 * * *", { timezone: "america/new_york" }), {
    kind: "cron",
    expr: "30 2 * * *",
    timezone: "America/New_York",
  });
  assertEquals(parseSchedule("@daily").kind, "cron");
});

Deno.test("parseSchedule: whitespace is trimmed and collapsed", () => {
  assertEquals(parseSchedule("  */5   *\t* * *  "), {
    kind: "cron",
    expr: "*/5 * * * *",
    timezone: "UTC",
  });
  assertEquals(parseSchedule("  in   30s ", { now: NOW }), {
    kind: "once",
    expr: "in 30s",
    at: new Date("2024-01-10T12:00:30Z"),
  });
});

Deno.test("parseSchedule: empty or blank is manual", () => {
  assertEquals(parseSchedule(""), { kind: "manual", expr: "" });
  assertEquals(parseSchedule("   "), { kind: "manual", expr: "" });
});

Deno.test("parseSchedule: one-time, anchored at now, zoneless times in the job's zone", () => {
  assertEquals(parseSchedule("+1h", { now: NOW }), {
    kind: "once",
    expr: "+1h",
    at: new Date("2024-01-10T13:00:00Z"),
  });
  const s = parseSchedule("2024-01-15 14:30:00", {
    timezone: "Europe/Berlin",
    now: NOW,
  });
  assertEquals(s, {
    kind: "once",
    expr: "2024-01-15 14:30:00",
    at: new Date("2024-01-15T13:30:00Z"),
  });
});

Deno.test("parseSchedule: errors carry code invalid and the field", () => {
  const cron = assertThrows(
    () => parseSchedule("61 * * * *"),
    JobproError,
    "schedule: minute field: 61 is out of range 0-59",
  );
  assertEquals([cron.code, cron.field], ["invalid", "schedule"]);
  const once = assertThrows(
    () => parseSchedule("2024-02-30 10:00"),
    JobproError,
    "schedule: day 30 is out of range",
  );
  assertEquals([once.code, once.field], ["invalid", "schedule"]);
  const tz = assertThrows(
    () => parseSchedule("* * * * *", { timezone: "Mars/Olympus" }),
    JobproError,
    "timezone: 'Mars/Olympus' is not a known IANA time zone",
  );
  assertEquals([tz.code, tz.field], ["invalid", "timezone"]);
  // A bad zone is an error whatever the schedule.
  assertThrows(
    () => parseSchedule("", { timezone: "Nowhere/Land" }),
    JobproError,
    "timezone:",
  );
  assertThrows(
    () => parseSchedule("in 5m", { timezone: "PST" }),
    JobproError,
    "timezone: 'PST' is a zone abbreviation",
  );
});

Deno.test("parseSchedule: length is bounded", () => {
  const long = "* ".repeat(MAX_SCHEDULE_LENGTH);
  assertThrows(
    () => parseSchedule(long),
    JobproError,
    `schedule: is too long (${long.length} characters, at most 256)`,
  );
  assertThrows(
    () => parseSchedule("in " + "1".repeat(300) + "s"),
    JobproError,
    "is too long",
  );
});

Deno.test("parseSchedule: not a string", () => {
  assertThrows(
    () => parseSchedule(42 as unknown as string),
    JobproError,
    "schedule: must be a string",
  );
});

Deno.test("isPeriodic; validateTimezone and the zone table", () => {
  assert(isPeriodic("@hourly"));
  assert(isPeriodic("@every 5m"));
  assert(isPeriodic("CRON_TZ=Europe/Berlin 0 0 * * *"));
  assert(!isPeriodic("1 h 30 m 5 s"));
  assertEquals(validateTimezone("utc"), "UTC");
  assert(
    ZONE_ABBREVIATIONS.some((z) => z.abbr === "PST" && z.offset === "-08:00"),
  );
});

// --- nextRun / nextRuns ---------------------------------------------------------------------

Deno.test("nextRun: cron, strictly after", () => {
  const s = parseSchedule("*/15 * * * * *");
  assertEquals(
    nextRun(s, new Date("2024-01-01T00:00:15Z")),
    new Date("2024-01-01T00:00:30Z"),
  );
  assertEquals(
    nextRun(s, new Date("2024-01-01T00:00:14.500Z")),
    new Date("2024-01-01T00:00:15Z"),
  );
  assertEquals(isoRuns(s, "2024-01-01T00:00:00Z", 2), [
    "2024-01-01T00:00:15.000Z",
    "2024-01-01T00:00:30.000Z",
  ]);
});

Deno.test("nextRun: cron in the job's zone, across DST", () => {
  const s = parseSchedule("30 2 * * *", { timezone: "America/New_York" });
  assertEquals(isoRuns(s, "2024-03-09T12:00:00Z", 2), [
    "2024-03-10T07:00:00.000Z",
    "2024-03-11T06:30:00.000Z",
  ]);
  const m = parseSchedule("0 30 2 * * MON-FRI", { timezone: "Europe/Berlin" });
  assertEquals(
    nextRun(m, new Date("2024-01-13T00:00:00Z")),
    new Date("2024-01-15T01:30:00Z"),
  );
});

Deno.test("nextRun: once is its instant while ahead, then null", () => {
  const s = parseSchedule("2024-01-15T14:30:00Z");
  assertEquals(
    nextRun(s, new Date("2024-01-15T14:29:59Z")),
    new Date("2024-01-15T14:30:00Z"),
  );
  assertEquals(nextRun(s, new Date("2024-01-15T14:30:00Z")), null);
  assertEquals(nextRun(s, new Date("2024-02-01T00:00:00Z")), null);
  assertEquals(isoRuns(s, "2024-01-01T00:00:00Z", 5), [
    "2024-01-15T14:30:00.000Z",
  ]);
  assertEquals(isoRuns(s, "2024-02-01T00:00:00Z", 5), []);
});

Deno.test("nextRun: manual never; nextRuns of count 0 is empty", () => {
  const s = parseSchedule("");
  assertEquals(nextRun(s, NOW), null);
  assertEquals(nextRuns(s, NOW, 3), []);
  assertEquals(nextRuns(parseSchedule("@hourly"), NOW, 0), []);
});

Deno.test("nextRun: the returned Date is a copy", () => {
  const s = parseSchedule("2024-01-15T14:30:00Z");
  const d = nextRun(s, NOW)!;
  d.setTime(0);
  assertEquals(
    s.kind === "once" && s.at.toISOString(),
    "2024-01-15T14:30:00.000Z",
  );
});

// --- describeSchedule -----------------------------------------------------------------------

Deno.test("describeSchedule: the seed's tooltip texts", () => {
  assertEquals(
    describeSchedule(parseSchedule("*/15 * * * * *")),
    "Every 15 seconds",
  );
  assertEquals(
    describeSchedule(parseSchedule("*/14 * * * * *")),
    "Every 14 seconds",
  );
  assertEquals(describeSchedule(parseSchedule("30 2 * * *")), "At 02:30 AM");
  assertEquals(describeSchedule(parseSchedule("")), "manual");
  assertEquals(
    describeSchedule(parseSchedule("2024-01-15 14:30:00 PST", { now: NOW })),
    "Once at 2024-01-15 22:30:00 UTC",
  );
});

// --- previewSchedule ------------------------------------------------------------------------

Deno.test("previewSchedule: periodic lists the next times strictly after from", () => {
  assertEquals(
    previewSchedule("*/15 * * * * *", {
      from: new Date("2024-01-01T00:00:00Z"),
      count: 3,
    }),
    {
      type: "periodic",
      description: "Every 15 seconds",
      next: [
        "2024-01-01T00:00:15.000Z",
        "2024-01-01T00:00:30.000Z",
        "2024-01-01T00:00:45.000Z",
      ],
    },
  );
  const p = previewSchedule("@daily", {
    from: new Date("2024-01-01T00:00:00Z"),
  });
  assertEquals(p.next.length, 5, "count defaults to 5");
  assertEquals(p.next[0], "2024-01-02T00:00:00.000Z");
  assertEquals(
    previewSchedule("0 9 * * *", {
      timezone: "Asia/Tokyo",
      from: new Date("2024-01-01T00:00:00Z"),
      count: 1,
    }),
    {
      type: "periodic",
      description: "At 09:00 AM (Asia/Tokyo)",
      next: ["2024-01-02T00:00:00.000Z"],
    },
  );
  // Without from, times follow now.
  assertEquals(previewSchedule("@hourly", { now: NOW, count: 1 }).next, [
    "2024-01-10T13:00:00.000Z",
  ]);
});

Deno.test("previewSchedule: one-time shows its instant, even when past", () => {
  assertEquals(previewSchedule("in 30s", { now: NOW }), {
    type: "onetime",
    description: "Once at 2024-01-10 12:00:30 UTC",
    next: ["2024-01-10T12:00:30.000Z"],
  });
  assertEquals(previewSchedule("2020-01-01T00:00:00Z", { now: NOW }), {
    type: "onetime",
    description: "Once at 2020-01-01 00:00:00 UTC",
    next: ["2020-01-01T00:00:00.000Z"],
  });
});

Deno.test("previewSchedule: manual has no times", () => {
  assertEquals(previewSchedule("", {}), {
    type: "manual",
    description: "manual",
    next: [],
  });
});

Deno.test("previewSchedule: count is checked; errors come from parsing", () => {
  assertEquals(previewSchedule("@hourly", { now: NOW, count: 0 }).next, []);
  assertEquals(
    previewSchedule("@hourly", { now: NOW, count: 100 }).next.length,
    100,
  );
  for (const count of [-1, 101, 1.5, NaN]) {
    const e = assertThrows(
      () => previewSchedule("@hourly", { now: NOW, count }),
      JobproError,
      "count: must be a whole number",
    );
    assertEquals(e.field, "count");
  }
  assertThrows(
    () => previewSchedule("0 0 * * FUNDAY", {}),
    JobproError,
    "day-of-week field: 'FUNDAY' is not a day name",
  );
});

// --- robustness: random input never crashes nor hangs ------------------------------------------

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

Deno.test("fuzz: random text gives a schedule or a JobproError, quickly", () => {
  const random = rng(1234);
  const alphabet = [
    ..."0123456789*?,/-+:.@ ",
    "  ",
    "in ",
    "PM",
    "MON",
    "JAN",
    "Z",
    "T",
    "PST",
    "America/New_York",
    "2024-01-15",
    "14:30:00",
    "01/15/2024",
    "Jan 15, 2024",
    "1-30/5",
    "*/15",
    "h",
    "m",
    "s",
    "é",
    "\u0000",
  ];
  let slowest = 0;
  for (let i = 0; i < 3000; i++) {
    const n = Math.floor(random() * 12);
    let text = "";
    for (let k = 0; k < n; k++) {
      text += alphabet[Math.floor(random() * alphabet.length)];
    }
    const start = performance.now();
    try {
      const s = parseSchedule(text, { now: NOW, timezone: "America/New_York" });
      nextRuns(s, NOW, 2);
      describeSchedule(s);
    } catch (e) {
      if (!(e instanceof JobproError)) {
        throw new Error(`${JSON.stringify(text)} threw ${e}`);
      }
      assertEquals(e.code, "invalid", text);
    }
    slowest = Math.max(slowest, performance.now() - start);
  }
  assert(slowest < 250, `slowest parse took ${slowest}ms`);
});

Deno.test("fuzz: long adversarial inputs stay linear", () => {
  for (
    const text of [
      "1".repeat(256),
      "*".repeat(256),
      "1-".repeat(128),
      ",".repeat(256),
      "/".repeat(256),
      "in " + "1s".repeat(126),
      "2024-01-15 " + "1".repeat(240),
      "1 ".repeat(128),
      "* * * * " + "1,".repeat(120),
      "@" + "a".repeat(255),
    ]
  ) {
    const start = performance.now();
    try {
      parseSchedule(text.slice(0, MAX_SCHEDULE_LENGTH), { now: NOW });
    } catch (e) {
      assert(e instanceof JobproError, `${text.slice(0, 20)}: ${e}`);
    }
    assert(performance.now() - start < 100, text.slice(0, 20));
  }
});

// --- issue 10: robfig's schedules as the Go service wrote them ----------------------

Deno.test("CRON_TZ= and TZ= prefixes set the zone; a different timezone beside them is refused naming it", () => {
  assertEquals(parseSchedule("CRON_TZ=Europe/Berlin 0 0 * * *"), {
    kind: "cron",
    expr: "0 0 * * *",
    timezone: "Europe/Berlin",
  });
  assertEquals(parseSchedule("TZ=asia/tokyo   0 9 * * MON-FRI").kind, "cron");
  assertEquals(
    (parseSchedule("TZ=asia/tokyo 0 9 * * MON-FRI") as { timezone: string })
      .timezone,
    "Asia/Tokyo",
  );
  assertEquals(
    isoRuns(
      parseSchedule("CRON_TZ=Europe/Berlin 0 0 * * *"),
      "2024-01-01T12:00:00Z",
      1,
    ),
    ["2024-01-01T23:00:00.000Z"],
  );
  // The same zone twice is fine; a different one is a 400 on timezone.
  parseSchedule("CRON_TZ=Europe/Berlin @daily", { timezone: "Europe/Berlin" });
  const e = assertThrows(
    () =>
      parseSchedule("CRON_TZ=Europe/Berlin 0 0 * * *", {
        timezone: "Asia/Tokyo",
      }),
    JobproError,
    `timezone: "Asia/Tokyo" conflicts with the schedule's CRON_TZ=Europe/Berlin`,
  );
  assertEquals(e.field, "timezone");
  assertThrows(
    () => parseSchedule("CRON_TZ=Mars/Base 0 0 * * *"),
    JobproError,
    "schedule: CRON_TZ=Mars/Base: 'Mars/Base' is not a known IANA time zone",
  );
  assertThrows(
    () => parseSchedule("TZ= 0 0 * * *"),
    JobproError,
    "schedule: TZ= needs a time zone",
  );
  assertThrows(
    () => parseSchedule("CRON_TZ=UTC in 5m"),
    JobproError,
    "a zone prefix must be followed by a cron expression",
  );
  assertThrows(
    () => parseSchedule("CRON_TZ=UTC"),
    JobproError,
    "got 'nothing'",
  );
});

Deno.test("@every runs at whole seconds, an interval apart, from when it is started", () => {
  const s = parseSchedule("@every 1h30m");
  assertEquals(s, { kind: "every", expr: "@every 1h30m", everyMs: 5_400_000 });
  assertEquals(isoRuns(s, "2024-01-01T00:00:00.700Z", 3), [
    "2024-01-01T01:30:00.000Z",
    "2024-01-01T03:00:00.000Z",
    "2024-01-01T04:30:00.000Z",
  ]);
  assertEquals(describeSchedule(s), "Every 1 hour 30 minutes");
  assertEquals(parseSchedule("TZ=Europe/Berlin @every 5m").kind, "every");
});

Deno.test("nextTickAfter: a late scheduler moves on to the first tick still ahead; @every keeps its phase", () => {
  const every = parseSchedule("@every 10s");
  const t0 = Date.UTC(2024, 0, 1);
  assertEquals(nextTickAfter(every, t0, t0 + 35_000), t0 + 40_000);
  assertEquals(nextTickAfter(every, t0, t0 + 40_000), t0 + 50_000);
  assertEquals(nextTickAfter(every, t0, t0 - 5), t0 + 10_000);
  const cron = parseSchedule("*/15 * * * * *");
  assertEquals(nextTickAfter(cron, t0, t0 + 31_000), t0 + 45_000);
});

Deno.test("a relative time written with spaces is a relative time, never cron", () => {
  for (
    const [text, ms] of [
      ["1 h 30 m 5 s", 5_405_000],
      ["2 hours 30 minutes", 9_000_000],
      ["1 d 2 h", 93_600_000],
      ["in 1 h 30 m 5 s", 5_405_000],
    ] as const
  ) {
    const s = parseSchedule(text, { now: NOW });
    assertEquals(s.kind, "once", text);
    assertEquals((s as { at: Date }).at.getTime() - NOW.getTime(), ms, text);
  }
  assertThrows(() => parseSchedule("1 h 30 x"), JobproError, "schedule:");
});

Deno.test("previewSchedule says what a step beyond its field means", () => {
  const p = previewSchedule("0 0 1 */15 *", {
    from: new Date("2024-02-01T00:00:00Z"),
    count: 2,
  });
  assertEquals(p.next, [
    "2025-01-01T00:00:00.000Z",
    "2026-01-01T00:00:00.000Z",
  ]);
  assertEquals(p.warnings?.length, 1);
  assertEquals("warnings" in previewSchedule("@daily", { now: NOW }), false);
});
