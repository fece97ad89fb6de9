/**
 * Restart semantics over time. A real process SIGKILLed and kept down across
 * periodic ticks (catchUp "skip" and "once") and a one-time job's due time;
 * a run interrupted by SIGKILL stays one run however often the server
 * restarts; a one-time job waiting for a retry keeps its attempt count across
 * a restart; and downtime across the DST changes of America/New_York (an
 * injected clock, real DuckDB files): spring-forward and fall-back, fixed-time
 * and interval crons, one-time jobs in a skipped and a repeated hour.
 *
 * tests/jobpro/semantics_test.ts already covers catch-up across a long
 * downtime with an injected clock ("restart: catchUp once ...", "restart: a
 * one-time job that came due while down runs exactly once").
 */
import { assert, assertEquals } from "@std/assert";
import {
  type Clock,
  createManager,
  type Manager,
  openDuckDBStore,
} from "@/lib/jobpro/mod.ts";
import {
  allRuns,
  type Proc,
  startProcess,
  tempDb,
  waitFor,
} from "./helpers.ts";

const noop = { type: "function", name: "noop" } as const;
const sleepFor = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test({
  name:
    "restart: SIGKILL and 3 s down across every-second ticks and a one-time due time: catchUp once runs one startup run, skip none, the one-time job once",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const db = await tempDb();
    const procs: Proc[] = [];
    try {
      const first = await startProcess({ JOBPRO_DB: db.path });
      procs.push(first);
      for (const catchUp of ["skip", "once"]) {
        const r = await first.api("POST", "/jobs", {
          id: `cu-${catchUp}`,
          name: catchUp,
          schedule: "* * * * * *",
          catchUp,
          action: noop,
        });
        assertEquals(r.status, 201, r.text);
      }
      const due = new Date(Math.ceil(Date.now() / 1000) * 1000 + 2000);
      assertEquals(
        (await first.api("POST", "/jobs", {
          id: "due-while-down",
          name: "due while down",
          schedule: due.toISOString(),
          action: noop,
        })).status,
        201,
      );
      await waitFor(async () =>
        (await first.api("GET", "/jobs/cu-skip")).body.runCount >= 1 &&
        (await first.api("GET", "/jobs/cu-once")).body.runCount >= 1
      );
      await first.kill();
      const killedAt = Date.now();
      // Down across at least three ticks and the one-time job's due time.
      await sleepFor(Math.max(3000, due.getTime() + 500 - Date.now()));
      const second = await startProcess({ JOBPRO_DB: db.path });
      procs.push(second);
      const upAt = second.startedAt;
      const done = await waitFor(async () => {
        const j = (await second.api("GET", "/jobs/due-while-down")).body;
        return j.status === "complete" && j;
      }, { what: "the one-time job to run after the restart" });
      assertEquals(done.runCount, 1);
      const once = await allRuns(second, "due-while-down");
      assertEquals(once.map((r) => [r.trigger, r.scheduledFor]), [[
        "schedule",
        due.toISOString(),
      ]]);
      // Let the new process tick a couple of times.
      await sleepFor(2200);
      for (const catchUp of ["skip", "once"]) {
        const runs = await allRuns(second, `cu-${catchUp}`);
        const inDowntime = runs.filter((r) =>
          r.trigger === "schedule" && r.scheduledFor !== null &&
          Date.parse(r.scheduledFor) > killedAt &&
          Date.parse(r.scheduledFor) < upAt
        );
        assertEquals(inDowntime, [], `${catchUp}: no tick of the downtime ran`);
        const startup = runs.filter((r) => r.trigger === "startup");
        assertEquals(
          startup.length,
          catchUp === "once" ? 1 : 0,
          `${catchUp}: ${JSON.stringify(startup)}`,
        );
        if (startup[0]) {
          assert(Date.parse(startup[0].startedAt) >= upAt);
        }
        const after = runs.filter((r) =>
          r.trigger === "schedule" && Date.parse(r.startedAt) >= upAt
        );
        assert(after.length >= 1, `${catchUp} ticks again after the restart`);
        const ticks = runs.filter((r) => r.trigger === "schedule").map((r) =>
          r.scheduledFor
        );
        assertEquals(new Set(ticks).size, ticks.length, "no tick ran twice");
      }
      // A graceful restart: the one-time job is not run again.
      assertEquals((await second.stop()).code, 0);
      const third = await startProcess({ JOBPRO_DB: db.path });
      procs.push(third);
      await sleepFor(500);
      assertEquals(
        (await allRuns(third, "due-while-down")).length,
        1,
        "still one run after another restart",
      );
      assertEquals((await third.stop()).code, 0);
    } finally {
      for (const p of procs) if (!p.dead) await p.kill();
      await db.cleanup();
    }
  },
});

Deno.test({
  name:
    "restart: a run interrupted by SIGKILL is one failed 'interrupted' run, counted once, however often the server restarts",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const db = await tempDb();
    const procs: Proc[] = [];
    try {
      const first = await startProcess({ JOBPRO_DB: db.path });
      procs.push(first);
      await first.api("POST", "/jobs", {
        id: "long",
        name: "long",
        schedule: "",
        autoStart: false,
        action: { type: "function", name: "sleep", params: { ms: 60_000 } },
      });
      const started = await first.api("POST", "/jobs/long/run");
      assertEquals(started.status, 200, started.text);
      const runId = started.body.run.id;
      await first.kill();
      for (let restart = 1; restart <= 3; restart++) {
        const p = await startProcess({ JOBPRO_DB: db.path });
        procs.push(p);
        const runs = await allRuns(p, "long");
        assertEquals(
          runs.map((r) => [r.id, r.status, r.error]),
          [[runId, "failed", "interrupted"]],
          `after restart ${restart}: the run once, ended (a copy still 'running' or a second 'interrupted' copy is the bug)`,
        );
        const job = (await p.api("GET", "/jobs/long")).body;
        assertEquals(
          [job.runCount, job.lastRun?.error],
          [1, "interrupted"],
          `after restart ${restart}: counted once`,
        );
        if (restart < 3) await p.kill();
        else assertEquals((await p.stop()).code, 0);
      }
    } finally {
      for (const p of procs) if (!p.dead) await p.kill();
      await db.cleanup();
    }
  },
});

async function open(path: string, clock: Clock): Promise<Manager> {
  return await createManager({
    store: await openDuckDBStore(path),
    clock,
    log: () => {},
  });
}

Deno.test("restart: a one-time job waiting for a retry keeps its attempt count and trigger across a restart", async () => {
  const db = await tempDb();
  try {
    let m = await open(db.path, { now: () => Date.now() });
    await m.create({
      id: "r",
      name: "r",
      schedule: "in 0s",
      retries: 2,
      retryDelayMs: 1500,
      action: { type: "function", name: "fail" },
    });
    await waitFor(() => m.get("r").runCount === 1, { what: "first attempt" });
    assertEquals(m.get("r").status, "scheduled", "waiting for its retry");
    await m.shutdown({ graceMs: 0 });
    m = await open(db.path, { now: () => Date.now() });
    try {
      await waitFor(() => m.get("r").status === "failed", {
        what: "the retries to end",
      });
      await sleepFor(300);
      const { runs } = await m.runs("r", { limit: 100 });
      assertEquals(
        runs.reverse().map((r) => [r.trigger, r.attempt]),
        [["schedule", 1], ["retry", 2], ["retry", 3]],
        "1 + retries attempts in all; a second 'schedule' attempt 1 after the restart is the bug",
      );
    } finally {
      await m.shutdown();
    }
  } finally {
    await db.cleanup();
  }
});

Deno.test("restart: a periodic job's failed run waiting for its retry gets it after a restart, with the attempt count it had", async () => {
  const db = await tempDb();
  try {
    let m = await open(db.path, { now: () => Date.now() });
    await m.create({
      id: "p",
      name: "p",
      schedule: "0 0 0 1 1 *", // once a year: no tick comes meanwhile
      retries: 2,
      retryDelayMs: 1500,
      action: { type: "function", name: "fail" },
    });
    await m.runNow("p");
    await waitFor(() => m.get("p").runCount === 1, { what: "first attempt" });
    await m.shutdown({ graceMs: 0 }); // the retry was a timer of this process
    m = await open(db.path, { now: () => Date.now() });
    try {
      await waitFor(() => m.get("p").runCount === 3, {
        what: "the two retries after the restart",
      });
      assertEquals(
        (await runsOf(m, "p")).map((r) => [r.trigger, r.attempt, r.status]),
        [["manual", 1, "failed"], ["retry", 2, "failed"], [
          "retry",
          3,
          "failed",
        ]],
      );
      assertEquals(m.get("p").status, "scheduled", "its schedule goes on");
    } finally {
      await m.shutdown();
    }
  } finally {
    await db.cleanup();
  }
});

/** A clock that reads `at` now and runs on in real time. */
const clockAt = (at: string): Clock => {
  const offset = Date.parse(at) - Date.now();
  return { now: () => Date.now() + offset };
};

async function runsOf(m: Manager, id: string) {
  return (await m.runs(id, { limit: 100 })).runs.reverse();
}

Deno.test("restart across DST fall-back: a 01:30 New York job missed in the first 01:30 does not run in the repeated one", async () => {
  // 2024-11-03: 01:30 EDT = 05:30Z, clocks go back at 06:00Z, 01:30 EST = 06:30Z.
  const db = await tempDb();
  try {
    let m = await open(db.path, clockAt("2024-11-03T05:29:50Z"));
    for (const catchUp of ["skip", "once"]) {
      await m.create({
        id: catchUp,
        name: catchUp,
        schedule: "0 30 1 * * *",
        timezone: "America/New_York",
        catchUp,
        action: noop,
      });
      assertEquals(m.get(catchUp).nextRunAt, "2024-11-03T05:30:00.000Z");
    }
    await m.shutdown();
    // Down from before the first 01:30 to just before the repeated one.
    m = await open(db.path, clockAt("2024-11-03T06:29:58Z"));
    try {
      for (const catchUp of ["skip", "once"]) {
        assertEquals(
          m.get(catchUp).nextRunAt,
          "2024-11-04T06:30:00.000Z",
          `${catchUp}: the next 01:30 is tomorrow's`,
        );
      }
      await waitFor(() => m.get("once").runCount === 1, {
        what: "the startup run",
      });
      // Past the repeated 01:30 (06:30Z), in real time.
      await sleepFor(3000);
      assertEquals(
        (await runsOf(m, "once")).map((r) => r.trigger),
        ["startup"],
      );
      assertEquals(await runsOf(m, "skip"), []);
    } finally {
      await m.shutdown();
    }
  } finally {
    await db.cleanup();
  }
});

Deno.test("restart across DST fall-back after the first 01:30 ran: no second run that night, no startup run", async () => {
  const db = await tempDb();
  try {
    let m = await open(db.path, clockAt("2024-11-03T05:29:58.500Z"));
    await m.create({
      id: "j",
      name: "j",
      schedule: "0 30 1 * * *",
      timezone: "America/New_York",
      catchUp: "once",
      action: noop,
    });
    await waitFor(() => m.get("j").runCount === 1, {
      what: "the run at the first 01:30",
    });
    await m.shutdown();
    m = await open(db.path, clockAt("2024-11-03T06:29:58.500Z"));
    try {
      assertEquals(m.get("j").nextRunAt, "2024-11-04T06:30:00.000Z");
      await sleepFor(2500);
      const runs = await runsOf(m, "j");
      assertEquals(
        runs.map((r) => [r.trigger, r.scheduledFor]),
        [["schedule", "2024-11-03T05:30:00.000Z"]],
      );
    } finally {
      await m.shutdown();
    }
  } finally {
    await db.cleanup();
  }
});

Deno.test("restart across DST spring-forward: a 02:30 job due at the jump (03:00 EDT) catches up once or skips; the next is 02:30 EDT", async () => {
  // 2024-03-10: 02:00-03:00 EST does not exist; 02:30 fires at 03:00 EDT = 07:00Z.
  const db = await tempDb();
  try {
    let m = await open(db.path, clockAt("2024-03-10T06:50:00Z"));
    for (const catchUp of ["skip", "once"]) {
      await m.create({
        id: catchUp,
        name: catchUp,
        schedule: "0 30 2 * * *",
        timezone: "America/New_York",
        catchUp,
        action: noop,
      });
      assertEquals(m.get(catchUp).nextRunAt, "2024-03-10T07:00:00.000Z");
    }
    await m.create({
      id: "once-skipped-wall",
      name: "one-time in the skipped hour",
      schedule: "2024-03-10 02:30:00 America/New_York",
      action: noop,
    });
    assertEquals(
      m.get("once-skipped-wall").nextRunAt,
      "2024-03-10T07:00:00.000Z",
    );
    await m.shutdown();
    m = await open(db.path, clockAt("2024-03-10T07:00:30Z"));
    try {
      await waitFor(() =>
        m.get("once").runCount === 1 &&
        m.get("once-skipped-wall").status === "complete"
      );
      for (const catchUp of ["skip", "once"]) {
        assertEquals(m.get(catchUp).nextRunAt, "2024-03-11T06:30:00.000Z");
      }
      assertEquals(
        (await runsOf(m, "once")).map((r) => r.trigger),
        ["startup"],
      );
      assertEquals(await runsOf(m, "skip"), []);
      assertEquals(
        (await runsOf(m, "once-skipped-wall")).map((
          r,
        ) => [r.trigger, r.scheduledFor]),
        [["schedule", "2024-03-10T07:00:00.000Z"]],
      );
    } finally {
      await m.shutdown();
    }
    // And again later: nothing runs twice.
    m = await open(db.path, clockAt("2024-03-10T09:00:00Z"));
    try {
      await sleepFor(300);
      assertEquals((await runsOf(m, "once-skipped-wall")).length, 1);
      assertEquals((await runsOf(m, "once")).length, 1);
    } finally {
      await m.shutdown();
    }
  } finally {
    await db.cleanup();
  }
});

Deno.test("restart across DST fall-back: an every-30-minutes job catches up once and keeps real-time spacing; a one-time job at the repeated 01:30 runs once", async () => {
  const db = await tempDb();
  try {
    let m = await open(db.path, clockAt("2024-11-03T04:45:00Z"));
    await m.create({
      id: "half-hourly",
      name: "half-hourly",
      schedule: "0 */30 * * * *",
      timezone: "America/New_York",
      catchUp: "once",
      action: noop,
    });
    assertEquals(m.get("half-hourly").nextRunAt, "2024-11-03T05:00:00.000Z");
    await m.create({
      id: "at-0130",
      name: "at the ambiguous 01:30",
      schedule: "2024-11-03 01:30:00 America/New_York",
      action: noop,
    });
    // The repeated wall time means its first (EDT) instant.
    assertEquals(m.get("at-0130").nextRunAt, "2024-11-03T05:30:00.000Z");
    await m.shutdown();
    // Down through 01:00 EDT, 01:30 EDT, 01:00 EST and 01:30 EST.
    m = await open(db.path, clockAt("2024-11-03T06:40:00Z"));
    try {
      await waitFor(() =>
        m.get("half-hourly").runCount === 1 &&
        m.get("at-0130").status === "complete"
      );
      assertEquals(
        (await runsOf(m, "half-hourly")).map((r) => r.trigger),
        ["startup"],
        "one startup run for four missed ticks",
      );
      assertEquals(
        m.get("half-hourly").nextRunAt,
        "2024-11-03T07:00:00.000Z",
        "02:00 EST, 30 real minutes after 01:30 EST",
      );
      assertEquals(
        (await runsOf(m, "at-0130")).map((r) => [r.trigger, r.scheduledFor]),
        [["schedule", "2024-11-03T05:30:00.000Z"]],
      );
    } finally {
      await m.shutdown();
    }
  } finally {
    await db.cleanup();
  }
});
