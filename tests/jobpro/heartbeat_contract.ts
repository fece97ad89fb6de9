/**
 * The store contract's part for heartbeat jobs (store.ts `lastPing`),
 * registered by storeContract on every store: the last ping is the newest
 * start of a run a ping recorded, going or ended, or end of one a success
 * or fail ping ended (not an expiry), and no other run's; a heartbeat
 * action (its ping key) round-trips; a ping-started run is not ended as
 * interrupted by a restart (unless its job is no longer a heartbeat job),
 * and its finish after one moves it out of the running runs once.
 *
 * @module
 */
import { assertEquals } from "@std/assert";
import { endRun, newRun, type Run } from "@/lib/jobpro/run.ts";
import { type Batch, emptyBatch, type Store } from "@/lib/jobpro/store.ts";
import type { Job } from "@/lib/jobpro/job.ts";
import type { OpenedStore } from "./store_contract.ts";
import { job, T0 } from "./store_contract.ts";

const batch = (b: Partial<Batch>): Batch => ({ ...emptyBatch(), ...b });

function pinged(id: number, at: number, trigger: Run["trigger"] = "ping") {
  return newRun({
    id,
    jobId: "hb",
    trigger,
    attempt: 1,
    scheduledFor: null,
    now: at,
  });
}

const heartbeat = () =>
  job("hb", {
    action: { type: "heartbeat", graceMs: 5000, pingKey: "k".repeat(32) },
  });

async function running(store: Store): Promise<number[]> {
  const { runs } = await store.listRuns("hb", { status: "running" });
  return runs.map((r) => r.id);
}

/** Registers the heartbeat tests with the contract's `test`. */
export function heartbeatContract(
  test: (title: string, fn: (o: OpenedStore) => Promise<void>) => void,
): void {
  test("lastPing: the newest start of a ping's run, going or ended; other runs do not count; it survives a reopen", async (o) => {
    let store = o.store;
    await store.write(batch({ puts: [{ job: heartbeat(), expected: null }] }));
    assertEquals(await store.lastPing("hb"), null);
    const first = endRun(
      pinged(1, T0 + 1000),
      { status: "complete" },
      T0 + 1000,
    );
    await store.write(batch({ finished: [first] }));
    assertEquals(await store.lastPing("hb"), T0 + 1000);
    // A scheduled run later does not count; a start ping going does.
    const other = endRun(pinged(2, T0 + 9000, "schedule"), {
      status: "failed",
      error: "missed heartbeat",
    }, T0 + 9000);
    await store.write(batch({ finished: [other] }));
    assertEquals(await store.lastPing("hb"), T0 + 1000);
    await store.write(batch({ started: [pinged(3, T0 + 5000)] }));
    assertEquals(await store.lastPing("hb"), T0 + 5000);
    assertEquals(await store.lastPing("none"), null);
    store = await o.reopen();
    assertEquals(await store.lastPing("hb"), T0 + 5000);
    const [loaded] = await store.loadJobs();
    assertEquals(loaded.job.action, heartbeat().action);
  });

  test("lastPing: a finish ping counts when it came, not when its run started; an expiry is no ping", async (o) => {
    const store = o.store;
    await store.write(batch({ puts: [{ job: heartbeat(), expected: null }] }));
    // A start ping, then its success ping much later.
    const start = pinged(1, T0 + 1000);
    await store.write(batch({ started: [start] }));
    const done = endRun(
      start,
      { status: "complete", message: "ping" },
      T0 + 8000,
    );
    await store.write(batch({ finished: [done] }));
    assertEquals(await store.lastPing("hb"), T0 + 8000);
    // A start ended by a fail ping counts when the fail ping came.
    const second = pinged(2, T0 + 9000);
    await store.write(batch({ started: [second] }));
    const failed = endRun(second, {
      status: "failed",
      error: "failure reported by ping: boom",
    }, T0 + 15000);
    await store.write(batch({ finished: [failed] }));
    assertEquals(await store.lastPing("hb"), T0 + 15000);
    // A start no finish ping came for, ended by its deadline: only its start counts.
    const third = pinged(3, T0 + 20000);
    await store.write(batch({ started: [third] }));
    const expired = endRun(third, {
      status: "failed",
      error: "no finish ping within 5000 ms of its start",
    }, T0 + 25000);
    await store.write(batch({ finished: [expired] }));
    assertEquals(await store.lastPing("hb"), T0 + 20000);
  });

  test("a ping-started run of a job that is no longer a heartbeat job is interrupted by a restart", async (o) => {
    let store = o.store;
    await store.write(batch({ puts: [{ job: heartbeat(), expected: null }] }));
    await store.write(batch({ started: [pinged(7, T0 + 1000)] }));
    const [stored] = await store.loadJobs();
    const plain = { ...stored.job, action: { type: "function", name: "noop" } };
    await store.write(batch({
      puts: [{ job: { ...plain, version: 2 } as Job, expected: 1 }],
    }));
    store = await o.reopen();
    const ended = await store.recoverInterrupted(T0 + 2000);
    assertEquals(ended.map((r) => [r.id, r.status]), [[7, "failed"]]);
    assertEquals(await running(store), []);
  });

  test("a ping-started run is not interrupted by a restart; its finish after one ends it once", async (o) => {
    let store = o.store;
    await store.write(batch({ puts: [{ job: heartbeat(), expected: null }] }));
    const start = pinged(7, T0 + 1000);
    await store.write(batch({ started: [start] }));
    store = await o.reopen();
    assertEquals(await store.recoverInterrupted(T0 + 2000), []);
    assertEquals(await running(store), [7]);
    const done = endRun(start, { status: "complete" }, T0 + 3000);
    await store.write(batch({ finished: [done] }));
    assertEquals(await running(store), []);
    const { runs, total } = await store.listRuns("hb");
    assertEquals(total, 1);
    assertEquals(runs[0].status, "complete");
    const [loaded] = await store.loadJobs();
    assertEquals(loaded.counts.runs, 1);
  });
}
