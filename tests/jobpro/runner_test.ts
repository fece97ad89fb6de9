/**
 * The runner (lib/jobpro/runner.ts) on its own: firing runs, overlap,
 * timeouts, cancellation, settling results in the store, and retries with
 * backoff. Each test calls the runner's functions directly over a real
 * engine state (tests/jobpro/engine_fixture.ts), whose runs execute the
 * registry's real functions; the http tests fetch from a real local server.
 */
import {
  assert,
  assertEquals,
  assertGreaterOrEqual,
  assertLess,
  assertStringIncludes,
} from "@std/assert";
import { changeJob, deleteJob } from "@/lib/jobpro/operations.ts";
import { pausePlan, startPlan } from "@/lib/jobpro/plans.ts";
import { moveNext, onDue } from "@/lib/jobpro/planner.ts";
import type { Run } from "@/lib/jobpro/run.ts";
import { abortRuns, fire, onRetry } from "@/lib/jobpro/runner.ts";
import { Abort, type Entry, RETRY_KEY } from "@/lib/jobpro/state.ts";
import { localServer, waitFor } from "../helpers.ts";
import {
  ended,
  type Engine,
  finished,
  HOUR,
  job,
  MIN,
  onetime,
  putJobs,
  T0,
  withEngine,
  writeStore,
} from "./engine_fixture.ts";

const count = (tag: string) =>
  ({ type: "function", name: "count", params: { tag } }) as const;
const gate = { type: "function", name: "gate" } as const;
const fail = (message: string) =>
  ({ type: "function", name: "fail", params: { message } }) as const;

/** The runs of the job going now. */
const goingRuns = (e: Entry): Run[] =>
  [...e.running.values()].map((g) => g.run);

/** The one run of the job going now. */
function theRun(e: Entry): Run {
  const runs = goingRuns(e);
  assertEquals(runs.length, 1, `one run of ${e.job.id} going`);
  return runs[0];
}

Deno.test("runner: a fired run is recorded while it goes, runs its action, and ends complete", async () => {
  await withEngine({
    seed: (store) =>
      putJobs(store, [job("a", { nextRunAt: T0 + HOUR, action: gate })]),
  }, async (engine) => {
    const { state, clock } = engine;
    const e = engine.entry("a");
    clock.set(T0 + 1);
    const run = fire(state, e, "manual", null, 1);
    assert(run);
    assertEquals(
      [run.status, run.trigger, run.attempt, run.startedAt, run.scheduledFor],
      ["running", "manual", 1, T0 + 1, null],
    );
    assertEquals(e.running.size, 1);
    assertEquals(state.activeRuns, 1);
    assertEquals(e.job.status, "running", "a scheduled job is running now");
    assertEquals(e.counts.lastRun?.id, run.id);
    await state.writer.flush();
    assertEquals((await engine.runs("a")).map((r) => r.status), ["running"]);
    assertEquals((await engine.stored("a"))?.job.status, "running");
    engine.gate.open();
    const done = await ended(engine, "a", run);
    assertEquals([done.status, done.message], ["complete", "through the gate"]);
    assertEquals([e.running.size, state.activeRuns], [0, 0]);
    assertEquals((await engine.stored("a"))?.job.status, "scheduled");
    assertEquals(
      engine.logged("info", `job a run ${run.id}: through`).length,
      1,
    );
  });
});

Deno.test("runner: settling moves the store's counters by deltas, not by the counts in memory", async () => {
  await withEngine({
    seed: (store) =>
      putJobs(store, [job("a", { nextRunAt: T0 + HOUR, action: count("a") })]),
  }, async (engine) => {
    const { state, store } = engine;
    const e = engine.entry("a");
    // Another writer records a failed run the engine does not know of.
    await writeStore(store, {
      finished: [finished(900, "a", T0 - MIN, { status: "failed" })],
    });
    assertEquals(e.counts.runs, 0);
    const run = fire(state, e, "manual", null, 1);
    await ended(engine, "a", run);
    assertEquals([e.counts.runs, e.counts.successes], [1, 1], "in memory");
    const stored = await engine.stored("a");
    assertEquals(
      [stored?.counts.runs, stored?.counts.successes],
      [2, 1],
      "the store's own count plus this run",
    );
    assertEquals(stored?.counts.lastRun?.id, run?.id);
    assertEquals(engine.calls, ["a"]);
  });
});

Deno.test("runner: overlap skip skips (and counts) a scheduled run while one goes; manual runs still go", async () => {
  await withEngine({
    seed: (store) =>
      putJobs(store, [job("s", { nextRunAt: T0 + HOUR, action: gate })]),
  }, async (engine) => {
    const { state } = engine;
    const e = engine.entry("s");
    const first = fire(state, e, "schedule", T0 + MIN, 1);
    assert(first);
    assertEquals(fire(state, e, "schedule", T0 + 2 * MIN, 1), null);
    assertEquals(fire(state, e, "retry", T0 + 2 * MIN, 2), null);
    assertEquals(e.counts.skipped, 2);
    assertEquals(
      engine.logged("info", "job s: tick at 2024-01-15T12:02:00.000Z skipped")
        .length,
      2,
    );
    const manual = fire(state, e, "manual", null, 1);
    assert(manual, "a manual run is never skipped");
    assertEquals(e.running.size, 2);
    engine.gate.open();
    await ended(engine, "s", first);
    await ended(engine, "s", manual);
    assertEquals((await engine.runs("s")).map((r) => r.id), [
      first.id,
      manual.id,
    ]);
  });
});

Deno.test("runner: a one-time job whose only tick is skipped ends with the run that was going", async () => {
  await withEngine({
    seed: (store) =>
      putJobs(store, [
        onetime("o", { status: "created", nextRunAt: null, action: gate }),
      ]),
  }, async (engine) => {
    const { state } = engine;
    const e = engine.entry("o");
    // Run by hand before it is started: the job stays created meanwhile.
    const manual = fire(state, e, "manual", null, 1);
    assertEquals(e.job.status, "created");
    // Started while that run goes: its tick (now) finds it going and is skipped.
    await changeJob(state, "o", (job, now) => startPlan(state, job, now));
    await waitFor(() => e.counts.skipped === 1, { what: "the skipped tick" });
    assertEquals(e.job.nextRunAt, null, "the tick was claimed");
    assertEquals(e.job.status, "running", "not scheduled for nothing");
    engine.gate.open();
    await ended(engine, "o", manual);
    assertEquals(e.job.status, "complete");
    assertEquals((await engine.stored("o"))?.job.status, "complete");
    assertEquals((await engine.runs("o")).length, 1);
  });
});

Deno.test("runner: overlap allow runs side by side; the job is running until the last ends", async () => {
  await withEngine({
    seed: (store) =>
      putJobs(store, [
        job("a", { nextRunAt: T0 + HOUR, overlap: "allow", action: gate }),
      ]),
  }, async (engine) => {
    const { state, gate } = engine;
    const e = engine.entry("a");
    const one = fire(state, e, "schedule", T0 + MIN, 1);
    const two = fire(state, e, "schedule", T0 + 2 * MIN, 1);
    assert(one && two);
    assertEquals([e.running.size, state.activeRuns], [2, 2]);
    // Each action starts once its start is committed.
    await waitFor(() => gate.waiting.length === 2, {
      what: "both at the gate",
    });
    gate.waiting.shift()!();
    await ended(engine, "a", one);
    assertEquals(e.job.status, "running", "one run still going");
    gate.open();
    await ended(engine, "a", two);
    assertEquals(e.job.status, "scheduled");
    assertEquals(
      (await engine.runs("a")).map((r) => r.status),
      ["complete", "complete"],
    );
  });
});

Deno.test("runner: overlap replace cancels the run going for the new one", async () => {
  await withEngine({
    seed: (store) =>
      putJobs(store, [
        job("r", { nextRunAt: T0 + HOUR, overlap: "replace", action: gate }),
      ]),
  }, async (engine) => {
    const { state } = engine;
    const e = engine.entry("r");
    const old = fire(state, e, "schedule", T0 + MIN, 1);
    const fresh = fire(state, e, "schedule", T0 + 2 * MIN, 1);
    assert(old && fresh);
    const replaced = await ended(engine, "r", old);
    assertEquals(
      [replaced.status, replaced.error],
      ["cancelled", "replaced by a newer run"],
    );
    assertEquals(goingRuns(e).map((r) => r.id), [fresh.id]);
    assertEquals(e.job.status, "running");
    engine.gate.open();
    assertEquals((await ended(engine, "r", fresh)).status, "complete");
  });
});

Deno.test("runner: a run over its timeout fails, its action aborted", async () => {
  await withEngine({
    seed: (store) =>
      putJobs(store, [
        job("t", {
          nextRunAt: T0 + HOUR,
          timeoutMs: 50,
          action: { type: "function", name: "sleep", params: { ms: 30_000 } },
        }),
      ]),
  }, async (engine) => {
    const t0 = performance.now();
    const run = fire(engine.state, engine.entry("t"), "manual", null, 1);
    const done = await ended(engine, "t", run);
    assertEquals([done.status, done.error], [
      "failed",
      "timed out after 50 ms",
    ]);
    assertLess(performance.now() - t0, 5000, "the sleep was cut short");
    assertEquals((await engine.stored("t"))?.counts.runs, 1);
  });
});

/**
 * A local server that never finishes an answer: its headers and a first
 * line go out, the rest never does. `abandoned` resolves once the client
 * has given up on the body.
 */
function silentServer() {
  let resolveAbandoned!: () => void;
  const abandoned = new Promise<void>((r) => (resolveAbandoned = r));
  const server = localServer(() =>
    new Response(
      new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode("working on it...\n"));
        },
        cancel() {
          resolveAbandoned();
        },
      }),
    )
  );
  return { ...server, abandoned };
}

Deno.test("runner: an http run over the job's timeout fails and its request is abandoned", async () => {
  const server = silentServer();
  try {
    await withEngine({
      seed: (store) =>
        putJobs(store, [
          job("h", {
            nextRunAt: T0 + HOUR,
            timeoutMs: 100,
            action: { type: "http", method: "GET", url: `${server.url}/slow` },
          }),
        ]),
    }, async (engine) => {
      const run = fire(engine.state, engine.entry("h"), "manual", null, 1);
      const done = await ended(engine, "h", run);
      assertEquals(
        [done.status, done.error],
        ["failed", "timed out after 100 ms"],
      );
      await server.abandoned; // the server saw its client go away
      assertEquals(server.requests.map((r) => new URL(r.url).pathname), [
        "/slow",
      ]);
    });
  } finally {
    await server.close();
  }
});

Deno.test("runner: an http request past the engine's httpTimeoutMs fails the run", async () => {
  const server = silentServer();
  try {
    await withEngine({
      httpTimeoutMs: 100,
      seed: (store) =>
        putJobs(store, [
          job("h", {
            nextRunAt: T0 + HOUR,
            action: { type: "http", method: "GET", url: server.url },
          }),
        ]),
    }, async (engine) => {
      const run = fire(engine.state, engine.entry("h"), "manual", null, 1);
      const done = await ended(engine, "h", run);
      assertEquals(done.status, "failed");
      assertStringIncludes(
        done.error ?? "",
        "no complete answer within 100 ms (JOBPRO_HTTP_TIMEOUT_MS)",
      );
      await server.abandoned;
    });
  } finally {
    await server.close();
  }
});

Deno.test("runner: abortRuns cancels the runs going; one that ignores its abort ends after the kill grace", async () => {
  await withEngine({
    killGraceMs: 50,
    seed: (store) =>
      putJobs(store, [
        job("g", { nextRunAt: T0 + HOUR, overlap: "allow", action: gate }),
        job("h", {
          nextRunAt: T0 + HOUR,
          action: { type: "function", name: "hang" },
        }),
      ]),
  }, async (engine) => {
    const { state } = engine;
    const g = engine.entry("g"), h = engine.entry("h");
    const g1 = fire(state, g, "manual", null, 1);
    const g2 = fire(state, g, "manual", null, 1);
    const h1 = fire(state, h, "manual", null, 1);
    abortRuns(g, new Abort("cancelled", "stopped"));
    abortRuns(h, new Abort("failed", "gave up"));
    for (const run of [g1, g2]) {
      const done = await ended(engine, "g", run);
      assertEquals([done.status, done.error], ["cancelled", "stopped"]);
    }
    const t0 = performance.now();
    const hung = await ended(engine, "h", h1);
    assertEquals([hung.status, hung.error], ["failed", "gave up"]);
    assertLess(performance.now() - t0, 2000);
    assertEquals(state.activeRuns, 0);
  });
});

Deno.test("runner: a run waiting for its claim starts only once the claim is won", async () => {
  await withEngine({
    seed: (store) =>
      putJobs(store, [
        onetime("won", { nextRunAt: T0 + HOUR, action: count("won") }),
        onetime("lost", { nextRunAt: T0 + HOUR, action: count("lost") }),
        onetime("stopped", { nextRunAt: T0 + HOUR, action: count("stopped") }),
      ]),
  }, async (engine) => {
    const { state } = engine;
    const claims = new Map<string, (won: boolean) => void>();
    const claim = (id: string) =>
      new Promise<boolean>((r) => claims.set(id, r));
    const runs = ["won", "lost", "stopped"].map((id) =>
      fire(state, engine.entry(id), "schedule", T0 + HOUR, 1, claim(id))
    );
    assertEquals(engine.calls, [], "no action before its claim");
    abortRuns(engine.entry("stopped"), new Abort("cancelled", "stopped"));
    claims.get("won")!(true);
    claims.get("lost")!(false);
    claims.get("stopped")!(true);
    const [won, lost, stopped] = [
      await ended(engine, "won", runs[0]),
      await ended(engine, "lost", runs[1]),
      await ended(engine, "stopped", runs[2]),
    ];
    assertEquals(engine.calls, ["won"]);
    assertEquals(won.status, "complete");
    assertEquals(
      [lost.status, lost.error],
      ["cancelled", "its tick was claimed by another"],
    );
    assertEquals([stopped.status, stopped.error], ["cancelled", "stopped"]);
  });
});

Deno.test("runner: a deleted job's runs are cancelled and nothing more is recorded for it", async () => {
  await withEngine({
    seed: (store) =>
      putJobs(store, [job("d", { nextRunAt: T0 + HOUR, action: gate })]),
  }, async (engine) => {
    const { state } = engine;
    const e = engine.entry("d");
    const run = fire(state, e, "manual", null, 1);
    assert(run);
    await state.writer.flush();
    await deleteJob(state, "d");
    await e.running.get(run.id)?.done;
    await state.writer.flush();
    assertEquals(e.running.size, 0);
    assertEquals(state.activeRuns, 0);
    assertEquals(await engine.stored("d"), undefined);
    assertEquals(await engine.store.getRun("d", run.id), null);
  });
});

/** Fires the retry of the job that is due, at its time; returns the run. */
async function retryNow(engine: Engine, id: string): Promise<Run> {
  const e = engine.entry(id);
  const due = engine.state.timers.get(RETRY_KEY + id);
  assert(due !== undefined, `a retry of ${id} is waiting`);
  engine.clock.set(due);
  engine.state.timers.delete(RETRY_KEY + id); // as the timer queue does when it fires
  onRetry(engine.state, id, due);
  const run = theRun(e);
  return await ended(engine, id, run);
}

Deno.test("runner: a failing one-time job is retried with growing delays, its retry stored as its next run", async () => {
  await withEngine({
    seed: (store) =>
      putJobs(store, [
        onetime("o", {
          nextRunAt: T0 + HOUR,
          retries: 2,
          retryDelayMs: 1000,
          action: fail("boom"),
        }),
      ]),
  }, async (engine) => {
    const { state, clock } = engine;
    const e = engine.entry("o");
    clock.set(T0 + HOUR);
    await onDue(state, "o", T0 + HOUR);
    const first = await ended(engine, "o", theRun(e));
    assertEquals([first.status, first.error, first.attempt], [
      "failed",
      "boom",
      1,
    ]);

    // Waiting for attempt 2: scheduled, the retry is the job's stored next run.
    assertEquals([e.job.status, e.retryAttempt], ["scheduled", 2]);
    const at2 = e.job.nextRunAt!;
    assertEquals(state.timers.get(RETRY_KEY + "o"), at2);
    const delay1 = at2 - clock.now();
    assertGreaterOrEqual(delay1, 500);
    assertLess(delay1, 1500);
    let stored = await engine.stored("o");
    assertEquals([stored?.job.status, stored?.job.nextRunAt], [
      "scheduled",
      at2,
    ]);

    const second = await retryNow(engine, "o");
    assertEquals(
      [second.status, second.trigger, second.attempt, second.scheduledFor],
      ["failed", "retry", 2, at2],
    );
    assertEquals(e.retryAttempt, 3);
    const delay2 = e.job.nextRunAt! - clock.now();
    assertGreaterOrEqual(delay2, 1000, "twice the base, jittered");
    assertLess(delay2, 3000);

    const third = await retryNow(engine, "o");
    assertEquals([third.status, third.attempt], ["failed", 3]);
    // Out of retries: the job has failed, nothing waits.
    assertEquals([e.job.status, e.retryAttempt], ["failed", null]);
    assertEquals(state.timers.get(RETRY_KEY + "o"), undefined);
    stored = await engine.stored("o");
    assertEquals([stored?.job.status, stored?.job.nextRunAt], ["failed", null]);
    assertEquals([stored?.counts.runs, stored?.counts.successes], [3, 0]);
    assertEquals(
      (await engine.runs("o")).map((r) => [r.trigger, r.attempt, r.status]),
      [["schedule", 1, "failed"], ["retry", 2, "failed"], [
        "retry",
        3,
        "failed",
      ]],
    );
  });
});

Deno.test("runner: a periodic job's retry waits on the timer only; its next tick stays claimed", async () => {
  await withEngine({
    seed: (store) =>
      putJobs(store, [
        job("p", {
          nextRunAt: T0 + HOUR,
          retries: 1,
          retryDelayMs: 10,
          action: fail("nope"),
        }),
      ]),
  }, async (engine) => {
    const { state } = engine;
    const e = engine.entry("p");
    await ended(engine, "p", fire(state, e, "schedule", T0 + MIN, 1));
    assertEquals(e.retryAttempt, 2);
    assert(state.timers.get(RETRY_KEY + "p") !== undefined);
    assertEquals(e.job.nextRunAt, T0 + HOUR, "the tick is not moved");
    assertEquals((await engine.stored("p"))?.job.nextRunAt, T0 + HOUR);
    assertEquals(e.job.status, "scheduled");
    const retry = await retryNow(engine, "p");
    assertEquals([retry.trigger, retry.attempt, retry.status], [
      "retry",
      2,
      "failed",
    ]);
    assertEquals(e.retryAttempt, null, "out of retries");
    assertEquals(state.timers.get(RETRY_KEY + "p"), undefined);
    assertEquals(state.timers.get("p"), T0 + HOUR, "still armed for its tick");
  });
});

Deno.test("runner: a retry does not fire for a job no longer armed", async () => {
  await withEngine({
    seed: (store) =>
      putJobs(store, [
        onetime("o", {
          nextRunAt: T0 + HOUR,
          retries: 3,
          retryDelayMs: 10,
          action: fail("boom"),
        }),
      ]),
  }, async (engine) => {
    const { state } = engine;
    const e = engine.entry("o");
    const claimed = moveNext(state, e, null);
    await ended(engine, "o", fire(state, e, "schedule", T0 + HOUR, 1, claimed));
    assertEquals(e.retryAttempt, 2);
    const due = e.job.nextRunAt!;
    await changeJob(state, "o", (job, now) => pausePlan(state, job, now));
    assertEquals(state.timers.get(RETRY_KEY + "o"), undefined, "disarmed");
    // A retry timer that fired anyway (it was already due) finds nothing to run.
    onRetry(state, "o", due);
    assertEquals(e.running.size, 0);
    assertEquals(state.nextRunId, 2, "no run made");
    assertEquals((await engine.stored("o"))?.job.status, "paused");
  });
});

Deno.test("runner: a job with no notify rules and no server default does no alert work when its runs finish", async () => {
  await withEngine({
    seed: (store) =>
      putJobs(store, [
        job("ok", { nextRunAt: T0 + HOUR, action: count("ok") }),
        job("bad", { nextRunAt: T0 + HOUR, action: fail("no") }),
      ]),
  }, async (engine) => {
    const { state } = engine;
    // The server's defaults, empty, telling whether alert rows were looked for.
    const reads: PropertyKey[] = [];
    state.settings.notifyDefaults = new Proxy([], {
      get(target, key, receiver) {
        if (key !== "length") reads.push(key);
        return Reflect.get(target, key, receiver);
      },
    });
    for (const id of ["ok", "bad"]) {
      const run = fire(state, engine.entry(id), "manual", null, 1);
      assert(run);
      await ended(engine, id, run);
    }
    await state.writer.flush();
    assertEquals(reads, [], "alert rows were made for a job with no rules");
    assertEquals(
      (await Promise.all(
        ["ok", "bad"].map((id) => state.store.listDeliveries(id)),
      )).flat(),
      [],
    );
  });
});

Deno.test("runner: a start the store refuses gives its slot of the cap back: a run queued meanwhile starts", async () => {
  await withEngine({
    maxConcurrentRuns: 1,
    seed: (store) =>
      putJobs(store, [
        onetime("refused", { nextRunAt: T0 + HOUR, action: count("refused") }),
        job("waits", { nextRunAt: T0 + HOUR, action: count("waits") }),
      ]),
  }, async (engine) => {
    const { state, store } = engine;
    // The store refuses the start of "refused" (as a fence does: the tick
    // is another node's); it is decided once the test answers its claim.
    const write = store.write.bind(store);
    store.write = (batch) => {
      batch.started = batch.started.filter((r) => r.jobId !== "refused");
      return write(batch);
    };
    let answer!: (won: boolean) => void;
    const claim = new Promise<boolean>((r) => (answer = r));
    const refused = engine.entry("refused");
    fire(state, refused, "schedule", T0 + HOUR, 1, claim);
    assertEquals(state.activeRuns, 1, "it holds the one slot");
    const queued = fire(state, engine.entry("waits"), "manual", null, 1);
    assertEquals(queued?.status, "queued");
    await waitFor(async () =>
      (await store.queuedRuns()).some((r) => r.id === queued!.id)
    );
    answer(true); // won, but not recorded: dropped, never run
    await waitFor(() => refused.running.size === 0, { what: "the drop" });
    const run = await waitFor(async () => {
      const r = await store.getRun("waits", queued!.id);
      return r?.status === "complete" && r;
    }, { what: "the queued run to run" });
    assertEquals(run.status, "complete");
    assertEquals(engine.calls, ["waits"]);
    assertEquals(state.activeRuns, 0);
  });
});
