/**
 * The cleaner (lib/jobpro/cleaner.ts) on its own: retention by age and by
 * runs per job, the event log's bound, pruning in batches that a stop
 * interrupts, and failures logged rather than thrown. Each test seeds a real
 * DuckDB store, assembles an engine with the retention settings under test
 * (tests/jobpro/engine_fixture.ts) and starts the cleaner directly.
 */
import { assertEquals } from "@std/assert";
import { startCleaner } from "@/lib/jobpro/cleaner.ts";
import { DEFAULT_MAX_EVENTS } from "@/lib/jobpro/rows.ts";
import type { Store } from "@/lib/jobpro/store.ts";
import { waitFor } from "../helpers.ts";
import {
  DAY,
  type Engine,
  finished,
  HOUR,
  job,
  MIN,
  putJobs,
  T0,
  withEngine,
  writeStore,
} from "./engine_fixture.ts";

/** Rows a prune deletes per transaction when the rule does not say (duckdb_store.ts). */
const BATCH = 50_000;

const paused = (id: string) => job(id, { status: "paused", nextRunAt: null });

const runIds = async (engine: Engine, id: string) =>
  (await engine.runs(id)).map((r) => r.id);

/** Seeds finished runs of `jobId`, ids from `first`, started at the given times. */
async function seedRuns(
  store: Store,
  jobId: string,
  first: number,
  startedAt: number[],
) {
  await writeStore(store, {
    finished: startedAt.map((t, i) => finished(first + i, jobId, t)),
  });
}

Deno.test("cleaner: runs older than retentionDays are pruned, at start and again by the clock of each clean", async () => {
  await withEngine({
    retentionDays: 7,
    seed: async (store) => {
      await putJobs(store, [paused("a")]);
      await seedRuns(store, "a", 1, [
        T0 - 10 * DAY,
        T0 - 8 * DAY,
        T0 - 7 * DAY, // exactly at the limit: kept
        T0 - 6 * DAY,
        T0 - HOUR,
      ]);
    },
  }, async (engine) => {
    const cleaner = startCleaner(engine.state);
    try {
      await cleaner.clean(); // after the prune at start
      assertEquals(await runIds(engine, "a"), [3, 4, 5]);
      assertEquals(engine.logged("info", "pruned 2 old runs in ").length, 1);
      engine.clock.advance(2 * DAY);
      await cleaner.clean();
      assertEquals(await runIds(engine, "a"), [5]);
      assertEquals(engine.logged("info", "pruned 2 old runs in ").length, 2);
    } finally {
      await cleaner.stop();
    }
    // The counters are the history's, not what is left of it.
    assertEquals((await engine.stored("a"))?.counts.runs, 5);
  });
});

Deno.test("cleaner: each job keeps its newest maxRunsPerJob runs", async () => {
  await withEngine({
    maxRunsPerJob: 3,
    seed: async (store) => {
      await putJobs(store, [paused("a"), paused("b")]);
      await seedRuns(store, "a", 1, [5, 4, 3, 2, 1].map((i) => T0 - i * MIN));
      await seedRuns(store, "b", 10, [T0 - 2 * MIN, T0 - MIN]);
    },
  }, async (engine) => {
    const cleaner = startCleaner(engine.state);
    try {
      await cleaner.clean();
    } finally {
      await cleaner.stop();
    }
    assertEquals(await runIds(engine, "a"), [3, 4, 5], "the newest three");
    assertEquals(await runIds(engine, "b"), [10, 11]);
    assertEquals(engine.logged("info", "pruned 2 old runs").length, 1);
  });
});

Deno.test("cleaner: the event log is cut to its bound; a reader from before it must start over", async () => {
  await withEngine({
    seed: async (store) => {
      await putJobs(store, [paused("a")]);
      await writeStore(store, {
        events: Array.from(
          { length: DEFAULT_MAX_EVENTS + 10 },
          () => ({ type: "job-update" as const, jobId: "a" }),
        ),
      });
    },
  }, async (engine) => {
    const { store } = engine;
    const last = await store.lastEventSeq();
    const cleaner = startCleaner(engine.state);
    try {
      await cleaner.clean();
    } finally {
      await cleaner.stop();
    }
    assertEquals(await store.lastEventSeq(), last, "numbers go on");
    const kept = await store.eventsSince(
      last - DEFAULT_MAX_EVENTS,
      DEFAULT_MAX_EVENTS,
    );
    assertEquals(kept?.length, DEFAULT_MAX_EVENTS);
    assertEquals(kept?.[0].seq, last - DEFAULT_MAX_EVENTS + 1);
    assertEquals(
      await store.eventsSince(last - DEFAULT_MAX_EVENTS - 1),
      null,
      "pruned past",
    );
  });
});

Deno.test("cleaner: old runs go in batches; a stop ends the prune after the batch in progress", async () => {
  await withEngine({
    retentionDays: 7,
    seed: async (store) => {
      await putJobs(store, [paused("a")]);
      await seedRuns(
        store,
        "a",
        1,
        Array.from({ length: BATCH + 10 }, (_, i) => T0 - 30 * DAY + i),
      );
    },
  }, async (engine) => {
    const first = startCleaner(engine.state);
    await first.stop(); // right after the prune at start began
    assertEquals((await engine.store.listRuns("a")).total, 10);
    assertEquals(engine.logged("info", `pruned ${BATCH} old runs`).length, 1);
    assertEquals(engine.logged("error", "pruning").length, 0);
    // The next cleaner takes the rest.
    const next = startCleaner(engine.state);
    try {
      await next.clean();
    } finally {
      await next.stop();
    }
    assertEquals((await engine.store.listRuns("a")).total, 0);
    assertEquals(engine.logged("info", "pruned 10 old runs").length, 1);
  });
});

Deno.test("cleaner: it prunes again every everyMs by itself", async () => {
  await withEngine({
    retentionDays: 1,
    seed: (store) => putJobs(store, [paused("a")]),
  }, async (engine) => {
    const cleaner = startCleaner(engine.state, { everyMs: 20 });
    try {
      await cleaner.clean();
      // Written after the cleaner started: only a later round can prune it.
      await seedRuns(engine.store, "a", 1, [T0 - 2 * DAY, T0 - HOUR]);
      await waitFor(
        async () => (await runIds(engine, "a")).join() === "2",
        { timeoutMs: 5000, what: "the interval's prune" },
      );
    } finally {
      await cleaner.stop();
    }
  });
});

Deno.test("cleaner: with firstMs (a cluster's node) nothing is pruned at start; the first prune comes firstMs later", async () => {
  await withEngine({
    retentionDays: 7,
    seed: async (store) => {
      await putJobs(store, [paused("a")]);
      await seedRuns(store, "a", 1, [T0 - 10 * DAY, T0 - HOUR]);
    },
  }, async (engine) => {
    const store = engine.state.store;
    const prune = store.prune.bind(store);
    let prunes = 0;
    store.prune = (rule) => (prunes++, prune(rule));
    const later = startCleaner(engine.state, { firstMs: HOUR });
    // The prune at start would have been asked for by now.
    await new Promise((r) => setTimeout(r, 0));
    await later.stop();
    assertEquals(prunes, 0);
    assertEquals(await runIds(engine, "a"), [1, 2]);
    const soon = startCleaner(engine.state, { firstMs: 20 });
    try {
      await waitFor(
        async () => (await runIds(engine, "a")).join() === "2",
        { timeoutMs: 5000, what: "the first prune" },
      );
      assertEquals(prunes, 1);
    } finally {
      await soon.stop();
    }
  });
});

Deno.test("cleaner: a prune that fails is logged, never thrown", async () => {
  await withEngine({}, async (engine) => {
    await engine.store.close();
    engine.storeClosed = true;
    const cleaner = startCleaner(engine.state);
    await cleaner.clean(); // resolves
    await cleaner.stop();
    const errors = engine.logged("error", "pruning old runs failed: ");
    assertEquals(errors.length, 2, "the prune at start and the one asked for");
    assertEquals(
      errors[0].message,
      "pruning old runs failed: the database is closed: the server is shutting down",
    );
  });
});
