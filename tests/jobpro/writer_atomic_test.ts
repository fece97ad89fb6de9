/**
 * The writer's all-or-nothing operations (apply.ts), in front of a real
 * DuckDB store: each is written in a batch of its own after what was
 * queued before it, so a refusal (`conflict`, nothing of it written) takes
 * no one else's change with it, and health hears of no write failure.
 */
import { assertEquals, assertRejects } from "@std/assert";
import { openDuckDBStore } from "@/lib/jobpro/duckdb_store.ts";
import { JobproError } from "@/lib/jobpro/errors.ts";
import { emptyBatch } from "@/lib/jobpro/store.ts";
import { CHANGED, createWriter } from "@/lib/jobpro/writer.ts";
import { job, T0 } from "./store_contract.ts";

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
