/**
 * The job list (lib/jobpro/job_list.ts) on its own: filters, every sort key
 * both ways, paging, and the default page that neither copies nor sorts.
 * The jobs are restored from a real DuckDB store into a real engine state
 * (tests/jobpro/engine_fixture.ts), so they are in the order the engine
 * keeps them; `listJobs` is called directly with the engine's `viewOf`.
 */
import { assert, assertEquals } from "@std/assert";
import type { Job, JobView } from "@/lib/jobpro/job.ts";
import { type JobQuery, listJobs, MAX_PAGE } from "@/lib/jobpro/job_list.ts";
import { createJob } from "@/lib/jobpro/operations.ts";
import { type Entry, newEntry } from "@/lib/jobpro/state.ts";
import type { Store } from "@/lib/jobpro/store.ts";
import { viewOf } from "@/lib/jobpro/views.ts";
import {
  DAY,
  type Engine,
  finished,
  HOUR,
  job,
  MIN,
  noCounts,
  onetime,
  putJobs,
  T0,
  withEngine,
  writeStore,
} from "./engine_fixture.ts";

/**
 * Six jobs, stored in an order that is not their creation order (zeta is
 * the oldest), with names that differ in case and two that are equal.
 */
const JOBS: Job[] = [
  job("alpha", {
    name: "Alpha report",
    nextRunAt: T0 + 5 * MIN,
    createdAt: T0 - 5 * DAY,
  }),
  onetime("beta", {
    name: "beta sync",
    status: "paused",
    nextRunAt: T0 + HOUR,
    createdAt: T0 - 4 * DAY,
  }),
  job("gamma", {
    name: "Gamma",
    status: "stopped",
    nextRunAt: null,
    createdAt: T0 - 3 * DAY,
  }),
  onetime("delta", {
    name: "delta Report",
    status: "complete",
    nextRunAt: null,
    createdAt: T0 - 2 * DAY,
  }),
  job("epsilon", {
    name: "Epsilon sync",
    nextRunAt: T0 + 2 * MIN,
    createdAt: T0 - DAY,
  }),
  onetime("zeta", {
    name: "gamma",
    status: "created",
    nextRunAt: null,
    createdAt: T0 - 6 * DAY,
  }),
];

/** Last runs: gamma's the newest, delta's the oldest; the rest have none. */
async function seed(store: Store) {
  await putJobs(store, JOBS);
  await writeStore(store, {
    finished: [
      finished(1, "delta", T0 - 3 * HOUR),
      finished(2, "alpha", T0 - 2 * HOUR),
      finished(3, "gamma", T0 - HOUR),
    ],
  });
}

const ids = (page: { jobs: JobView[] }) => page.jobs.map((j) => j.id);

function withJobs(
  fn: (
    engine: Engine,
    list: (q: JobQuery) => ReturnType<typeof listJobs>,
  ) => Promise<void> | void,
) {
  return withEngine(
    { seed },
    async (engine) => {
      await fn(engine, (q) => listJobs(engine.state.entries, q, viewOf));
    },
  );
}

const CREATED = ["zeta", "alpha", "beta", "gamma", "delta", "epsilon"];

Deno.test("job list: filters by status, type and a substring of id or name, counting what matches", async () => {
  await withJobs((_engine, list) => {
    const page = list({ status: "scheduled" });
    assertEquals([ids(page), page.total], [["alpha", "epsilon"], 2]);
    assertEquals(ids(list({ status: "paused" })), ["beta"]);
    assertEquals(ids(list({ type: "onetime" })), ["zeta", "beta", "delta"]);
    assertEquals(ids(list({ type: "periodic" })), [
      "alpha",
      "gamma",
      "epsilon",
    ]);
    // q: case-insensitive, in the name or in the id.
    assertEquals(ids(list({ q: "REPORT" })), ["alpha", "delta"]);
    assertEquals(ids(list({ q: "eta" })), ["zeta", "beta"], "in the id");
    assertEquals(ids(list({ q: "gamma" })), ["zeta", "gamma"], "id or name");
    assertEquals(ids(list({ type: "periodic", q: "sync" })), ["epsilon"]);
    assertEquals(ids(list({ status: "scheduled", type: "onetime" })), []);
    const none = list({ q: "nothing like it" });
    assertEquals([none.jobs, none.total], [[], 0]);
    // Filters count before paging.
    const paged = list({ type: "onetime", offset: 1, limit: 1 });
    assertEquals([ids(paged), paged.total], [["beta"], 3]);
  });
});

Deno.test("job list: each sort key, ascending and descending", async () => {
  await withJobs((_engine, list) => {
    const expected: Record<string, string[]> = {
      // Case-insensitive; equal names ("Gamma", "gamma") in id order.
      name: ["alpha", "beta", "delta", "epsilon", "gamma", "zeta"],
      // Soonest first; jobs with no next run last, in id order.
      nextRunAt: ["epsilon", "alpha", "beta", "delta", "gamma", "zeta"],
      // Jobs that never ran first, in id order; then the oldest last run.
      lastRunAt: ["beta", "epsilon", "zeta", "delta", "alpha", "gamma"],
      createdAt: CREATED,
    };
    for (const [sort, asc] of Object.entries(expected)) {
      const key = sort as NonNullable<JobQuery["sort"]>;
      assertEquals(ids(list({ sort: key })), asc, `${sort} (default order)`);
      assertEquals(ids(list({ sort: key, order: "asc" })), asc, `${sort} asc`);
      assertEquals(
        ids(list({ sort: key, order: "desc" })),
        [...asc].reverse(),
        `${sort} desc`,
      );
    }
    // Sorting with a filter, then a page of it.
    assertEquals(
      ids(list({ q: "sync", sort: "name", order: "desc" })),
      ["epsilon", "beta"],
    );
    const page = list({ sort: "nextRunAt", offset: 1, limit: 2 });
    assertEquals([ids(page), page.total], [["alpha", "beta"], 6]);
  });
});

Deno.test("job list: offset and limit page through, clamped to sense", async () => {
  await withJobs((_engine, list) => {
    assertEquals(ids(list({})), CREATED);
    const page = list({ offset: 2, limit: 2 });
    assertEquals([ids(page), page.total], [["beta", "gamma"], 6]);
    assertEquals(ids(list({ offset: 5 })), ["epsilon"]);
    const past = list({ offset: 10 });
    assertEquals([past.jobs, past.total], [[], 6]);
    assertEquals(
      ids(list({ offset: -3, limit: 1 })),
      ["zeta"],
      "offset < 0 is 0",
    );
    assertEquals(list({ limit: 0 }).jobs, []);
    assertEquals(list({ limit: -1 }).jobs, []);
    // The same clamps on the sorted path.
    assertEquals(ids(list({ order: "desc", offset: -1, limit: 2 })), [
      "epsilon",
      "delta",
    ]);
    assertEquals(list({ order: "desc", limit: 0 }).jobs, []);
  });
});

Deno.test("job list: the default page is in creation order, new jobs last, the views the engine caches", async () => {
  await withJobs(async (engine, list) => {
    const { state, clock } = engine;
    clock.set(T0 + MIN);
    await createJob(
      state,
      onetime("new", {
        status: "created",
        nextRunAt: null,
        createdAt: T0 + MIN,
      }),
    );
    const page = list({});
    assertEquals(ids(page), [...CREATED, "new"]);
    assertEquals(page.total, 7);
    for (const v of page.jobs) {
      assert(v === viewOf(engine.entry(v.id)), `${v.id}: the cached view`);
    }
    const alpha = page.jobs[1];
    assertEquals(
      [alpha.runCount, alpha.lastRun?.id, alpha.nextRunAt],
      [1, 2, new Date(T0 + 5 * MIN).toISOString()],
    );
  });
});

/** Entries that count how many of them a list looked at. */
class CountingMap extends Map<string, Entry> {
  visited = 0;
  override *values(): MapIterator<Entry> {
    for (const e of super.values()) {
      this.visited++;
      yield e;
    }
  }
}

Deno.test("job list: the default page looks at no more entries than it shows, and a page is at most MAX_PAGE", () => {
  const entries = new CountingMap();
  for (let i = 0; i < MAX_PAGE + 500; i++) {
    const id = `job-${String(i).padStart(5, "0")}`;
    entries.set(id, newEntry(onetime(id, { createdAt: T0 + i }), noCounts()));
  }
  let viewed = 0;
  const view = (e: Entry) => (viewed++, viewOf(e));

  const page = listJobs(entries, { offset: 10, limit: 5 }, view);
  assertEquals(ids(page), [10, 11, 12, 13, 14].map((i) => `job-000${i}`));
  assertEquals(page.total, MAX_PAGE + 500);
  assertEquals(viewed, 5, "only the page is viewed");
  assertEquals(
    entries.visited,
    16,
    "no copy: the page, what it skips, one more",
  );

  entries.visited = viewed = 0;
  assertEquals(listJobs(entries, {}, view).jobs.length, 100, "100 by default");
  assertEquals(listJobs(entries, { limit: 5000 }, view).jobs.length, MAX_PAGE);

  // Any other order (or a filter) reads every entry, but views only the page.
  entries.visited = viewed = 0;
  const last = listJobs(entries, { order: "desc", limit: 3 }, view);
  assertEquals(ids(last), ["job-01499", "job-01498", "job-01497"]);
  assertEquals([entries.visited, viewed], [MAX_PAGE + 500, 3]);
});
