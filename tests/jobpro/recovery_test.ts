/**
 * Recovery (lib/jobpro/recovery.ts) on its own: what a start makes of what
 * the last process left in the store. Each test writes that store state
 * straight into a real DuckDB store (jobs, runs still `running`, finished
 * runs), then assembles an engine on it and calls `recover` directly
 * (tests/jobpro/engine_fixture.ts); the clock stands where the test puts it.
 */
import { assert, assertEquals } from "@std/assert";
import { onRetry } from "@/lib/jobpro/runner.ts";
import { recover } from "@/lib/jobpro/recovery.ts";
import { RETRY_KEY } from "@/lib/jobpro/state.ts";
import { waitFor } from "../helpers.ts";
import {
  ended,
  type Engine,
  type EngineOptions,
  finished,
  going,
  HOUR,
  job,
  MIN,
  onetime,
  putJobs,
  SEC,
  T0,
  withEngine,
  writeStore,
} from "./engine_fixture.ts";

const count = (tag: string) =>
  ({ type: "function", name: "count", params: { tag } }) as const;

/** An engine on a store seeded by `seed`, restored by the test itself. */
function restarted(
  seed: EngineOptions["seed"],
  fn: (engine: Engine, interrupted: number) => Promise<void> | void,
  opts: EngineOptions = {},
) {
  return withEngine({ ...opts, seed, recover: false }, async (engine) => {
    await fn(engine, await recover(engine.state));
  });
}

Deno.test('recovery: runs left running become failed "interrupted", counted on their jobs; run ids go on', async () => {
  await restarted(async (store) => {
    await putJobs(store, [
      job("a", { status: "running", nextRunAt: T0 + MIN }),
      job("b", { nextRunAt: T0 + MIN }),
    ]);
    await writeStore(store, {
      finished: [finished(3, "a", T0 - HOUR)],
      started: [going(7, "a", T0 - MIN), going(8, "b", T0 - 2 * MIN)],
    });
  }, async (engine, interrupted) => {
    assertEquals(interrupted, 2);
    for (
      const [jobId, id, startedAt] of [["a", 7, T0 - MIN], [
        "b",
        8,
        T0 - 2 * MIN,
      ]] as const
    ) {
      const run = await engine.store.getRun(jobId, id);
      assertEquals(
        [run?.status, run?.error, run?.endedAt, run?.durationMs],
        ["failed", "interrupted", T0, T0 - startedAt],
      );
      assertEquals(
        engine.logged("warn", `job ${jobId} run ${id} was interrupted`).length,
        1,
      );
    }
    // Counted as a finished run would have been, before the jobs were loaded.
    const a = await engine.stored("a");
    assertEquals([a?.counts.runs, a?.counts.successes], [2, 1]);
    assertEquals(a?.counts.lastRun?.id, 7);
    assertEquals(engine.entry("a").counts.runs, 2);
    assertEquals(engine.state.nextRunId, 9, "after the highest stored run");
    assertEquals((await engine.store.listRuns("a")).total, 2, "none running");
  });
});

Deno.test("recovery: a job left running goes back to scheduled (periodic) or failed (one-time)", async () => {
  await restarted(async (store) => {
    await putJobs(store, [
      job("p", { status: "running", nextRunAt: T0 + MIN }),
      onetime("o", { status: "running", nextRunAt: null }),
      // Died while its retry was being claimed: the retry is dropped too.
      onetime("r", { status: "running", nextRunAt: T0 + MIN, retries: 2 }),
    ]);
  }, async (engine) => {
    const { state } = engine;
    assertEquals(engine.entry("p").job.status, "scheduled");
    assertEquals(state.timers.get("p"), T0 + MIN, "armed for its tick");
    for (const id of ["o", "r"]) {
      const e = engine.entry(id);
      assertEquals([e.job.status, e.job.nextRunAt], ["failed", null]);
      assertEquals(state.timers.get(id), undefined);
      const stored = await engine.stored(id);
      assertEquals([stored?.job.status, stored?.job.nextRunAt], [
        "failed",
        null,
      ]);
    }
    assertEquals((await engine.stored("p"))?.job.status, "scheduled");
    assertEquals(state.nextRunId, 1, "nothing fired");
  });
});

Deno.test("recovery: a periodic job whose tick passed while down moves on without running it", async () => {
  await restarted(async (store) => {
    await putJobs(store, [
      job("late", { nextRunAt: T0 - 10 * MIN, action: count("late") }),
      job("never", { nextRunAt: null, action: count("never") }),
      job("ahead", { nextRunAt: T0 + 5 * MIN, action: count("ahead") }),
    ]);
  }, async (engine) => {
    const { state } = engine;
    const expected = { late: T0 + MIN, never: T0 + MIN, ahead: T0 + 5 * MIN };
    for (const [id, next] of Object.entries(expected)) {
      assertEquals(engine.entry(id).job.nextRunAt, next, id);
      assertEquals(state.timers.get(id), next, `${id} armed`);
      // recover() flushed: the claims are committed.
      assertEquals((await engine.stored(id))?.job.nextRunAt, next, id);
    }
    assertEquals(engine.calls, []);
    assertEquals((await engine.store.listRuns("late")).total, 0);
  });
});

Deno.test('recovery: catchUp "once" makes one startup run when ticks were missed, none otherwise', async () => {
  await restarted(async (store) => {
    await putJobs(store, [
      job("c", {
        schedule: "* * * * * *", // sixty ticks a minute, all missed
        nextRunAt: T0 - 10 * MIN,
        catchUp: "once",
        action: count("c"),
      }),
      job("onTime", {
        nextRunAt: T0 + MIN,
        catchUp: "once",
        action: count("onTime"),
      }),
      job("skip", { nextRunAt: T0 - 10 * MIN, action: count("skip") }),
    ]);
  }, async (engine) => {
    await engine.state.writer.flush();
    assertEquals(engine.calls, ["c"]);
    const runs = await engine.runs("c");
    assertEquals(
      runs.map((r) => [r.trigger, r.scheduledFor, r.attempt, r.status]),
      [["startup", T0, 1, "complete"]],
    );
    assertEquals(engine.entry("c").job.nextRunAt, T0 + SEC);
    assertEquals((await engine.stored("c"))?.job.status, "scheduled");
  });
});

Deno.test("recovery: a one-time job that came due while down runs once", async () => {
  await restarted(async (store) => {
    await putJobs(store, [
      onetime("d", {
        schedule: "2024-01-15T11:00:00Z",
        nextRunAt: T0 - HOUR,
        action: count("d"),
      }),
      onetime("later", { nextRunAt: T0 + HOUR, action: count("later") }),
    ]);
  }, async (engine) => {
    // Armed for a time already past: the timer queue fires it at once.
    await waitFor(
      async () => (await engine.stored("d"))?.job.status === "complete",
      { timeoutMs: 5000, what: "the due job to run" },
    );
    assertEquals(engine.calls, ["d"]);
    const runs = await engine.runs("d");
    assertEquals(
      runs.map((r) => [r.trigger, r.scheduledFor, r.status]),
      [["schedule", T0 - HOUR, "complete"]],
    );
    assertEquals((await engine.stored("d"))?.job.nextRunAt, null);
    assertEquals(engine.state.timers.get("later"), T0 + HOUR);
  });
});

Deno.test("recovery: a one-time job waiting to retry keeps its attempt count", async () => {
  await restarted(async (store) => {
    await putJobs(store, [
      onetime("r", {
        nextRunAt: T0 + 10 * SEC,
        retries: 3,
        retryDelayMs: 1000,
        action: { type: "function", name: "fail" },
      }),
      // Out of retries, then started again: its next run is a first attempt.
      onetime("again", {
        nextRunAt: T0 + HOUR,
        retries: 1,
        action: count("again"),
      }),
    ]);
    await writeStore(store, {
      finished: [
        finished(1, "r", T0 - 2 * MIN, { status: "failed" }),
        finished(2, "r", T0 - MIN, {
          status: "failed",
          trigger: "retry",
          attempt: 2,
        }),
        finished(3, "again", T0 - MIN, {
          status: "failed",
          trigger: "retry",
          attempt: 2,
        }),
      ],
    });
  }, async (engine) => {
    const { state, clock } = engine;
    const e = engine.entry("r");
    assertEquals(e.retryAttempt, 3);
    assertEquals(state.timers.get(RETRY_KEY + "r"), T0 + 10 * SEC);
    assertEquals(state.timers.get("r"), undefined, "not armed as a first run");
    assertEquals(engine.entry("again").retryAttempt, null);
    assertEquals(state.timers.get("again"), T0 + HOUR);

    clock.set(T0 + 10 * SEC);
    state.timers.delete(RETRY_KEY + "r"); // as the timer queue does when it fires
    onRetry(state, "r", T0 + 10 * SEC);
    const [run] = [...e.running.values()].map((g) => g.run);
    const done = await ended(engine, "r", run);
    assertEquals(
      [done.trigger, done.attempt, done.scheduledFor, done.status],
      ["retry", 3, T0 + 10 * SEC, "failed"],
    );
    assertEquals(e.retryAttempt, 4, "one retry left");
    assertEquals(e.job.status, "scheduled");
  });
});

Deno.test("recovery: jobs not scheduled are restored as they were, without timers", async () => {
  await restarted(async (store) => {
    await putJobs(store, [
      job("paused", { status: "paused", nextRunAt: null }),
      onetime("pausedOnce", { status: "paused", nextRunAt: T0 - HOUR }),
      job("stopped", { status: "stopped", nextRunAt: null }),
      onetime("created", { status: "created", nextRunAt: null }),
      onetime("complete", { status: "complete", nextRunAt: null }),
    ]);
  }, (engine) => {
    const { state } = engine;
    assertEquals([...state.entries.keys()].sort(), [
      "complete",
      "created",
      "paused",
      "pausedOnce",
      "stopped",
    ]);
    assertEquals(state.timers.size, 0);
    assertEquals(engine.entry("pausedOnce").job.nextRunAt, T0 - HOUR, "kept");
    assertEquals(engine.entry("paused").job.status, "paused");
    assertEquals(state.nextRunId, 1);
  });
});

Deno.test("recovery: a job stored under an id now reserved is restored, still runs, and is named in a warning", async () => {
  await restarted(async (store) => {
    await putJobs(store, [
      onetime("schedule", {
        nextRunAt: T0 - MIN,
        action: count("schedule"),
      }),
      job("Metrics", { nextRunAt: T0 + MIN }),
      job("plain", { nextRunAt: T0 + MIN }),
    ]);
  }, async (engine) => {
    const reserved = engine.logs.filter((l) =>
      l.message.includes("its id is now reserved")
    );
    assertEquals(reserved.map((l) => l.level), ["warn", "warn"]);
    assert(reserved.some((l) => l.message.startsWith("job schedule: ")));
    assert(
      reserved.some((l) => l.message.startsWith("job Metrics: ")),
      "reserved ids are matched without case",
    );
    assertEquals(engine.logs.filter((l) => l.message.includes("plain")), []);
    assertEquals(engine.state.timers.get("Metrics"), T0 + MIN, "armed");
    await waitFor(
      async () => (await engine.stored("schedule"))?.job.status === "complete",
      { timeoutMs: 5000, what: "the reserved job's run" },
    );
    assertEquals(engine.calls, ["schedule"]);
  }, { reservedIds: ["schedule", "metrics", "stream"] });
});
