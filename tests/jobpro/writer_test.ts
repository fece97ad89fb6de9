/**
 * The writer in front of a real DuckDB store: what it does with what is
 * queued when a cluster's node loses its lease (`forgetFenced`).
 */
import { assertEquals } from "@std/assert";
import { openDuckDBStore } from "@/lib/jobpro/duckdb_store.ts";
import { type Batch, emptyBatch, type Store } from "@/lib/jobpro/store.ts";
import { createWriter, FULL_BATCH } from "@/lib/jobpro/writer.ts";
import { newRun } from "@/lib/jobpro/run.ts";
import { job, T0 } from "./store_contract.ts";

const MIN = 60_000;

Deno.test("writer: claims and starts queued when the lease is lost are never written; their waiters hear false; later ones are", async () => {
  const store = await openDuckDBStore(":memory:");
  try {
    await store.write({
      ...emptyBatch(),
      puts: [{ job: job("j"), expected: null }],
    });
    const writer = createWriter({
      store,
      statusOf: () => undefined,
      onCommit: () => {},
    });
    const tick = (id: number) =>
      newRun({
        id,
        jobId: "j",
        trigger: "schedule",
        attempt: 1,
        scheduledFor: T0 + id * MIN,
        now: T0 + id * MIN,
      });
    const heard: [number, boolean][] = [];
    const claimed = writer.claim("j", T0 + MIN, T0 + 2 * MIN);
    writer.recordStart(tick(1), (ok) => heard.push([1, ok]));
    writer.forgetFenced(); // before the batch is written
    assertEquals(heard, [[1, false]]);
    assertEquals(await claimed, false);
    // What comes after the new join is written as usual.
    const again = writer.claim("j", T0 + MIN, T0 + 2 * MIN);
    writer.recordStart(tick(2), (ok) => heard.push([2, ok]));
    await writer.flush();
    assertEquals(heard, [[1, false], [2, true]]);
    assertEquals(await again, true);
    const { runs } = await store.listRuns("j");
    assertEquals(runs.map((r) => [r.id, r.status]), [[2, "running"]]);
    await writer.close();
  } finally {
    await store.close();
  }
});

/** A real DuckDB store whose writes are seen, and held while `gate` is set. */
async function watchedStore() {
  const store = await openDuckDBStore(":memory:");
  const seen = {
    writes: [] as { at: number; batch: Batch }[],
    gate: null as Promise<void> | null,
    wrote: Promise.withResolvers<void>(),
  };
  const watched = new Proxy(store, {
    get(target, key) {
      if (key === "write") {
        return async (batch: Batch) => {
          seen.writes.push({ at: performance.now(), batch });
          seen.wrote.resolve();
          await seen.gate;
          return await target.write(batch);
        };
      }
      const v = Reflect.get(target, key);
      return typeof v === "function" ? v.bind(target) : v;
    },
  }) as Store;
  return { store, watched, seen };
}

const status = (id: string) => ({
  jobId: id,
  status: "scheduled" as const,
  updatedAt: T0,
  version: 1,
});

/** A writer in front of `store` whose statuses are all "scheduled". */
const statusWriter = (store: Store, intervalMs: number) =>
  createWriter({ store, statusOf: status, intervalMs, onCommit: () => {} });

const within = <T>(p: Promise<T>, ms: number, what: string) => {
  let t: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) =>
      t = setTimeout(
        () => reject(new Error(`${what}: not within ${ms} ms`)),
        ms,
      )
    ),
  ]).finally(() => clearTimeout(t));
};

Deno.test("writer: a change that waited out the interval behind a long write is written as soon as that write ends", async () => {
  const { store, watched, seen } = await watchedStore();
  try {
    const intervalMs = 1000;
    const writer = statusWriter(watched, intervalMs);
    const release = Promise.withResolvers<void>();
    seen.gate = release.promise;
    writer.touchStatus("a");
    const first = writer.flush(); // written at once, and held
    await within(seen.wrote.promise, 10_000, "the first write");
    seen.wrote = Promise.withResolvers();
    writer.touchStatus("b");
    const queuedAt = performance.now();
    // b waits out its interval while the first write is held.
    while (performance.now() - queuedAt < intervalMs) {
      await new Promise((r) => setTimeout(r, 20));
    }
    seen.gate = null;
    const releasedAt = performance.now();
    release.resolve();
    await first;
    // Before: b waited a whole interval more, counted from the write's end.
    await within(seen.wrote.promise, intervalMs / 2, "b's write");
    assertEquals(seen.writes.length, 2);
    assertEquals(seen.writes[1].batch.statuses.map((s) => s.jobId), ["b"]);
    assertEquals(seen.writes[1].at >= releasedAt, true);
    await writer.close();
  } finally {
    await store.close();
  }
});

Deno.test("writer: a batch of FULL_BATCH changes is written at once; one fewer waits for the interval", async () => {
  const { store, watched, seen } = await watchedStore();
  try {
    const writer = statusWriter(watched, 60_000);
    for (let i = 0; i < FULL_BATCH - 1; i++) writer.touchStatus(`j${i}`);
    // Timers due now have run: nothing was written.
    await new Promise((r) => setTimeout(r, 0));
    await new Promise((r) => setTimeout(r, 0));
    assertEquals(seen.writes.length, 0);
    writer.touchStatus("last");
    await within(seen.wrote.promise, 10_000, "the full batch's write");
    assertEquals(seen.writes[0].batch.statuses.length, FULL_BATCH);
    await writer.close();
  } finally {
    await store.close();
  }
});

Deno.test("writer: while the store fails, what is queued is retried intervalMs after each failure, not at once", async () => {
  const { store, watched, seen } = await watchedStore();
  await store.close(); // every write fails from here
  const intervalMs = 200;
  const writer = statusWriter(watched, intervalMs);
  writer.touchStatus("a");
  const deadline = performance.now() + 10_000;
  while (seen.writes.length < 3 && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assertEquals(seen.writes.length >= 3, true, "three tries within 10 s");
  // Before: each retry came at once (199 tries in 500 ms at 50 ms).
  const gaps = seen.writes.slice(1, 3).map((w, i) => w.at - seen.writes[i].at);
  for (const gap of gaps) {
    assertEquals(
      gap >= intervalMs / 2,
      true,
      `a retry ${gap} ms after a failure`,
    );
  }
  await writer.close();
});
