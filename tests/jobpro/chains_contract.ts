/**
 * The store contract's part for job chains (store.ts `triggers`,
 * `chained`, `pendingTriggers`), registered by storeContract on every
 * store: a job's chains and a run's parent round-trip; a trigger is written
 * with its parent's finish, once per (parent run, child); a consumption is
 * a compare-and-set whose loser's run is not recorded; a deleted child's
 * triggers go with it.
 *
 * @module
 */
import { assertEquals } from "@std/assert";
import type { ChainTrigger } from "@/lib/jobpro/chains.ts";
import { newRun, type Run } from "@/lib/jobpro/run.ts";
import { type Batch, emptyBatch } from "@/lib/jobpro/store.ts";
import type { OpenedStore } from "./store_contract.ts";
import { job, T0 } from "./store_contract.ts";

const MIN = 60_000;
const batch = (b: Partial<Batch>): Batch => ({ ...emptyBatch(), ...b });

function done(id: number, jobId: string, extra: Partial<Run> = {}): Run {
  return {
    ...newRun({
      id,
      jobId,
      trigger: "manual",
      attempt: 1,
      scheduledFor: null,
      now: T0 + MIN,
    }),
    status: "complete",
    endedAt: T0 + MIN + 5,
    durationMs: 5,
    ...extra,
  };
}

const trigger = (parentRunId: number, jobId: string): ChainTrigger => ({
  parentRunId,
  parentJobId: "a",
  jobId,
  on: "success",
  createdAt: T0 + MIN,
});

/** Registers the chain tests with the contract's `test`. */
export function chainsContract(
  test: (title: string, fn: (o: OpenedStore) => Promise<void>) => void,
): void {
  test("a job's chains and a chained run's parent round-trip, across a reopen", async (o) => {
    await o.store.write(batch({
      puts: [
        { job: job("b"), expected: null },
        {
          job: job("a", { onSuccess: ["b"], onFailure: ["b", "c"] }),
          expected: null,
        },
      ],
    }));
    const child = done(2, "b", {
      trigger: "chain",
      parentJobId: "a",
      parentRunId: 1,
    });
    await o.store.write(batch({ finished: [done(1, "a"), child] }));
    const store = await o.reopen();
    o.store = store;
    const a = (await store.loadJobs()).find((s) => s.job.id === "a")!.job;
    assertEquals([a.onSuccess, a.onFailure], [["b"], ["b", "c"]]);
    const b = (await store.loadJobs()).find((s) => s.job.id === "b")!.job;
    assertEquals([b.onSuccess, b.onFailure], [[], []]);
    const read = await store.getRun("b", 2);
    assertEquals([read?.trigger, read?.parentJobId, read?.parentRunId], [
      "chain",
      "a",
      1,
    ]);
    const [listed] = (await store.listRuns("b")).runs;
    assertEquals([listed.parentJobId, listed.parentRunId], ["a", 1]);
    assertEquals((await store.getRun("a", 1))?.parentRunId, undefined);
    await store.write(batch({
      puts: [{ job: job("a", { onSuccess: [], version: 2 }), expected: 1 }],
    }));
    const edited = (await store.loadJobs()).find((s) => s.job.id === "a")!;
    assertEquals(edited.job.onSuccess, []);
  });

  test("chain triggers are written with the finish once per (run, child); consumed once by compare-and-set, the loser's run not recorded", async ({ store }) => {
    await store.write(batch({
      puts: ["a", "b", "c"].map((id) => ({ job: job(id), expected: null })),
    }));
    const t1 = trigger(1, "b");
    const t2 = trigger(1, "c");
    await store.write(batch({ finished: [done(1, "a")], triggers: [t1, t2] }));
    // Written again (a retried batch), and twice in one batch: still one each.
    await store.write(batch({ triggers: [t1, t1] }));
    assertEquals(await store.pendingTriggers(), [t1, t2]);
    const consume = (runId: number | null) => ({
      parentRunId: 1,
      jobId: "b",
      runId,
      note: null,
      at: T0 + 2 * MIN,
    });
    const run = (id: number) => ({
      ...newRun({
        id,
        jobId: "b",
        trigger: "chain" as const,
        attempt: 1,
        scheduledFor: null,
        now: T0 + 2 * MIN,
      }),
      parentJobId: "a",
      parentRunId: 1,
    });
    const first = await store.write(batch({
      started: [run(10)],
      chained: [consume(10)],
    }));
    assertEquals(first.chained, [true]);
    assertEquals(first.started?.[0] ?? true, true);
    const second = await store.write(batch({
      started: [run(11)],
      chained: [consume(11)],
    }));
    assertEquals(second.chained, [false]);
    assertEquals(second.started, [false]);
    assertEquals(await store.getRun("b", 11), null);
    assertEquals((await store.getRun("b", 10))?.parentRunId, 1);
    assertEquals(await store.pendingTriggers(), [t2]);
  });

  test("chain triggers: a deleted child's go with it; one for a child or parent deleted in the same batch is not written", async ({ store }) => {
    await store.write(batch({
      puts: ["a", "b", "c"].map((id) => ({ job: job(id), expected: null })),
    }));
    await store.write(batch({ triggers: [trigger(1, "b")] }));
    await store.write(batch({
      deletes: [{ id: "b", expected: 1 }],
      triggers: [trigger(2, "c"), { ...trigger(3, "c"), parentJobId: "b" }],
    }));
    assertEquals(await store.pendingTriggers(), [trigger(2, "c")]);
  });
}
