/**
 * A run a crash interrupted failed: at the restart that records it
 * interrupted, its job's failure alert goes out, once (a second restart
 * sends nothing more). A real DuckDB file left as a killed process leaves
 * it, and a real local HTTP server as the webhook.
 */
import { assertEquals, assertStringIncludes } from "@std/assert";
import { createManager } from "@/lib/jobpro/manager.ts";
import { openDuckDBStore } from "@/lib/jobpro/duckdb_store.ts";
import { newRun } from "@/lib/jobpro/run.ts";
import { emptyBatch } from "@/lib/jobpro/store.ts";
import { localServer, tempDb, waitFor } from "../helpers.ts";
import { job } from "./store_contract.ts";

Deno.test("alerts: a run interrupted by a crash sends its job's failure alert at the restart, once", async () => {
  const db = await tempDb();
  // deno-lint-ignore no-explicit-any
  const got: any[] = [];
  const hook = localServer(async (req) => {
    got.push(await req.json());
    return new Response("ok");
  });
  try {
    // What a process killed mid-run leaves: the job, and its run running.
    const store = await openDuckDBStore(db.path);
    const now = Date.now();
    await store.write({
      ...emptyBatch(),
      puts: [{
        job: job("nightly", {
          schedule: "",
          type: "onetime",
          status: "running",
          nextRunAt: null,
          notify: [{ on: ["failure"], target: { webhook: hook.url } }],
        }),
        expected: null,
      }],
      started: [newRun({
        id: 7,
        jobId: "nightly",
        trigger: "manual",
        attempt: 1,
        scheduledFor: null,
        now: now - 1000,
      })],
    });
    await store.close();

    const open = () =>
      openDuckDBStore(db.path).then((s) =>
        createManager({
          store: s,
          log: () => {},
          notify: { pollMs: 20, publicUrl: () => "https://jobs.example" },
        })
      );
    let manager = await open();
    await waitFor(() => got.length === 1, { what: "the failure alert" });
    assertEquals(got[0].event, "failure");
    assertEquals(got[0].run.id, 7);
    assertStringIncludes(got[0].run.error, "interrupted");
    await waitFor(
      async () =>
        (await manager.deliveries("nightly")).every((d) => d.status === "sent"),
      { what: "the delivery recorded sent" },
    );
    await manager.shutdown({ graceMs: 0 });
    // Restarted again: nothing is interrupted now, nothing more is sent.
    manager = await open();
    const deliveries = await manager.deliveries("nightly");
    assertEquals(deliveries.length, 1);
    assertEquals(got.length, 1);
    await manager.shutdown({ graceMs: 0 });
  } finally {
    await hook.close();
    await db.cleanup();
  }
});
