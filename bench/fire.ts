/**
 * Fire precision: lateness = run start minus scheduled time, for jobpro and for
 * bare croner instances that only record their lateness, in the same run.
 * Also checks that no tick is missed or doubled.
 *
 * ```sh
 * deno run -A bench/fire.ts
 * ```
 * @module
 */
import { Cron } from "croner";
import { createManager, openDuckDBStore } from "@/lib/jobpro/mod.ts";
import { percentile, round, until } from "./stats.ts";

/** One scenario: how many jobs, on which schedule, for how long. */
export interface FireCase {
  name: string;
  jobs: number;
  /** Cron with seconds; every job gets the same one. */
  schedule: (startSecond: number) => string;
  /** Seconds to observe. */
  seconds: number;
  targetP99Ms: number;
}

/** Lateness samples and the tick audit of one side. */
export interface FireResult {
  p50: number;
  p99: number;
  max: number;
  fires: number;
  /** Ticks due in the window that did not run, and ticks that ran twice. */
  missed: number;
  doubled: number;
}

function summarize(
  late: number[],
  missed: number,
  doubled: number,
): FireResult {
  return {
    p50: round(percentile(late, 0.5), 2),
    p99: round(percentile(late, 0.99), 2),
    max: round(Math.max(...late), 2),
    fires: late.length,
    missed,
    doubled,
  };
}

/** Due instants of `cron` within [from, to]. */
function ticks(cron: string, from: number, to: number): number[] {
  const c = new Cron(cron, { paused: true });
  const out: number[] = [];
  for (
    let t = c.nextRun(new Date(from - 1));
    t && t.getTime() <= to;
    t = c.nextRun(t)
  ) {
    out.push(t.getTime());
  }
  return out;
}

/** Counts, per job, expected ticks in the window that ran zero or 2+ times. */
function audit(
  seen: Map<string, number[]>,
  expected: number[],
  jobs: string[],
) {
  let missed = 0, doubled = 0;
  for (const id of jobs) {
    const times = seen.get(id) ?? [];
    for (const t of expected) {
      const n = times.filter((x) => x === t).length;
      if (n === 0) missed++;
      if (n > 1) doubled++;
    }
  }
  return { missed, doubled };
}

/** Bare croner: one instance per job, recording only lateness. */
export async function croner(c: FireCase): Promise<FireResult> {
  // Room to create the instances (10,000 take a couple of seconds) before the window.
  const start = Math.ceil(Date.now() / 1000) * 1000 + 2000 +
    Math.ceil(c.jobs / 2000) * 1000;
  const expr = c.schedule(new Date(start).getUTCSeconds());
  const late: number[] = [];
  const seen = new Map<string, number[]>();
  const end = start + c.seconds * 1000 - 1;
  const jobs = Array.from({ length: c.jobs }, (_, i) => `j${i}`);
  const crons = jobs.map((id) =>
    new Cron(expr, () => {
      const now = Date.now();
      // The nearest second: a callback that comes a little early counts as
      // early (negative), not as a second late.
      const due = Math.round(now / 1000) * 1000;
      if (due < start || due > end) return;
      late.push(now - due);
      const list = seen.get(id) ?? [];
      list.push(due);
      seen.set(id, list);
    })
  );
  await until(end + 1500);
  for (const cr of crons) cr.stop();
  const { missed, doubled } = audit(seen, ticks(expr, start, end), jobs);
  return summarize(late, missed, doubled);
}

/** Runs `fn` over `items` in concurrent chunks (group commit coalesces each chunk). */
async function chunked<T>(
  items: T[],
  fn: (item: T) => Promise<unknown>,
  size = 1000,
) {
  for (let i = 0; i < items.length; i += size) {
    await Promise.all(items.slice(i, i + size).map(fn));
  }
}

/** jobpro: the real manager on a real DuckDB file, noop function jobs. */
export async function jobpro(c: FireCase): Promise<FireResult> {
  const dir = await Deno.makeTempDir({ prefix: "jobpro-bench-" });
  const manager = await createManager({
    store: await openDuckDBStore(`${dir}/b.duckdb`),
    log: () => {},
  });
  try {
    const jobs = Array.from({ length: c.jobs }, (_, i) => `j${i}`);
    const action = { type: "function", name: "noop" };
    await chunked(
      jobs,
      (id) =>
        manager.create({
          id,
          name: id,
          schedule: "",
          autoStart: false,
          action,
        }),
    );
    // Pick the window only now that the jobs exist, then arm them all; the
    // window opens 4 s later, once arming them (and its commits) is over.
    const start = Math.ceil(Date.now() / 1000) * 1000 + 4000;
    const expr = c.schedule(new Date(start).getUTCSeconds());
    const end = start + c.seconds * 1000 - 1;
    const late: number[] = [];
    const seen = new Map<string, number[]>();
    manager.events.subscribe((e) => {
      if (e.type !== "run-started" || !e.run.scheduledFor) return;
      const due = Date.parse(e.run.scheduledFor);
      if (due < start || due > end) return;
      late.push(Date.parse(e.run.startedAt) - due);
      const list = seen.get(e.run.jobId) ?? [];
      list.push(due);
      seen.set(e.run.jobId, list);
    });
    await chunked(jobs, (id) => manager.update(id, { schedule: expr }));
    await chunked(jobs, (id) => manager.start(id));
    await until(end + 2000);
    const { missed, doubled } = audit(seen, ticks(expr, start, end), jobs);
    return summarize(late, missed, doubled);
  } finally {
    await manager.shutdown({ graceMs: 1000 });
    await Deno.remove(dir, { recursive: true });
  }
}

/** The cases the issue names. */
export const FIRE_CASES: FireCase[] = [
  {
    name: "1,000 every-second jobs",
    jobs: 1000,
    schedule: () => "* * * * * *",
    seconds: 10,
    targetP99Ms: 5,
  },
  {
    name: "1,000 jobs due on the same second",
    jobs: 1000,
    schedule: (s) => `${s} * * * * *`,
    seconds: 1,
    targetP99Ms: 25,
  },
  {
    name: "10,000 jobs due on the same second",
    jobs: 10000,
    schedule: (s) => `${s} * * * * *`,
    seconds: 1,
    targetP99Ms: 250,
  },
];

if (import.meta.main) {
  for (const c of FIRE_CASES) {
    console.log(c.name, "croner", await croner(c));
    console.log(c.name, "jobpro", await jobpro(c));
  }
}
