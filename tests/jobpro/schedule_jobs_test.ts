/**
 * Schedules as real jobs: a manager on a real DuckDB file, with a clock set
 * to just before the moment that matters, runs the job when it should.
 */
import { assertEquals, assertRejects } from "@std/assert";
import {
  type Clock,
  createManager,
  JobproError,
  type Manager,
  openDuckDBStore,
  type RunView,
} from "@/lib/jobpro/mod.ts";
import { tempDb, waitFor } from "../helpers.ts";

const noop = { type: "function", name: "noop" } as const;

/** A clock that reads `at` now and runs on in real time. */
function clockAt(at: string): Clock {
  const offset = Date.parse(at) - Date.now();
  return { now: () => Date.now() + offset };
}

async function withManager(clock: Clock, fn: (m: Manager) => Promise<void>) {
  const db = await tempDb();
  const m = await createManager({
    store: await openDuckDBStore(db.path),
    clock,
    log: () => {},
  });
  try {
    await fn(m);
  } finally {
    await m.shutdown({ graceMs: 1000 });
    await db.cleanup();
  }
}

function runsOf(m: Manager, id: string): Promise<RunView[]> {
  return m.runs(id, { limit: 100 }).then((r) => r.runs);
}

Deno.test("a job on day 1 and 31 runs at 2023-03-01T00:00Z, the first day-of-month match after February", async () => {
  await withManager(clockAt("2023-02-28T23:59:58.500Z"), async (m) => {
    const job = await m.create({
      id: "month-ends",
      name: "month ends",
      schedule: "0 0 0 1,31 * *",
      action: noop,
    });
    assertEquals(job.nextRunAt, "2023-03-01T00:00:00.000Z");
    const [run] = await waitFor(async () => {
      const runs = await runsOf(m, "month-ends");
      return runs.length && runs.every((r) => r.status !== "running") && runs;
    }, { timeoutMs: 5000 });
    assertEquals([run.scheduledFor, run.status, run.trigger], [
      "2023-03-01T00:00:00.000Z",
      "complete",
      "schedule",
    ]);
    assertEquals(m.get("month-ends").nextRunAt, "2023-03-31T00:00:00.000Z");
  });
});

Deno.test("a job with both day fields restricted runs on March 1 (a Wednesday) and then on Friday the 3rd", async () => {
  await withManager(clockAt("2034-02-28T23:59:59.000Z"), async (m) => {
    await m.create({
      id: "first-or-friday",
      name: "first or friday",
      schedule: "0 0 0 1 * FRI",
      action: noop,
    });
    await waitFor(
      async () => (await runsOf(m, "first-or-friday")).length === 1,
      {
        timeoutMs: 5000,
      },
    );
    const [run] = await runsOf(m, "first-or-friday");
    assertEquals(run.scheduledFor, "2034-03-01T00:00:00.000Z");
    assertEquals(
      m.get("first-or-friday").nextRunAt,
      "2034-03-03T00:00:00.000Z",
    );
  });
});

Deno.test("@every 2s runs every 2 s on whole seconds, counted from its start, and keeps its phase", async () => {
  await withManager({ now: () => Date.now() }, async (m) => {
    const started = Date.now();
    const job = await m.create({
      id: "every",
      name: "every",
      schedule: "@every 2s",
      action: noop,
    });
    assertEquals(job.type, "periodic");
    assertEquals(job.scheduleText, "Every 2 seconds");
    const first = Date.parse(job.nextRunAt!);
    assertEquals(first % 1000, 0);
    const expected = Math.floor(started / 1000) * 1000 + 2000;
    // created within the same second as `started`, or the next one
    assertEquals(first === expected || first === expected + 1000, true);
    const runs = await waitFor(async () => {
      const r = (await runsOf(m, "every")).filter((x) =>
        x.status !== "running"
      );
      return r.length >= 2 && r;
    }, { timeoutMs: 8000 });
    const ticks = runs.map((r) => Date.parse(r.scheduledFor!)).sort();
    assertEquals(ticks.slice(0, 2), [first, first + 2000]);
  });
});

Deno.test("CRON_TZ= sets the job's zone; a different timezone beside it is refused and creates nothing", async () => {
  await withManager(
    { now: () => Date.parse("2024-01-01T12:00:00Z") },
    async (m) => {
      const job = await m.create({
        id: "berlin",
        name: "berlin",
        schedule: "CRON_TZ=Europe/Berlin 0 0 * * *",
        action: noop,
      });
      assertEquals(job.timezone, "Europe/Berlin");
      assertEquals(job.schedule, "CRON_TZ=Europe/Berlin 0 0 * * *");
      assertEquals(job.nextRunAt, "2024-01-01T23:00:00.000Z");
      const e = await assertRejects(
        () =>
          m.create({
            id: "clash",
            name: "clash",
            schedule: "TZ=Europe/Berlin 0 0 * * *",
            timezone: "Asia/Tokyo",
            action: noop,
          }),
        JobproError,
        "conflicts with the schedule's TZ=Europe/Berlin",
      );
      assertEquals(e.field, "timezone");
      assertEquals(m.size, 1);
      // A new prefixed schedule brings its zone; a clashing zone alone is refused.
      const moved = await m.update("berlin", {
        schedule: "TZ=Asia/Tokyo 0 9 * * *",
      });
      assertEquals(moved.timezone, "Asia/Tokyo");
      await assertRejects(
        () => m.update("berlin", { timezone: "Europe/Paris" }),
        JobproError,
        "conflicts",
      );
      assertEquals(m.get("berlin").timezone, "Asia/Tokyo");
    },
  );
});
