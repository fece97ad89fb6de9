/**
 * The planner (lib/jobpro/planner.ts) on its own: next ticks, planning a
 * first run, the timer queue, and the claims of ticks as they are committed
 * in the store. Each test drives the planner's functions directly over a
 * real engine state (tests/jobpro/engine_fixture.ts); the clock stands still
 * unless the test moves it, so no timer fires behind a test's back.
 */
import { assert, assertEquals, assertGreaterOrEqual } from "@std/assert";
import { changeJob, createJob } from "@/lib/jobpro/operations.ts";
import {
  arm,
  disarm,
  moveNext,
  nextTick,
  onDue,
  planned,
} from "@/lib/jobpro/planner.ts";
import { pausePlan, updatePlan } from "@/lib/jobpro/plans.ts";
import { RETRY_KEY } from "@/lib/jobpro/state.ts";
import { waitFor } from "../helpers.ts";
import {
  DAY,
  HOUR,
  job,
  MIN,
  onetime,
  putJobs,
  realClock,
  runsDone,
  SEC,
  T0,
  withEngine,
  writeStore,
} from "./engine_fixture.ts";

const count = (tag: string) =>
  ({ type: "function", name: "count", params: { tag } }) as const;

Deno.test("planner: nextTick is the first tick strictly after `after`, memoized per schedule and zone", async () => {
  await withEngine({}, ({ state }) => {
    const every5 = job("a", { schedule: "*/5 * * * *" });
    assertEquals(nextTick(state, every5, T0), T0 + 5 * MIN);
    assertEquals(nextTick(state, every5, T0 + 1), T0 + 5 * MIN);
    assertEquals(nextTick(state, every5, T0 + 5 * MIN), T0 + 10 * MIN);
    // Another job on the same schedule shares the memo.
    nextTick(state, job("b", { schedule: "*/5 * * * *" }), T0);
    assertEquals(state.ticks.size, 1);
    // The zone is part of the key: 09:00 in New York is 14:00 UTC in January.
    const ny = job("c", {
      schedule: "0 9 * * *",
      timezone: "America/New_York",
    });
    assertEquals(nextTick(state, ny, T0), Date.UTC(2024, 0, 15, 14));
    assertEquals(
      nextTick(state, job("d", { schedule: "0 9 * * *" }), T0),
      Date.UTC(2024, 0, 16, 9),
    );
    assertEquals(state.ticks.size, 3);
    assertEquals(
      nextTick(state, job("e", { schedule: "@every 10m" }), T0),
      T0 + 10 * MIN,
    );
  });
});

Deno.test("planner: nextTick of a late scheduler moves on to the first tick still ahead, no backlog", async () => {
  await withEngine({}, ({ state }) => {
    const every5 = job("a", { schedule: "*/5 * * * *" });
    // Due at T0 + 5 min, asked 12 minutes late: the next tick is the one at 15.
    assertEquals(
      nextTick(state, every5, T0, T0 + 12 * MIN + 30 * SEC),
      T0 + 15 * MIN,
    );
    // Not late: `now` before the next tick changes nothing.
    assertEquals(nextTick(state, every5, T0, T0 + MIN), T0 + 5 * MIN);
    const every = job("b", { schedule: "@every 10m" });
    assertEquals(nextTick(state, every, T0, T0 + 25 * MIN), T0 + 30 * MIN);
  });
});

Deno.test("planner: planned gives a started job its first run", async () => {
  await withEngine({}, ({ state }) => {
    const now = T0 + 30 * SEC;
    assertEquals(
      planned(state, job("p", { nextRunAt: null }), now).nextRunAt,
      T0 + MIN,
    );
    // Manual (no schedule): runs when it is started.
    assertEquals(planned(state, onetime("m"), now).nextRunAt, now);
    assertEquals(
      planned(state, onetime("at", { schedule: "2024-01-20T08:00:00Z" }), now)
        .nextRunAt,
      Date.UTC(2024, 0, 20, 8),
    );
    // Relative: counted from when it starts.
    assertEquals(
      planned(state, onetime("in", { schedule: "in 10m" }), now).nextRunAt,
      now + 10 * MIN,
    );
    const j = job("same");
    const p = planned(state, j, now);
    assert(p !== j, "a copy, the job itself untouched");
    assertEquals(j.nextRunAt, T0 + MIN);
  });
});

Deno.test("planner: arm keeps one timer per armed job at its nextRunAt; disarm drops it and any retry", async () => {
  await withEngine({}, async ({ state }) => {
    const e = await createJob(state, job("a", { nextRunAt: T0 + MIN }));
    assertEquals(state.timers.get("a"), T0 + MIN, "armed once created");
    e.job = { ...e.job, nextRunAt: T0 + 2 * MIN };
    arm(state, e);
    assertEquals(state.timers.get("a"), T0 + 2 * MIN, "moved, not doubled");
    assertEquals(state.timers.size, 1);
    e.job = { ...e.job, status: "running" };
    arm(state, e);
    assertEquals(
      state.timers.get("a"),
      T0 + 2 * MIN,
      "a running job stays armed",
    );
    e.job = { ...e.job, status: "paused" };
    arm(state, e);
    assertEquals(state.timers.get("a"), undefined, "paused: no timer");
    e.job = { ...e.job, status: "scheduled", nextRunAt: null };
    arm(state, e);
    assertEquals(state.timers.get("a"), undefined, "nothing next: no timer");

    e.job = { ...e.job, nextRunAt: T0 + MIN };
    arm(state, e);
    e.retryAttempt = 2;
    state.timers.set(RETRY_KEY + "a", T0 + 30 * SEC);
    disarm(state, e);
    assertEquals(state.timers.size, 0);
    assertEquals(e.retryAttempt, null);
  });
});

Deno.test("planner: moveNext claims the next run time in the store; claims of one job in one batch chain", async () => {
  await withEngine({
    seed: (store) => putJobs(store, [job("a", { nextRunAt: T0 + MIN })]),
  }, async (engine) => {
    const { state } = engine;
    const e = engine.entry("a");
    const first = moveNext(state, e, T0 + 2 * MIN);
    const second = moveNext(state, e, T0 + 3 * MIN);
    assertEquals(e.job.nextRunAt, T0 + 3 * MIN, "in memory at once");
    assert(state.writer.isPending("a"));
    assertEquals(await Promise.all([first, second]), [true, true]);
    assertEquals((await engine.stored("a"))?.job.nextRunAt, T0 + 3 * MIN);
    assertEquals((await engine.stored("a"))?.job.version, 1, "not a put");
  });
});

Deno.test("planner: a claim the store refuses is logged and leaves the job disarmed", async () => {
  await withEngine({
    seed: (store) => putJobs(store, [job("a", { nextRunAt: T0 + MIN })]),
  }, async (engine) => {
    const { state, store } = engine;
    const e = engine.entry("a");
    assertEquals(state.timers.get("a"), T0 + MIN);
    // Someone else moved the stored time on: the engine's tick is stale.
    const other = await writeStore(store, {
      claims: [{ jobId: "a", tick: T0 + MIN, next: T0 + 5 * MIN }],
    });
    assertEquals(other.claims, [true]);
    assertEquals(await moveNext(state, e, T0 + 2 * MIN), false);
    assertEquals(state.timers.get("a"), undefined, "disarmed");
    assertEquals(engine.logged("error", "job a: its claim of").length, 1);
    assertEquals((await engine.stored("a"))?.job.nextRunAt, T0 + 5 * MIN);
  });
});

Deno.test("planner: onDue claims a periodic job's next tick, re-arms it, and fires the tick", async () => {
  await withEngine({
    seed: (store) =>
      putJobs(store, [job("a", { nextRunAt: T0 + MIN, action: count("a") })]),
  }, async (engine) => {
    const { state, clock } = engine;
    clock.set(T0 + MIN);
    await onDue(state, "a", T0 + MIN);
    const e = engine.entry("a");
    assertEquals(e.job.nextRunAt, T0 + 2 * MIN);
    assertEquals(state.timers.get("a"), T0 + 2 * MIN);
    await runsDone(e); // its action starts once its start is committed
    assertEquals(engine.calls, ["a"]);
    await state.writer.flush();
    const stored = await engine.stored("a");
    assertEquals(stored?.job.nextRunAt, T0 + 2 * MIN, "the claim is committed");
    assertEquals(stored?.job.status, "scheduled");
    assertEquals(stored?.counts.runs, 1);
    const runs = await engine.runs("a");
    assertEquals(
      runs.map((r) => [r.trigger, r.scheduledFor, r.attempt, r.status]),
      [["schedule", T0 + MIN, 1, "complete"]],
    );
  });
});

Deno.test("planner: onDue ignores a tick that is not the job's, a job not armed, and a closing engine", async () => {
  await withEngine({
    seed: (store) =>
      putJobs(store, [
        job("a", { nextRunAt: T0 + MIN, action: count("a") }),
        job("p", { status: "paused", nextRunAt: T0 + MIN, action: count("p") }),
      ]),
  }, async (engine) => {
    const { state, clock } = engine;
    clock.set(T0 + MIN);
    await onDue(state, "a", T0); // an old timer's tick
    await onDue(state, "p", T0 + MIN);
    await onDue(state, "nobody", T0 + MIN);
    state.closing = true; // as at shutdown: no new runs
    await onDue(state, "a", T0 + MIN);
    state.closing = false;
    assertEquals(engine.calls, []);
    assertEquals(engine.entry("a").job.nextRunAt, T0 + MIN, "not moved");
    assertEquals(state.nextRunId, 1, "no run made");
  });
});

Deno.test("planner: a one-time job's action waits until its claim is committed", async () => {
  await withEngine({
    // Nothing is written unless someone waits for it: the test decides when.
    commitIntervalMs: 60_000,
    seed: (store) =>
      putJobs(store, [
        onetime("o", { nextRunAt: T0 + HOUR, action: count("o") }),
      ]),
  }, async (engine) => {
    const { state, clock } = engine;
    clock.set(T0 + HOUR);
    await onDue(state, "o", T0 + HOUR);
    const e = engine.entry("o");
    assertEquals(e.job.nextRunAt, null, "claimed in memory");
    assertEquals(e.running.size, 1, "the run is going");
    assertEquals(engine.calls, [], "but its action waits for the claim");
    assertEquals((await engine.stored("o"))?.job.nextRunAt, T0 + HOUR);
    const [going] = e.running.values();
    await state.writer.flush();
    await going.done;
    assertEquals(engine.calls, ["o"]);
    await state.writer.flush();
    const stored = await engine.stored("o");
    assertEquals(stored?.job.nextRunAt, null);
    assertEquals(stored?.job.status, "complete");
  });
});

Deno.test("planner: a one-time tick another claimed first never runs its action", async () => {
  await withEngine({
    seed: (store) =>
      putJobs(store, [
        onetime("o", { nextRunAt: T0 + HOUR, action: count("o") }),
      ]),
  }, async (engine) => {
    const { state, store, clock } = engine;
    await writeStore(store, {
      claims: [{ jobId: "o", tick: T0 + HOUR, next: null }],
    });
    clock.set(T0 + HOUR);
    await onDue(state, "o", T0 + HOUR);
    const [going] = engine.entry("o").running.values();
    await going?.done;
    await state.writer.flush();
    assertEquals(engine.calls, []);
    const [run] = await engine.runs("o");
    assertEquals(run.status, "cancelled");
    assertEquals(run.error, "its tick was claimed by another");
    assertEquals(engine.logged("error", "was refused").length, 1);
  });
});

Deno.test("planner: a tick whose claim is still being written waits for it before firing", async () => {
  await withEngine({
    commitIntervalMs: 60_000,
    seed: (store) =>
      putJobs(store, [job("a", { nextRunAt: T0 + MIN, action: count("a") })]),
  }, async (engine) => {
    const { state, clock } = engine;
    const e = engine.entry("a");
    // The claim of the tick at T0 + 2 min is queued, not yet committed.
    void moveNext(state, e, T0 + 2 * MIN);
    assert(state.writer.isPending("a"));
    assertEquals((await engine.stored("a"))?.job.nextRunAt, T0 + MIN);
    clock.set(T0 + 2 * MIN);
    await onDue(state, "a", T0 + 2 * MIN);
    await runsDone(e);
    assertEquals(engine.calls, ["a"], "fired");
    // Nothing commits by itself here: onDue wrote the claim before firing,
    // and the run's start went with the next claim before its action ran.
    assertEquals(e.job.nextRunAt, T0 + 3 * MIN, "the next claim");
    assertEquals((await engine.stored("a"))?.job.nextRunAt, T0 + 3 * MIN);
    assertEquals((await engine.runs("a")).map((r) => r.scheduledFor), [
      T0 + 2 * MIN,
    ]);
  });
});

/**
 * Starts an operation on the job; resolves once it is being committed
 * (planned, the entry busy, the write not yet done), with its promise.
 */
async function committing(
  state: Parameters<typeof changeJob>[0],
  id: string,
  plan: Parameters<typeof changeJob>[2],
) {
  let planning!: () => void;
  const planned = new Promise<void>((r) => (planning = r));
  const done = changeJob(state, id, (job, now) => {
    planning();
    return plan(job, now);
  });
  // The plan ran synchronously before the write was queued: from here the
  // entry is busy until the write, a later macrotask, is committed.
  await planned;
  return { done };
}

Deno.test("planner: an operation being committed decides before the tick does", async () => {
  await withEngine({
    seed: (store) =>
      putJobs(store, [
        job("p", { nextRunAt: T0 + MIN, action: count("p") }),
        job("r", { nextRunAt: T0 + MIN, action: count("r") }),
      ]),
  }, async (engine) => {
    const { state, clock } = engine;
    clock.set(T0 + MIN);
    // A pause is being committed when the tick comes due: the tick waits,
    // then finds the job paused.
    const pausing = await committing(
      state,
      "p",
      (job, now) => pausePlan(state, job, now),
    );
    assert(engine.entry("p").busy, "the pause is being committed");
    await onDue(state, "p", T0 + MIN);
    // A rename being committed: the tick fires once it is.
    const renaming = await committing(
      state,
      "r",
      (job, now) => updatePlan(state, job, { name: "renamed" }, now),
    );
    await onDue(state, "r", T0 + MIN);
    assertEquals(
      engine.calls,
      [],
      "neither fired while its operation was pending",
    );
    await Promise.all([pausing.done, renaming.done]);
    await state.writer.flush();
    await runsDone(engine.entry("r"));
    assertEquals(engine.calls, ["r"]);
    assertEquals((await engine.stored("p"))?.job.status, "paused");
    assertEquals((await engine.runs("p")).length, 0);
    assertEquals((await engine.stored("r"))?.job.name, "renamed");
    assertEquals((await engine.runs("r")).length, 1);
  });
});

Deno.test("planner: ticks a late scheduler skipped are counted and logged once per episode", async () => {
  await withEngine({
    seed: (store) =>
      putJobs(store, [job("a", { nextRunAt: T0 + MIN, action: count("a") })]),
  }, async (engine) => {
    const { state, clock } = engine;
    clock.set(T0 + 6 * MIN + 30 * SEC); // five ticks late
    await onDue(state, "a", T0 + MIN);
    const e = engine.entry("a");
    assertEquals(e.job.nextRunAt, T0 + 7 * MIN, "the first tick still ahead");
    assertEquals(e.counts.missed, 5, "ticks at 2..6 min");
    await runsDone(e);
    assertEquals(engine.calls, ["a"], "the due tick itself ran, once");
    const warned = engine.logged("warn", "job a: 5 tick(s) after");
    assertEquals(warned.length, 1);
    await state.writer.flush(); // the run has ended: the next tick is not skipped
    clock.set(T0 + 7 * MIN);
    await onDue(state, "a", T0 + 7 * MIN);
    assertEquals(e.counts.missed, 5);
    assertEquals(
      engine.logged("info", "job a: ticks fire on time again").length,
      1,
    );
    await runsDone(e);
    assertEquals(engine.calls, ["a", "a"]);
    await state.writer.flush();
    assertEquals((await engine.stored("a"))?.job.nextRunAt, T0 + 8 * MIN);
  });
});

Deno.test("planner: the timer queue fires due ticks by itself", async () => {
  await withEngine({ clock: realClock() }, async (engine) => {
    const { state, clock } = engine;
    // Real time, shifted to 30 ms before a whole second.
    clock.set(T0 + DAY - 30);
    await createJob(
      state,
      onetime("soon", {
        nextRunAt: clock.now() + 20,
        action: count("soon"),
      }),
    );
    await createJob(
      state,
      job("tick", {
        schedule: "* * * * * *",
        nextRunAt: T0 + DAY,
        action: count("tick"),
      }),
    );
    await waitFor(
      async () =>
        (await engine.stored("soon"))?.job.status === "complete" &&
        (await engine.stored("tick"))!.job.nextRunAt! >= T0 + DAY + SEC,
      { timeoutMs: 5000, what: "both jobs' timers to fire" },
    );
    assertGreaterOrEqual(engine.calls.filter((c) => c === "tick").length, 1);
    assertEquals(engine.calls.filter((c) => c === "soon"), ["soon"]);
    assertGreaterOrEqual(state.timers.get("tick")!, T0 + DAY + SEC, "re-armed");
  });
});
