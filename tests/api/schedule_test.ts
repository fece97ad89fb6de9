/**
 * GET /jobs/schedule and job creation with the schedules of issue 10, on a
 * real server: the March 1 cases, robfig's syntax, and `from` as RFC 3339.
 */
import { assertEquals, assertStringIncludes } from "@std/assert";
import { call, withServer } from "./helpers.ts";

const q = (expr: string, extra = "") =>
  `/jobs/schedule?expr=${encodeURIComponent(expr)}${extra}`;

Deno.test("GET /jobs/schedule: day-of-month matches on March 1 come first after February", async () => {
  await withServer(async (jp) => {
    const cases: [string, string, string][] = [
      ["0 0 */10 * *", "2023-02-21T00:00:00Z", "2023-03-01T00:00:00.000Z"],
      ["0 0 1,15,30 * *", "2023-02-21T00:00:00Z", "2023-03-01T00:00:00.000Z"],
      ["0 0 1,31 * *", "2024-02-21T00:00:00Z", "2024-03-01T00:00:00.000Z"],
      ["0 0 */15 * *", "2024-02-21T00:00:00Z", "2024-03-01T00:00:00.000Z"],
      ["0 0 1 * FRI", "2034-02-25T00:00:00Z", "2034-03-01T00:00:00.000Z"],
      ["0 0 1 * THU", "2023-02-24T00:00:00Z", "2023-03-01T00:00:00.000Z"],
    ];
    for (const [expr, from, first] of cases) {
      const r = await call(jp, "GET", q(expr, `&from=${from}&count=1`));
      assertEquals([r.status, r.body.next], [200, [first]], expr);
    }
    const star = await call(
      jp,
      "GET",
      q("0 0 *,5 * MON", "&from=2024-01-01T00:00:00Z&count=2"),
    );
    assertEquals(star.body.next, [
      "2024-01-08T00:00:00.000Z",
      "2024-01-15T00:00:00.000Z",
    ]);
  });
});

Deno.test("GET /jobs/schedule: robfig's @every, zone prefixes, '?' and long steps (with warnings)", async () => {
  await withServer(async (jp) => {
    const every = await call(
      jp,
      "GET",
      q("@every 1h30m", "&from=2024-01-01T00:00:00Z&count=2"),
    );
    assertEquals(every.body, {
      type: "periodic",
      description: "Every 1 hour 30 minutes",
      next: ["2024-01-01T01:30:00.000Z", "2024-01-01T03:00:00.000Z"],
    });
    const berlin = await call(
      jp,
      "GET",
      q(
        "CRON_TZ=Europe/Berlin 0 0 * * *",
        "&from=2024-01-01T12:00:00Z&count=1",
      ),
    );
    assertEquals(berlin.body.next, ["2024-01-01T23:00:00.000Z"]);
    const clash = await call(
      jp,
      "GET",
      q("TZ=Europe/Berlin 0 0 * * *", "&timezone=Asia/Tokyo"),
    );
    assertEquals([clash.status, clash.body.error.field], [400, "timezone"]);
    assertStringIncludes(
      clash.body.error.message,
      "conflicts with the schedule's TZ=Europe/Berlin",
    );
    const q6 = await call(
      jp,
      "GET",
      q("? ? ? ? ? ?", "&from=2024-01-01T00:00:00Z&count=2"),
    );
    assertEquals(q6.body.next, [
      "2024-01-01T00:00:01.000Z",
      "2024-01-01T00:00:02.000Z",
    ]);
    const month = await call(
      jp,
      "GET",
      q("0 0 1 */15 *", "&from=2024-02-01T00:00:00Z&count=1"),
    );
    assertEquals(month.body.next, ["2025-01-01T00:00:00.000Z"]);
    assertStringIncludes(month.body.warnings[0], "means only 1");
    const secs = await call(
      jp,
      "GET",
      q("*/90 * * * * *", "&from=2024-01-01T00:00:00Z&count=1"),
    );
    assertEquals(secs.body.next, ["2024-01-01T00:01:00.000Z"]);
    assertEquals(secs.body.warnings.length, 1);
  });
});

Deno.test("GET /jobs/schedule: a relative time with spaces is one-time; from is RFC 3339 with a zone or a 400 naming it", async () => {
  await withServer(async (jp) => {
    for (const text of ["1 h 30 m 5 s", "2 hours 30 minutes"]) {
      const r = await call(jp, "GET", q(text));
      assertEquals([r.status, r.body.type], [200, "onetime"], text);
    }
    for (
      const from of ["0", "12", "2023-02-21T00:00:00", "2023-02-21", "soon", ""]
    ) {
      const r = await call(
        jp,
        "GET",
        q("* * * * *", `&from=${encodeURIComponent(from)}`),
      );
      assertEquals(
        [r.status, r.body.error?.field],
        [400, "from"],
        `from=${from}`,
      );
      assertStringIncludes(r.body.error.message, "RFC 3339");
    }
    const ok = await call(
      jp,
      "GET",
      q("0 * * * *", "&from=2024-01-15T14:30:00%2B01:00&count=1"),
    );
    assertEquals(ok.body.next, ["2024-01-15T14:00:00.000Z"]);
  });
});

Deno.test("POST /jobs: the Go service's schedules load as they are; a zone given twice, differently, is a 400 that creates nothing", async () => {
  await withServer(async (jp) => {
    const action = { type: "function", name: "noop" };
    for (
      const schedule of [
        "@every 5m",
        "@every 1h30m",
        "CRON_TZ=Europe/Berlin 0 30 2 * * *",
        "TZ=America/New_York 0 0 9 ? * MON-FRI",
        "0 0 0 1 */15 ?",
      ]
    ) {
      const r = await call(jp, "POST", "/jobs", {
        name: schedule,
        schedule,
        action,
      });
      assertEquals([r.status, r.body.type], [201, "periodic"], schedule);
    }
    const berlin = (await call(jp, "GET", "/jobs?q=CRON_TZ")).body.jobs[0];
    assertEquals(berlin.timezone, "Europe/Berlin");
    const clash = await call(jp, "POST", "/jobs", {
      id: "clash",
      name: "clash",
      schedule: "CRON_TZ=Europe/Berlin 0 0 * * *",
      timezone: "UTC",
      action,
    });
    assertEquals([clash.status, clash.body.error.field], [400, "timezone"]);
    assertEquals((await call(jp, "GET", "/jobs/clash")).status, 404);
    const spaced = await call(jp, "POST", "/jobs", {
      name: "later",
      schedule: "1 h 30 m",
      action,
    });
    assertEquals([spaced.status, spaced.body.type], [201, "onetime"]);
  });
});
