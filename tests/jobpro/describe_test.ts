import { assertEquals } from "@std/assert";
import {
  describeCron,
  describeSchedule,
  formatUtc,
} from "../../lib/jobpro/describe.ts";
import { compileCron } from "../../lib/jobpro/cron.ts";

function cron(expr: string, timezone = "UTC"): string {
  return describeSchedule({ kind: "cron", expr, timezone });
}

Deno.test("cron in English, like the seed's tooltips", () => {
  assertEquals(cron("*/15 * * * * *"), "Every 15 seconds");
  assertEquals(cron("*/20 * * * * *"), "Every 20 seconds");
  assertEquals(cron("* * * * *"), "Every minute");
  assertEquals(cron("*/5 * * * *"), "Every 5 minutes");
  assertEquals(cron("30 2 * * *"), "At 02:30 AM");
  assertEquals(cron("0 30 14 * * *"), "At 02:30 PM");
  assertEquals(
    cron("0 30 2 * * MON-FRI"),
    "At 02:30 AM, Monday through Friday",
  );
  assertEquals(cron("0 0 * * Sunday"), "At 12:00 AM, only on Sunday");
  assertEquals(cron("0 0 * * 7"), "At 12:00 AM, only on Sunday");
  assertEquals(cron("0 0 ? * MON"), "At 12:00 AM, only on Monday");
  assertEquals(
    cron("0 0 1 JAN *"),
    "At 12:00 AM, on day 1 of the month, only in January",
  );
});

Deno.test("nicknames read as what they stand for", () => {
  assertEquals(cron("@hourly"), "Every hour");
  assertEquals(cron("@daily"), "At 12:00 AM");
  assertEquals(cron("@midnight"), "At 12:00 AM");
  assertEquals(cron("@weekly"), "At 12:00 AM, only on Sunday");
  assertEquals(cron("@monthly"), "At 12:00 AM, on day 1 of the month");
  assertEquals(
    cron("@yearly"),
    "At 12:00 AM, on day 1 of the month, only in January",
  );
});

Deno.test("both day fields restricted: the text says or", () => {
  assertEquals(
    cron("0 0 13 * 5"),
    "At 12:00 AM, on day 13 of the month, or on Friday",
  );
  assertEquals(
    cron("0 0 1,15 * 5-6"),
    "At 12:00 AM, on day 1 and 15 of the month, or Friday through Saturday",
  );
  assertEquals(
    cron("0 0 1 1 0,6"),
    "At 12:00 AM, on day 1 of the month, or on Sunday and Saturday, only in January",
  );
  assertEquals(
    cron("0 0 */2 * 1,3"),
    "At 12:00 AM, every 2 days in a month, or on Monday and Wednesday",
  );
});

Deno.test("the zone is named when it is not UTC and the hour or day matters", () => {
  assertEquals(
    cron("30 2 * * *", "America/New_York"),
    "At 02:30 AM (America/New_York)",
  );
  assertEquals(
    cron("0 0 * * MON", "Europe/Berlin"),
    "At 12:00 AM, only on Monday (Europe/Berlin)",
  );
  assertEquals(cron("*/15 * * * * *", "America/New_York"), "Every 15 seconds");
  assertEquals(cron("*/5 * * * *", "Europe/Berlin"), "Every 5 minutes");
  assertEquals(describeCron(compileCron("30 2 * * *")), "At 02:30 AM");
});

Deno.test("once: the UTC instant; manual: manual", () => {
  assertEquals(
    describeSchedule({
      kind: "once",
      expr: "in 1h",
      at: new Date("2024-01-15T22:30:00Z"),
    }),
    "Once at 2024-01-15 22:30:00 UTC",
  );
  assertEquals(
    formatUtc(new Date("2024-01-15T22:30:00.250Z")),
    "2024-01-15 22:30:00.250 UTC",
  );
  assertEquals(describeSchedule({ kind: "manual", expr: "" }), "manual");
});
