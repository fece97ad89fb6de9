/**
 * Run throughput: no-op function runs executed and recorded in DuckDB,
 * counted back from the database. Baseline: the same runs recorded one row
 * per commit, as the seed did.
 *
 * ```sh
 * deno run -A bench/throughput.ts
 * ```
 * @module
 */
import {
  createManager,
  emptyBatch,
  openDuckDBStore,
  type Run,
} from "@/lib/jobpro/mod.ts";
import type { Job } from "@/lib/jobpro/job.ts";
import { round } from "./stats.ts";

/** Runs per second, and whether every executed run is in the database. */
export interface ThroughputResult {
  runs: number;
  seconds: number;
  perSecond: number;
  rows: number;
}

async function tempStore() {
  const dir = await Deno.makeTempDir({ prefix: "jobpro-bench-" });
  const store = await openDuckDBStore(`${dir}/t.duckdb`);
  return { store, dir };
}

/** jobpro: `runs` manual runs of noop over 100 jobs, asked for by four concurrent callers. */
export async function jobpro(
  runs = 200_000,
  wave = 5_000,
  callers = 1,
): Promise<ThroughputResult> {
  const { store, dir } = await tempStore();
  const manager = await createManager({ store, log: () => {} });
  try {
    const jobs = Array.from({ length: 100 }, (_, i) => `noop-${i}`);
    await Promise.all(
      jobs.map((id) =>
        manager.create({
          id,
          name: id,
          schedule: "",
          autoStart: false,
          action: { type: "function", name: "noop" },
        })
      ),
    );
    let finished = 0;
    manager.events.subscribe((e) => {
      if (e.type === "run-finished") finished++;
    });
    const t0 = performance.now();
    // Four callers, each asking for a wave of runs and waiting until their
    // starts are committed (as runNow promises) before asking for the next:
    // while one wave's batch is being committed, the others keep the engine busy.
    let next = 0;
    const caller = async () => {
      while (next < runs) {
        const n = Math.min(wave, runs - next);
        const from = next;
        next += n;
        await Promise.all(
          Array.from(
            { length: n },
            (_, k) => manager.runNow(jobs[(from + k) % jobs.length]),
          ),
        );
      }
    };
    await Promise.all(Array.from({ length: callers }, caller));
    // Everything executed is recorded once the writer is drained.
    let rows = 0;
    for (const id of jobs) rows += (await manager.runs(id, { limit: 0 })).total;
    const seconds = (performance.now() - t0) / 1000;
    if (finished !== runs) {
      throw new Error(`executed ${finished} of ${runs} runs`);
    }
    return {
      runs,
      seconds: round(seconds, 2),
      perSecond: Math.round(runs / seconds),
      rows,
    };
  } finally {
    await manager.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

/** The seed's way: one run, one commit. Measured on fewer runs; the rate is what counts. */
export async function baseline(runs = 1_000): Promise<ThroughputResult> {
  const { store, dir } = await tempStore();
  try {
    // The job first: a store keeps no runs of a job it does not hold.
    const now = Date.now();
    const job: Job = {
      id: "noop",
      name: "noop",
      type: "periodic",
      schedule: "",
      timezone: null,
      action: { type: "function", name: "noop" },
      timeoutMs: null,
      retries: 0,
      retryDelayMs: 1000,
      overlap: "allow",
      catchUp: "skip",
      autoStart: false,
      tags: [],
      status: "created",
      nextRunAt: null,
      createdAt: now,
      updatedAt: now,
      version: 1,
    };
    await store.write({ ...emptyBatch(), puts: [{ job, expected: null }] });
    const t0 = performance.now();
    for (let i = 1; i <= runs; i++) {
      const now = Date.now();
      const run: Run = {
        id: i,
        jobId: "noop",
        trigger: "manual",
        attempt: 1,
        scheduledFor: null,
        startedAt: now,
        endedAt: now,
        durationMs: 0,
        status: "complete",
        message: "ok",
        error: null,
        output: null,
      };
      await store.write({ ...emptyBatch(), finished: [run] });
    }
    const seconds = (performance.now() - t0) / 1000;
    const { total } = await store.listRuns("noop", { limit: 0 });
    return {
      runs,
      seconds: round(seconds, 2),
      perSecond: Math.round(runs / seconds),
      rows: total,
    };
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  console.log("baseline", await baseline());
  console.log("jobpro", await jobpro());
}
