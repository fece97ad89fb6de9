/**
 * A run whose action waits to hear that its claim and start were committed:
 * when the wait lasts longer than the health limit, /healthz fails naming
 * the job and the run, with what the writer holds, and says so in the log
 * once; once the commit goes through the run runs and health is ok again.
 * Against a real PostgreSQL whose commits the test holds back.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { createManager } from "@/lib/jobpro/manager.ts";
import { openPostgresStore } from "@/lib/jobpro/postgres_store.ts";
import { createRegistry } from "@/lib/jobs/registry.ts";
import { waitFor } from "../helpers.ts";
import { sharedPostgres, testSchema } from "../pg/server.ts";

await sharedPostgres().catch(() => {});

Deno.test("health: a run still waiting to hear whether its start was committed past the limit fails /healthz, naming it, and is logged once", async () => {
  const s = await testSchema();
  // Commits pass until the test holds them; held ones wait for `release`.
  let hold = false;
  let release = () => {};
  const released = new Promise<void>((r) => (release = r));
  const store = await openPostgresStore(s.url, {
    schema: s.schema,
    beforeCommit: () => hold ? released : Promise.resolve(),
  });
  const ran: number[] = [];
  const functions = createRegistry();
  functions.register("note", () => void ran.push(Date.now()));
  const logs: string[] = [];
  const manager = await createManager({
    store,
    functions,
    healthCommitMs: 300,
    log: (level, message) => logs.push(`${level}: ${message}`),
  });
  try {
    await manager.create({
      id: "tick",
      name: "Tick",
      schedule: "* * * * * *",
      action: { type: "function", name: "note" },
      overlap: "skip",
    });
    // A periodic job starts scheduled (autoStart).
    hold = true;
    const stalled = await waitFor(async () => {
      const h = await manager.health();
      return h.reason?.includes("to hear whether its start was committed")
        ? h
        : null;
    }, { what: "health to name the stalled start", timeoutMs: 10_000 });
    assertEquals(stalled.ok, false);
    assertStringIncludes(stalled.reason!, "job tick run ");
    assertStringIncludes(stalled.reason!, "the writer holds");
    // Asked twice, logged once.
    await manager.health();
    const warned = logs.filter((l) =>
      l.startsWith("warn: job tick run ") && l.includes("start was committed")
    );
    assertEquals(warned.length, 1, logs.join("\n"));
    assertEquals(ran, []);
    hold = false;
    release();
    await waitFor(() => ran.length > 0, { what: "the held run to run" });
    const healthy = await waitFor(async () => {
      const h = await manager.health();
      return h.ok ? h : null;
    }, { what: "health to be ok again" });
    assert(healthy.ok);
  } finally {
    hold = false;
    release();
    await manager.shutdown({ graceMs: 0 });
    await s.drop();
  }
});
