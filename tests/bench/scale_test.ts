/**
 * The scale benchmark's generator writes the store's tables directly (it
 * makes millions of rows in seconds): a store that opens what it wrote,
 * with every job and run in place, proves it still matches the schema.
 */
import { assertEquals } from "@std/assert";
import { generate } from "@/bench/scale.ts";
import { openDuckDBStore } from "@/lib/jobpro/duckdb_store.ts";

Deno.test("bench: the scale generator's rows are a store the engine opens", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/scale.duckdb`;
    await generate(path, 20, 200, 50);
    const store = await openDuckDBStore(path);
    try {
      const jobs = await store.loadJobs();
      assertEquals(jobs.length, 20);
      assertEquals(jobs[0].job.version, 1);
      const { total } = await store.listRuns(jobs[0].job.id);
      assertEquals(total, 10);
    } finally {
      await store.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
