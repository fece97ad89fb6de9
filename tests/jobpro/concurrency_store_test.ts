/**
 * The store contract's part of concurrency (store.ts `startQueued`,
 * `queuedRuns`, `concurrency`, `setLimits`), on both stores: a real DuckDB
 * file and a real PostgreSQL (tests/pg/server.ts).
 */
import { assertEquals } from "@std/assert";
import { openDuckDBStore } from "@/lib/jobpro/duckdb_store.ts";
import { openPostgresStore } from "@/lib/jobpro/postgres_store.ts";
import { newRun, type Run } from "@/lib/jobpro/run.ts";
import { emptyBatch, type Store } from "@/lib/jobpro/store.ts";
import { tempDb } from "../helpers.ts";
import { sharedPostgres, testSchema } from "../pg/server.ts";
import { job } from "./store_contract.ts";

await sharedPostgres().catch(() => {});

const T0 = Date.UTC(2024, 0, 1);

const queued = (id: number, jobId: string, at: number): Run => ({
  ...newRun({
    id,
    jobId,
    trigger: "manual",
    attempt: 1,
    scheduledFor: null,
    now: at,
  }),
  status: "queued",
});

const started = (r: Run, at: number): Run => ({
  ...r,
  status: "running",
  startedAt: at,
});

async function contract(store: Store) {
  await store.write({
    ...emptyBatch(),
    puts: [
      { job: job("a", { concurrencyKey: "k" }), expected: null },
      { job: job("b", { concurrencyKey: "k" }), expected: null },
      { job: job("free"), expected: null },
    ],
  });
  assertEquals((await store.loadJobs())[0].job.concurrencyKey, "k");
  await store.setLimits({ k: 1 });
  // Defaults (the environment's) do not overwrite a stored limit.
  await store.setLimits({ k: 5, other: 3 }, true);
  const r1 = queued(1, "a", T0 + 1), r2 = queued(2, "b", T0 + 2);
  const r3 = queued(3, "a", T0 + 3), r4 = queued(4, "free", T0 + 4);
  await store.write({ ...emptyBatch(), started: [r3, r1, r2, r4] });
  assertEquals((await store.queuedRuns()).map((r) => r.id), [1, 2, 3, 4]);
  assertEquals((await store.queuedRuns(["b"])).map((r) => r.id), [2]);
  assertEquals((await store.getRun("b", 2))?.status, "queued");
  assertEquals((await store.listRuns("a", { status: "queued" })).total, 2);

  // r2 may not overtake r1; r1 takes the one slot; then none is left.
  const first = await store.startQueued([
    started(r2, T0 + 10),
    started(r1, T0 + 10),
  ]);
  assertEquals(first.started, [false, true]);
  assertEquals((await store.startQueued([started(r2, T0 + 11)])).started, [
    false,
  ]);
  // A job with no key is never held back; a run moved is not moved again.
  assertEquals(
    (await store.startQueued([started(r4, T0 + 12), started(r1, T0 + 12)]))
      .started,
    [true, false],
  );
  const r1now = await store.getRun("a", 1);
  assertEquals([r1now?.status, r1now?.startedAt], ["running", T0 + 10]);
  const events = await store.eventsSince(first.firstSeq - 1);
  assertEquals(events?.[0].type, "run-started");
  assertEquals(events?.[0].type === "run-started" && events[0].runId, 1);
  assertEquals(await store.concurrency(), [
    { key: "k", limit: 1, running: 1, queued: 2 },
    { key: "other", limit: 3, running: 0, queued: 0 },
  ]);

  // A restart interrupts what was running, not what was queued.
  const lost = await store.recoverInterrupted(T0 + 20);
  assertEquals(lost.map((r) => r.id).sort(), [1, 4]);
  assertEquals((await store.queuedRuns()).map((r) => r.id), [2, 3]);
  // The slot freed: r2 (queued first) starts; r3 waits behind it.
  assertEquals(
    (await store.startQueued([started(r3, T0 + 21), started(r2, T0 + 21)]))
      .started,
    [false, true],
  );
  // A queued run cancelled ends as a finish does.
  await store.write({
    ...emptyBatch(),
    finished: [{
      ...r3,
      status: "cancelled",
      error: "cancelled by test",
      endedAt: T0 + 22,
      durationMs: 0,
    }],
  });
  assertEquals(await store.queuedRuns(), []);
  assertEquals((await store.getRun("a", 3))?.status, "cancelled");
  await store.setLimits({ k: null });
  assertEquals((await store.concurrency()).map((u) => u.key), ["other"]);
}

Deno.test("concurrency store contract: DuckDB", async () => {
  const db = await tempDb();
  const store = await openDuckDBStore(db.path);
  try {
    await contract(store);
  } finally {
    await store.close();
    await db.cleanup();
  }
});

Deno.test("concurrency store contract: PostgreSQL", async () => {
  const s = await testSchema();
  const store = await openPostgresStore(s.url, { schema: s.schema });
  try {
    await contract(store);
  } finally {
    await store.close();
    await s.drop();
  }
});
