/**
 * The writer in front of a real DuckDB store: what it does with what is
 * queued when a cluster's node loses its lease (`forgetFenced`).
 */
import { assertEquals } from "@std/assert";
import { openDuckDBStore } from "@/lib/jobpro/duckdb_store.ts";
import { emptyBatch } from "@/lib/jobpro/store.ts";
import { createWriter } from "@/lib/jobpro/writer.ts";
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
