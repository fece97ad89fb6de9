/**
 * Scale: 100,000 periodic jobs (minute crons spread over the hour) and
 * 10,000,000 runs, 1,000,000 of them old enough to prune. Measures start-up,
 * RSS, list and stats time, and fire lateness while the old runs are pruned.
 *
 * ```sh
 * deno run -A bench/scale.ts
 * ```
 * @module
 */
import { DuckDBInstance } from "@duckdb/node-api";
import { openDuckDBStore } from "@/lib/jobpro/mod.ts";
import type { Observed } from "./server.ts";
import { spawnServer } from "./process.ts";
import { percentile, round, rssOfPid } from "./stats.ts";

/** What the scale benchmark measured. */
export interface ScaleResult {
  jobs: number;
  runs: number;
  generateSeconds: number;
  startupMs: number;
  rssMb: number;
  listP50Ms: number;
  statsP50Ms: number;
  pruned: boolean;
  pruneSeconds: number;
  firesDuringPrune: number;
  maxLatenessDuringPruneMs: number;
  p99LatenessDuringPruneMs: number;
}

/**
 * Writes the data set straight into a jobpro database file: the jobs with
 * their next tick already claimed (as a running server leaves them), and the
 * runs spread over the last 6 days plus `old` runs 8 days back.
 */
export async function generate(
  path: string,
  jobs: number,
  runs: number,
  old: number,
) {
  await (await openDuckDBStore(path)).close(); // creates the schema
  const db = await DuckDBInstance.create(path);
  const c = await db.connect();
  // Job i: second i % 60, minute (i / 60) % 60 of every hour.
  // Columns by name: those added later (tags, alerts, ...) take their defaults.
  await c.run(`INSERT INTO jobs (id, name, type, schedule, timezone, action,
      timeout_ms, retries, retry_delay_ms, overlap, catch_up, auto_start, status,
      next_run_at, created_at, updated_at, run_count, success_count, last_run,
      key, version, tags)
    SELECT 'job-' || i, 'Job ' || i, 'periodic',
      (i % 60) || ' ' || ((i // 60) % 60) || ' * * * *', NULL,
      '{"type":"function","name":"noop"}', NULL, 0, 1000, 'skip', 'skip', true, 'scheduled',
      CASE WHEN t < now()::TIMESTAMP THEN t + INTERVAL 1 HOUR ELSE t END,
      now()::TIMESTAMP, now()::TIMESTAMP, 100, 90, NULL, i + 1, 1, '[]'
    FROM (SELECT i, date_trunc('hour', now()::TIMESTAMP) + to_seconds((((i // 60) % 60) * 60 + i % 60)::BIGINT) AS t
          FROM range(${jobs}) r(i))`);
  const recent = runs - old;
  await c.run(
    `INSERT INTO runs (id, job_key, job_id, trigger, attempt, scheduled_for,
      started_at, ended_at, duration_ms, status, message, error, output)
    SELECT i + 1, (i % ${jobs}) + 1, 'job-' || (i % ${jobs}), 'schedule', 1, ts, ts,
      ts + INTERVAL 5 MILLISECOND, 5, CASE WHEN i % 10 = 0 THEN 'failed' ELSE 'complete' END, 'ok',
      CASE WHEN i % 10 = 0 THEN 'boom' END, NULL
    FROM (SELECT i, CASE WHEN i < ${old}
        THEN now()::TIMESTAMP - INTERVAL 8 DAY - to_microseconds(i::BIGINT)
        ELSE now()::TIMESTAMP - INTERVAL 6 DAY + to_microseconds(((i - ${old}) * (518400000000 // ${recent}))::BIGINT)
      END AS ts FROM range(${runs}) r(i))`,
  );
  c.closeSync();
  db.closeSync();
}

async function timed(
  url: string,
  n: number,
  headers: HeadersInit = {},
): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await fetch(url, { headers });
    const body = await res.text();
    if (!res.ok) throw new Error(`${url}: ${res.status} ${body}`);
    if (!res.ok) {
      throw new Error(
        `${url}: ${res.status} ${
          new TextDecoder().decode(
            await res.arrayBuffer().catch(() => new ArrayBuffer(0)),
          )
        }`,
      );
    }
    times.push(performance.now() - t0);
  }
  return round(percentile(times, 0.5));
}

/**
 * Runs the scale benchmark.
 *
 * @example
 * ```ts
 * await scaleBench({ jobs: 1000, runs: 100_000, old: 10_000 });
 * ```
 */
export async function scaleBench(
  { jobs = 100_000, runs = 10_000_000, old = 1_000_000, watchSeconds = 15 } =
    {},
): Promise<ScaleResult> {
  const dir = await Deno.makeTempDir({ prefix: "jobpro-bench-" });
  const path = `${dir}/scale.duckdb`;
  const out = `${dir}/observed.json`;
  try {
    const t0 = performance.now();
    await generate(path, jobs, runs, old);
    const generateSeconds = round((performance.now() - t0) / 1000);
    const srv = await spawnServer([], { JOBPRO_DB: path, BENCH_OUT: out });
    const rssMb = round(rssOfPid(srv.pid));
    const json = { accept: "application/json" };
    const listP50Ms = await timed(`${srv.url}/jobs?limit=50`, 30, json);
    const statsP50Ms = await timed(`${srv.url}/jobs/job-4242/stats`, 30, json);
    // Keep firing while the start-up pruning runs (and a little after).
    await new Promise((r) => setTimeout(r, watchSeconds * 1000));
    await srv.stop();
    const observed: Observed = JSON.parse(await Deno.readTextFile(out));
    const [from, to] = observed.prune ?? [0, 0];
    // Fires from the start of pruning until 2 s after it ended: ticks come in
    // bursts on second boundaries, and a delay it caused would show there.
    const during = observed.fires.filter(([due]) =>
      due >= from && due <= to + 2000
    )
      .map(([, late]) => late);
    return {
      jobs,
      runs,
      generateSeconds,
      startupMs: srv.startupMs,
      rssMb,
      listP50Ms,
      statsP50Ms,
      pruned: observed.prune !== null,
      pruneSeconds: round((to - from) / 1000),
      firesDuringPrune: during.length,
      maxLatenessDuringPruneMs: during.length ? Math.max(...during) : NaN,
      p99LatenessDuringPruneMs: round(percentile(during, 0.99)),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) console.log(await scaleBench());
