/**
 * A jobpro server for benchmarks, run as its own process so the load
 * generator does not share its event loop. Prints one JSON line when ready:
 * `{ "url", "startupMs", "pid" }`. On SIGTERM it writes what it observed
 * (fire lateness, event commit times, pruning) to BENCH_OUT, then exits.
 *
 * ```sh
 * JOBPRO_DB=/tmp/b.duckdb deno run -A bench/server.ts --jobs 10000
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { readConfig } from "@/lib/config.ts";
import { startJobpro } from "@/main.ts";

const { values } = parseArgs({
  options: {
    jobs: { type: "string", default: "0" },
    periodic: { type: "string", default: "0" },
  },
});

/** What the server saw, written on exit. */
export interface Observed {
  /** [scheduled epoch ms, lateness ms] of each scheduled run start. */
  fires: [number, number][];
  /** Event seq → publish time (after commit), for job-update events. */
  commits: Record<string, number>;
  /** [start, end] epoch ms of the pruning at start, from its log line. */
  prune: [number, number] | null;
}

const observed: Observed = { fires: [], commits: {}, prune: null };
// Pruning starts inside start-up, right after the jobs are restored.
const pruneStart = Date.now();
const t0 = performance.now();
const jp = await startJobpro(
  readConfig({ ...Deno.env.toObject(), PORT: "0" }),
  {
    quiet: true,
    log: (_level, message) => {
      if (message.startsWith("pruned")) {
        observed.prune = [
          pruneStart,
          Date.now(),
        ];
      }
    },
  },
);
const startupMs = performance.now() - t0;
const m = jp.manager;
m.events.subscribe((e) => {
  if (e.type === "run-started" && e.run.scheduledFor) {
    const due = Date.parse(e.run.scheduledFor);
    observed.fires.push([due, Date.parse(e.run.startedAt) - due]);
  } else if (e.type === "job-update") {
    observed.commits[e.seq] = e.at;
  }
});

async function createMany(n: number, schedule: string, prefix: string) {
  for (let i = 0; i < n; i += 1000) {
    await Promise.all(
      Array.from({ length: Math.min(1000, n - i) }, (_, k) =>
        m.create({
          id: `${prefix}-${i + k}`,
          name: `${prefix} ${i + k}`,
          schedule,
          autoStart: schedule !== "",
          action: { type: "function", name: "noop" },
        })),
    );
  }
}
if (m.size === 0) {
  await createMany(Number(values.jobs), "", "job");
  await createMany(Number(values.periodic), "* * * * * *", "tick");
}

console.log(
  JSON.stringify({
    url: jp.url,
    startupMs: Math.round(startupMs),
    pid: Deno.pid,
  }),
);

Deno.addSignalListener("SIGTERM", async () => {
  await jp.close();
  const out = Deno.env.get("BENCH_OUT");
  if (out) await Deno.writeTextFile(out, JSON.stringify(observed));
  Deno.exit(0);
});

if (Deno.env.get("BENCH_MEM")) {
  // Where memory goes, for investigations: BENCH_MEM=1 deno task bench live
  setInterval(() => {
    const m = Deno.memoryUsage();
    const mb = (n: number) => Math.round(n / 1e6);
    console.error(
      `mem rss ${mb(m.rss)} heapUsed ${mb(m.heapUsed)} heapTotal ${
        mb(m.heapTotal)
      } external ${mb(m.external)}`,
    );
  }, 3000);
}
