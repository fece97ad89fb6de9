/**
 * The store contract's part for live output (store.ts `outputs`,
 * live_output.ts), registered by storeContract on every store: a running
 * run's output so far is written to its row with its offset and read back
 * (getRun) as both; a newer write replaces it; a run no longer running is
 * left as it is (its finished output stays); a `run-output` event reads
 * back with its run; output so far survives a reopen, and a run a dead
 * process left keeps it when recovered as interrupted (cut as a finished
 * run's is).
 *
 * @module
 */
import { assertEquals } from "@std/assert";
import { MAX_OUTPUT_CHARS, newRun, type Run } from "@/lib/jobpro/run.ts";
import { type Batch, emptyBatch } from "@/lib/jobpro/store.ts";
import type { OpenedStore } from "./store_contract.ts";
import { job, T0 } from "./store_contract.ts";

const batch = (b: Partial<Batch>): Batch => ({ ...emptyBatch(), ...b });

function going(id: number): Run {
  return newRun({
    id,
    jobId: "a",
    trigger: "manual",
    attempt: 1,
    scheduledFor: null,
    now: T0 + 1000,
  });
}

const out = (runId: number, offset: number, text: string) => ({
  jobId: "a",
  runId,
  offset,
  text,
});

/** Registers the live output cases on a store's contract suite. */
export function outputContract(
  test: (title: string, fn: (o: OpenedStore) => Promise<void>) => void,
): void {
  test("a running run's output so far is written to its row with its offset; a finished run's is left alone", async (o) => {
    await o.store.write(batch({
      puts: [{ job: job("a"), expected: null }],
      started: [going(1), going(2)],
    }));
    await o.store.write(batch({
      outputs: [out(1, 0, "one\n")],
      events: [{ type: "run-output", jobId: "a", runId: 1 }],
    }));
    let r = await o.store.getRun("a", 1);
    assertEquals([r?.status, r?.output, r?.outputOffset], [
      "running",
      "one\n",
      0,
    ]);
    const [logged] = (await o.store.eventsSince(0))!.filter((e) =>
      e.type === "run-output"
    );
    assertEquals(
      [logged.type, logged.jobId, "runId" in logged && logged.runId],
      [
        "run-output",
        "a",
        1,
      ],
    );
    const long = "x".repeat(MAX_OUTPUT_CHARS);
    await o.store.write(batch({ outputs: [out(1, 250, long)] }));
    r = await o.store.getRun("a", 1);
    assertEquals([r?.output, r?.outputOffset], [long, 250]);
    // Finished in the same batch as its last output: the finish's output stays.
    const fin: Run = {
      ...going(2),
      status: "complete",
      endedAt: T0 + 2000,
      durationMs: 1000,
      output: "final\n",
    };
    await o.store.write(batch({
      outputs: [out(2, 0, "fin")],
      finished: [fin],
    }));
    await o.store.write(batch({ outputs: [out(2, 0, "late")] }));
    const f = await o.store.getRun("a", 2);
    assertEquals([f?.status, f?.output, f?.outputOffset], [
      "complete",
      "final\n",
      undefined,
    ]);
    // A dead process's run keeps its output so far, cut as a finished one's.
    const again = await o.reopen();
    assertEquals((await again.getRun("a", 1))?.outputOffset, 250);
    const [ended] = await again.recoverInterrupted(T0 + 3000);
    assertEquals([ended.id, ended.error], [1, "interrupted"]);
    assertEquals(ended.output, "…" + long.slice(1));
    const stored = await again.getRun("a", 1);
    assertEquals([stored?.output, stored?.outputOffset], [
      "…" + long.slice(1),
      undefined,
    ]);
  });
}
