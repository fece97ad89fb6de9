/**
 * The writer's all-or-nothing operations (apply.ts), in front of a real
 * DuckDB store: each is written in a batch of its own after what was
 * queued before it, so a refusal (`conflict`, nothing of it written) takes
 * no one else's change with it, and health hears of no write failure.
 */
import { assertEquals, assertRejects } from "@std/assert";
import { openDuckDBStore } from "@/lib/jobpro/duckdb_store.ts";
import { JobproError } from "@/lib/jobpro/errors.ts";
import { type Batch, emptyBatch } from "@/lib/jobpro/store.ts";
import { CHANGED, createWriter } from "@/lib/jobpro/writer.ts";
import { newRun } from "@/lib/jobpro/run.ts";
import { job, T0 } from "./store_contract.ts";
import { waitFor } from "../helpers.ts";

const MIN = 60_000;

Deno.test("writer: an atomic operation is refused whole, alone; the claim and the operation queued with it are written", async () => {
  const store = await openDuckDBStore(":memory:");
  try {
    await store.write({
      ...emptyBatch(),
      puts: [{ job: job("j"), expected: null }],
    });
    const errors: unknown[] = [];
    const committed: string[][] = [];
    const writer = createWriter({
      store,
      statusOf: () => undefined,
      onCommit: (c) => committed.push(c.events.map((e) => e.type)),
      onError: (e) => errors.push(e),
    });
    const claimed = writer.claim("j", T0 + MIN, T0 + 2 * MIN);
    const other = writer.commit(
      { puts: [{ job: job("other"), expected: null }] },
      () => {},
    );
    let applied = false;
    const refused = writer.commit({
      puts: [
        { job: job("a"), expected: null },
        { job: { ...job("j"), name: "stale", version: 9 }, expected: 8 },
      ],
      atomic: true,
    }, () => (applied = true));
    const err = await assertRejects(() => refused, JobproError);
    assertEquals([err.code, err.message], ["conflict", CHANGED]);
    assertEquals(applied, false);
    await other;
    assertEquals(await claimed, true);
    const ok = writer.commit({
      puts: [{ job: job("b"), expected: null }],
      deletes: [{ id: "other", expected: 1 }],
      atomic: true,
    }, () => (applied = true));
    await ok;
    assertEquals(applied, true);
    const ids = (await store.loadJobs()).map((s) => s.job.id).sort();
    assertEquals(ids, ["b", "j"]);
    const j = (await store.loadJobs()).find((s) => s.job.id === "j")!;
    assertEquals([j.job.name, j.job.nextRunAt], ["j", T0 + 2 * MIN]);
    assertEquals(errors, []);
    assertEquals(committed.at(-1)!.sort(), ["job-deleted", "job-update"]);
    await writer.close();
  } finally {
    await store.close();
  }
});

Deno.test("writer: an atomic operation never overtakes what was queued before it; a flush after it waits for it", async () => {
  const store = await openDuckDBStore(":memory:");
  try {
    await store.write({
      ...emptyBatch(),
      puts: [{ job: job("x"), expected: null }],
    });
    const committed: string[][] = [];
    const writer = createWriter({
      store,
      statusOf: () => undefined,
      // Nothing is written on its own before the test is done: only the
      // atomic operation's urgency writes the finish queued before it.
      intervalMs: 3_600_000,
      onCommit: (c) => committed.push(c.events.map((e) => e.type)),
    });
    const r = newRun({
      id: 1,
      jobId: "x",
      trigger: "manual",
      attempt: 1,
      scheduledFor: null,
      now: T0,
    });
    writer.runFinished({
      ...r,
      status: "complete",
      endedAt: T0 + 5,
      durationMs: 5,
    });
    let applied = false;
    const pruned = writer.commit(
      { deletes: [{ id: "x", expected: 1 }], atomic: true },
      () => (applied = true),
    );
    let flushed: boolean | null = null;
    void writer.flush().then(() => (flushed = applied));
    await pruned;
    assertEquals(committed, [["run-finished", "job-update"], ["job-deleted"]]);
    await waitFor(() => flushed !== null, { what: "the flush" });
    assertEquals(flushed, true, "the flush waited for the operation");
    // The run went with its job: a job created again under the id has none.
    await store.write({
      ...emptyBatch(),
      puts: [{ job: job("x"), expected: null }],
    });
    assertEquals((await store.listRuns("x")).total, 0);
    await writer.close();
  } finally {
    await store.close();
  }
});

Deno.test("writer: when the batch queued before an atomic operation fails, the operation is refused unavailable, not written ahead of it", async () => {
  const store = await openDuckDBStore(":memory:");
  try {
    await store.write({
      ...emptyBatch(),
      puts: [{ job: job("j"), expected: null }],
    });
    let failNext = false;
    const failing = new Proxy(store, {
      get(target, key) {
        if (key === "write") {
          return (b: Batch) => {
            // Only the batch with the claim fails, whenever it is written.
            if (!failNext || !b.claims.length) return target.write(b);
            failNext = false;
            return Promise.reject(new Error("disk full"));
          };
        }
        const v = Reflect.get(target, key);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const errors: unknown[] = [];
    const writer = createWriter({
      store: failing,
      statusOf: () => undefined,
      intervalMs: 3_600_000,
      onCommit: () => {},
      onError: (e) => errors.push(e),
    });
    let won: boolean | null = null;
    void writer.claim("j", T0 + MIN, T0 + 2 * MIN).then((w) => (won = w));
    failNext = true;
    let applied = false;
    const refused = writer.commit({
      puts: [{ job: job("a"), expected: null }],
      atomic: true,
    }, () => (applied = true));
    const err = await assertRejects(() => refused, JobproError);
    assertEquals(err.code, "unavailable");
    assertEquals([applied, won, errors.length], [false, null, 1]);
    // The claim went back in the queue; written next, the operation never.
    await writer.flush();
    assertEquals(won, true);
    const ids = (await store.loadJobs()).map((s) => s.job.id);
    assertEquals(ids, ["j"]);
    await writer.close();
  } finally {
    await store.close();
  }
});

Deno.test("writer: an atomic operation leaves nothing pending once written, so health does not see a commit waiting", async () => {
  const store = await openDuckDBStore(":memory:");
  try {
    const writer = createWriter({
      store,
      statusOf: () => undefined,
      onCommit: () => {},
    });
    const later = () => performance.now() + 60_000;
    assertEquals(writer.pendingMs(later()), 0);
    const written = writer.commit({
      puts: [{ job: job("a"), expected: null }],
      atomic: true,
    }, () => {});
    // Waiting, it counts as pending; written, nothing is.
    assertEquals(writer.pendingMs(later()) >= 60_000, true);
    await written;
    assertEquals(writer.pendingMs(later()), 0);
    await writer.close();
  } finally {
    await store.close();
  }
});
