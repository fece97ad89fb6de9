/**
 * The cluster section of `deno task bench`: jobpro on PostgreSQL with 1, 2
 * and 3 nodes, the DuckDB single node, and the peers users would pick instead
 * (pg-boss and graphile-worker from npm), measured side by side in one run on
 * one embedded PostgreSQL (tests/pg/server.ts), each system in a database of
 * its own (jobpro's configurations in schemas of their own), each doing the
 * same no-op work.
 *
 * - Minute boundary (shared by all): 200 per-minute schedules per system,
 *   armed together before one minute boundary; each run POSTs to a local
 *   target (jobpro: an `http` action; the peers: a handler making the same
 *   POST), and lateness is the target's receipt minus the minute. jobpro runs
 *   it on 1 node and on 3 nodes.
 * - Per configuration of jobpro (real `deno task start` processes):
 *   - run now: 1,000 `POST /jobs/:id/run` of no-op `function` jobs (`noop`),
 *     32 at a time over the nodes; runs/s = runs / (time until the runs table
 *     holds them all finished, polled every 50 ms, minus the first call);
 *   - burst: 1,000 no-op jobs all due at one second; runs/s = runs / (time
 *     until all are recorded finished minus that second), 5 bursts in a
 *     row and their median (so for the peers too);
 *   - 200 every-second `http` jobs to a local target for 10 s: lateness
 *     (receipt minus tick), ticks missed and doubled (tests/cluster/harness.ts);
 *   - 3 nodes: failover, SIGKILL of one node 30 ms after a tick, the lateness of
 *     its jobs' next tick on the survivors; each node is killed once in turn
 *     (and restarted before the next).
 * - The peers' throughput, the same shapes: `send()` / `addJob()` one call per
 *   job 32 at a time from a client process, executed by a worker process
 *   (the "run now" figure), and the same calls with every job due at one
 *   instant (`startAfter` / `runAt`; the "burst" figure).
 *
 * ```sh
 * deno task bench cluster      # only this section (BENCH_CLUSTER=1 too)
 * deno run -A bench/cluster.ts # the figures as JSON
 * ```
 * @module
 */
import pg from "pg";
import { query, startPostgres } from "../tests/pg/server.ts";
import {
  analyze,
  api,
  checkInvariants,
  type Cluster,
  type ClusterNode,
  createEveryJobs,
  readRuns,
  startCluster,
  startTarget,
  type Stats,
  stats,
  type Target,
} from "../tests/cluster/harness.ts";
import { pool, startProcess } from "../tests/reliability/helpers.ts";
import { PEER_SETTINGS, type PeerProcess, spawnPeer } from "./cluster_peers.ts";
import { round } from "./stats.ts";

/** Sizes of the section; BENCH_CLUSTER_* env vars override them. */
export const SIZES = {
  /** Every-second jobs (fire lateness) and per-minute schedules per system. */
  every: envInt("BENCH_CLUSTER_EVERY", 200),
  minute: envInt("BENCH_CLUSTER_MINUTE", 200),
  /** Runs of the throughput measures. */
  runs: envInt("BENCH_CLUSTER_RUNS", 1000),
  /** Calls in flight at once (run now, send, addJob, job creation). */
  concurrency: 32,
  /** Seconds of every-second ticks observed per configuration. */
  windowSeconds: envInt("BENCH_CLUSTER_WINDOW", 10),
  /** SIGKILLs in the failover measure (one per node in turn). */
  kills: envInt("BENCH_CLUSTER_KILLS", 3),
  /**
   * Bursts per system, the median reported: a peer's worker finds jobs
   * due by polling (every 500 ms at the fastest), so one burst measures
   * where its poll fell (graphile-worker 1 worker gave 15,385/s in one run
   * and 3,650/s in the next).
   */
  bursts: envInt("BENCH_CLUSTER_BURSTS", 5),
};

function envInt(name: string, dflt: number): number {
  const v = Number(Deno.env.get(name));
  return Number.isFinite(v) && v > 0 ? v : dflt;
}

/** Lateness figures, ms. */
export interface Late {
  p50: number;
  p99: number;
  max: number;
  n: number;
  /** Expected executions that never came. */
  missing: number;
}

/** A throughput figure. */
export interface Rate {
  runs: number;
  /** Runs recorded within the deadline. */
  recorded: number;
  /** From the start (first call, or the due second) to the last recorded, ms. */
  ms: number;
  perSecond: number;
  /** Calls (or creations) per second of the client side. */
  submitPerSecond: number;
  note?: string;
  /** A median of several: how many, and the lowest and highest rate. */
  of?: { n: number; min: number; max: number };
}

/**
 * The median of several measures of one rate (by runs per second), with
 * their range; a failed one counts as the lowest, and is noted.
 */
export function medianRate(rs: (Rate | string)[]): Rate | string {
  const ok = rs.filter((r): r is Rate => typeof r !== "string");
  const failed = rs.filter((r): r is string => typeof r === "string");
  if (!ok.length) return failed[0] ?? "not run";
  const all = [...ok].sort((a, b) => a.perSecond - b.perSecond);
  const ranked = [...failed.map(() => null), ...all];
  const mid = ranked[Math.floor(ranked.length / 2)] ?? all[0];
  const notes = [
    ...failed.length ? [`${failed.length} failed, first: ${failed[0]}`] : [],
    ...ok.flatMap((r) => r.note ? [r.note] : []),
  ];
  return {
    ...mid,
    note: notes.length ? [...new Set(notes)].join("; ") : undefined,
    of: {
      n: rs.length,
      min: failed.length ? 0 : all[0].perSecond,
      max: all[all.length - 1].perSecond,
    },
  };
}

/** What one configuration of jobpro measured. */
export interface JobproFigures {
  label: string;
  runNow: Rate | string;
  burst: Rate | string;
  every:
    | (Late & {
      missed: number;
      doubled: number;
      /** The same ticks as the runs table records them (started_at − tick). */
      recorded?: Late;
    })
    | string;
  failover?:
    | (Late & { kills: number; missed: number; doubled: number })
    | string;
  /** Warnings and errors in the nodes' logs, by message, with counts. */
  logNotes: string[];
}

/** What a peer measured. */
export interface PeerFigures {
  system: "pgboss" | "graphile";
  minute: Late | string;
  /** With one worker process. */
  runNow: Rate | string;
  burst: Rate | string;
  /** With three worker processes (as many as jobpro's nodes), on a database of their own. */
  runNow3: Rate | string;
  burst3: Rate | string;
}

/** The whole section. */
export interface ClusterReport {
  startedAt: string;
  seconds: number;
  postgres: string;
  minute: {
    at: string;
    jobpro1: Late | string;
    jobpro3: Late | string;
  };
  jobpro: JobproFigures[];
  peers: PeerFigures[];
  notes: string[];
  /** Other work on the machine meanwhile. */
  machine?: MachineWatch;
}

const sleep = (ms: number) =>
  new Promise((r) => setTimeout(r, Math.max(0, ms)));
const msg = (e: unknown) =>
  e instanceof Error ? e.message.split("\n")[0] : String(e);

function late(values: number[], missing = 0): Late {
  const s: Stats = stats(values);
  return {
    p50: Math.round(s.p50),
    p99: Math.round(s.p99),
    max: Math.round(s.max),
    n: s.count,
    missing,
  };
}

/** What a poll of the recorded runs saw. */
interface Counted {
  /** When the count reached the runs asked for; null if it never did. */
  doneAt: number | null;
  recorded: number;
  /** When the count last grew. */
  lastAt: number;
}

/**
 * Polls `count` every 50 ms until it reaches `m`, `deadline` passes, or it
 * has not grown for `stallMs` (runs that will never be recorded).
 */
async function untilCount(
  count: () => Promise<number>,
  m: number,
  deadline: number,
  stallMs = 10_000,
): Promise<Counted> {
  let recorded = 0, lastAt = Date.now();
  for (;;) {
    try {
      const n = await count();
      if (n > recorded) lastAt = Date.now();
      recorded = Math.max(recorded, n);
    } catch { /* a poll failed: try again */ }
    if (recorded >= m) return { doneAt: Date.now(), recorded, lastAt };
    if (Date.now() > deadline || Date.now() - lastAt > stallMs) {
      return { doneAt: null, recorded, lastAt };
    }
    await sleep(50);
  }
}

function rate(
  m: number,
  from: number,
  done: Counted,
  submitMs: number,
  note?: string,
): Rate {
  // Short of them all: the rate up to the last run that was recorded.
  const end = done.doneAt ?? done.lastAt;
  const ms = Math.max(1, end - from);
  const notes = [
    ...(done.doneAt === null
      ? [
        `**${
          m - done.recorded
        } of ${m} never recorded** (no progress for 10 s)`,
      ]
      : []),
    ...(note ? [note] : []),
  ];
  return {
    runs: m,
    recorded: done.recorded,
    ms,
    perSecond: Math.round(done.recorded / (ms / 1000)),
    submitPerSecond: Math.round(m / (Math.max(1, submitMs) / 1000)),
    ...(notes.length ? { note: notes.join("; ") } : {}),
  };
}

/** Warnings and errors of the nodes' logs, grouped by message. */
function logNotes(logs: string[]): string[] {
  const counts = new Map<string, number>();
  let skipped = 0;
  for (const log of logs) {
    for (const line of log.split("\n")) {
      if (/skipped, previous run still going/.test(line)) {
        skipped++;
        continue;
      }
      if (!/\b(warn|error|panic|uncaught)\b/i.test(line)) continue;
      const key = line.replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, "<t>")
        .replace(/\b(epoch|pid|run) \d+/g, "$1 N")
        .replace(/\d+/g, "N").slice(0, 220);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  const out = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 8)
    .map(([k, n]) => `${n}x ${k}`);
  if (skipped) {
    out.push(`${skipped}x tick skipped, previous run still going (overlap)`);
  }
  return out;
}

// -------------------------------------------------------------- jobpro

/** One jobpro configuration under test: nodes to call, a way to count runs. */
interface Under {
  label: string;
  nodes: ClusterNode[];
  /** Finished runs of jobs whose id starts with `prefix`. */
  count(prefix: string): Promise<number>;
  logs(): string[];
  close(): Promise<void>;
  cluster?: Cluster;
}

/** A PostgreSQL client kept open for polling. */
async function pgClient(url: string): Promise<pg.Client> {
  const c = new pg.Client(url);
  c.on("error", () => {});
  await c.connect();
  return c;
}

async function pgUnder(
  label: string,
  nodes: number,
  url: string,
): Promise<Under> {
  const cluster = await startCluster({
    nodes,
    pg: { url: () => url },
    logRuns: false,
  });
  const client = await pgClient(url);
  return {
    label,
    nodes: cluster.nodes,
    cluster,
    async count(prefix) {
      const { rows } = await client.query(
        `SELECT count(*)::int AS n FROM ${cluster.schema}.runs
          WHERE job_id LIKE $1 AND NOT running`,
        [`${prefix}%`],
      );
      return rows[0].n;
    },
    logs: () => cluster.nodes.map((n) => n.log()),
    async close() {
      await client.end().catch(() => {});
      await cluster.close();
    },
  };
}

const TOKEN = `bench-${crypto.randomUUID()}`;

async function duckUnder(): Promise<Under> {
  const dir = await Deno.makeTempDir({ prefix: "jobpro-bench-cluster-" });
  const proc = await startProcess({
    JOBPRO_DB: `${dir}/jobs.duckdb`,
    JOBPRO_TOKEN: TOKEN,
  });
  const node = { url: proc.url, token: TOKEN, name: "duckdb" } as ClusterNode;
  return {
    label: "DuckDB single node",
    nodes: [node],
    // DuckDB's file is the process's own: count from its metrics, which
    // count a run once its finish is committed.
    async count(prefix) {
      const res = await fetch(`${proc.url}/metrics`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      const text = await res.text();
      let n = 0;
      const re = new RegExp(
        `^jobpro_runs_total\\{job="${prefix}[^"]*",status="(\\w+)"\\} (\\d+)$`,
        "gm",
      );
      for (const m of text.matchAll(re)) {
        if (m[1] !== "running") n += Number(m[2]);
      }
      return n;
    },
    logs: () => [proc.log()],
    async close() {
      await proc.stop(5000).catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

async function createJobs(
  u: Under,
  ids: string[],
  schedule: string,
): Promise<{ ms: number; errors: string[] }> {
  const errors: string[] = [];
  const t0 = Date.now();
  await pool(ids, SIZES.concurrency, async (id, i) => {
    try {
      const r = await api(u.nodes[i % u.nodes.length], "POST", "/jobs", {
        id,
        name: id,
        schedule,
        // A manual job (schedule "") would otherwise run once at creation.
        ...(schedule === "" ? { autoStart: false } : {}),
        action: { type: "function", name: "noop" },
      });
      if (r.status !== 201) errors.push(`${r.status} ${r.text.slice(0, 160)}`);
    } catch (e) {
      errors.push(msg(e));
    }
  });
  return { ms: Date.now() - t0, errors };
}

/** Jobs created per second by the last {@link runNow}, to time the burst. */
let lastCreateRate = 100;

/** 1,000 run-now calls over the nodes; runs recorded per second. */
async function runNow(u: Under): Promise<Rate> {
  const m = SIZES.runs;
  const ids = Array.from({ length: m }, (_, i) => `r-${i}`);
  const made = await createJobs(u, ids, "");
  lastCreateRate = m / (Math.max(1, made.ms) / 1000);
  if (made.errors.length) {
    throw new Error(`creating the jobs: ${made.errors[0]}`);
  }
  const errors: string[] = [];
  const t0 = Date.now();
  await pool(ids, SIZES.concurrency, async (id, i) => {
    try {
      const r = await api(
        u.nodes[i % u.nodes.length],
        "POST",
        `/jobs/${id}/run`,
      );
      if (r.status !== 200) errors.push(`${r.status} ${r.text.slice(0, 160)}`);
    } catch (e) {
      errors.push(msg(e));
    }
  });
  const submitMs = Date.now() - t0;
  const deadline = Date.now() + 60_000;
  const done = await untilCount(() => u.count("r-"), m, deadline);
  return rate(
    m,
    t0,
    done,
    submitMs,
    errors.length
      ? `${errors.length} calls refused, first: ${errors[0]}`
      : undefined,
  );
}

/**
 * One burst of a peer: `m` jobs sent due at one second (`startAfter` /
 * `runAt`), after `sent` sent to the queue before; `completed(total)`
 * counts the queue's completed jobs of `total` sent.
 */
async function peerBurst(
  prod: PeerProcess,
  completed: (total: number) => Promise<number>,
  { sendRate, sent }: { sendRate: number; sent: number },
): Promise<Rate | string> {
  const m = SIZES.runs;
  try {
    const base = await completed(sent);
    const at = secondAfter((m / sendRate) * 1000 * 1.5 + 2000);
    const a = await prod.send({
      cmd: "send",
      queue: "burst",
      m,
      concurrency: SIZES.concurrency,
      at,
    });
    const deadline = at + 60_000;
    await sleep(at - Date.now() - 200);
    const done = await untilCount(
      async () => (await completed(sent + m)) - base,
      m,
      deadline,
    );
    return rate(
      m,
      at,
      done,
      a.endedAt - a.startedAt,
      a.endedAt > at
        ? `sending ended ${a.endedAt - at} ms after the due second`
        : a.errors
        ? `${a.errors} calls failed: ${a.firstError}`
        : undefined,
    );
  } catch (e) {
    return `failed: ${msg(e)}`;
  }
}

/** A second `ms` or more from now, whole. */
const secondAfter = (ms: number) => Math.ceil((Date.now() + ms) / 1000) * 1000;

/** {@link SIZES.bursts} bursts, one after another; their median. */
async function bursts(u: Under, createRate: number): Promise<Rate | string> {
  const out: (Rate | string)[] = [];
  for (let k = 0; k < SIZES.bursts; k++) {
    try {
      out.push(await burst(u, createRate, `b${k}-`));
    } catch (e) {
      out.push(`failed: ${msg(e)}`);
    }
  }
  return medianRate(out);
}

/** 1,000 jobs due at one second; runs recorded per second from it. */
async function burst(
  u: Under,
  createRate: number,
  prefix: string,
): Promise<Rate> {
  const m = SIZES.runs;
  // Due once everything is created (at the rate creation went before, with room).
  const at = secondAfter((m / Math.max(1, createRate)) * 1000 * 1.5 + 2000);
  const d = new Date(at);
  const ids = Array.from({ length: m }, (_, i) => `${prefix}${i}`);
  const made = await createJobs(
    u,
    ids,
    `${d.getUTCSeconds()} ${d.getUTCMinutes()} * * * *`,
  );
  if (made.errors.length) {
    throw new Error(`creating the jobs: ${made.errors[0]}`);
  }
  const createdAt = Date.now();
  const deadline = at + 60_000;
  await sleep(at - Date.now() - 200);
  const done = await untilCount(() => u.count(prefix), m, deadline);
  // Gone before the next: the measures after see the jobs they had before.
  for (let i = 0; i < ids.length; i += 1000) {
    await api(u.nodes[0], "POST", "/jobs/bulk", {
      action: "delete",
      ids: ids.slice(i, i + 1000),
    }).catch(() => {});
  }
  return rate(
    m,
    at,
    done,
    made.ms,
    createdAt > at
      ? `creation ended ${createdAt - at} ms after the due second`
      : undefined,
  );
}

/** 200 every-second http jobs for the window: lateness, missed, doubled. */
async function every(u: Under, target: Target) {
  const jobs = await createEveryJobs(u.nodes[0], SIZES.every, target, {
    concurrency: 16,
  });
  await sleep(2000);
  const from = Date.now();
  await sleep(SIZES.windowSeconds * 1000 + 1000);
  const to = Date.now();
  const report = u.cluster
    ? await checkInvariants({
      target,
      pg: u.cluster.pg,
      schema: u.cluster.schema,
      from,
      to,
      jobs,
      settleMs: 5000,
    })
    : (await sleep(1500),
      analyze({ executions: target.executions(), runs: [], from, to, jobs }));
  // What the runs table says of the same ticks: the start it recorded,
  // before its commit let the action go.
  let recorded: Late | undefined;
  if (u.cluster) {
    const rows = await readRuns(u.cluster.pg, u.cluster.schema, jobs, from, to);
    recorded = late(
      rows.filter((r) =>
        r.scheduledFor !== null && r.scheduledFor >= report.first &&
        r.scheduledFor <= report.last
      ).map((r) => r.startedAt - r.scheduledFor!),
    );
  }
  return {
    jobs,
    figures: {
      ...late(report.lateValues, report.missed.length),
      missed: report.missed.length,
      doubled: report.doubled.length,
      ...(recorded ? { recorded } : {}),
    },
  };
}

/** SIGKILL of each node in turn, 30 ms after a tick; its jobs' next ticks. */
async function failover(u: Under, target: Target, jobs: string[]) {
  const cluster = u.cluster!;
  const values: number[] = [];
  let missing = 0, missed = 0, doubled = 0, kills = 0;
  for (let k = 0; k < SIZES.kills; k++) {
    const victim = cluster.nodes[k % cluster.nodes.length];
    const owned = (await cluster.query(
      `SELECT j.id FROM ${cluster.schema}.jobs j
        WHERE j.id = ANY($1) AND j.owner_epoch = (
          SELECT max(epoch) FROM ${cluster.schema}.nodes
           WHERE name = $2 AND left_at IS NULL)`,
      [jobs, victim.name],
    )).map((r) => r.id as string);
    if (!owned.length) continue;
    // 30 ms after a tick.
    await sleep(secondAfter(0) + 30 - Date.now());
    const at = Date.now();
    await victim.kill("SIGKILL");
    kills++;
    await sleep(5000);
    const r = await checkInvariants({
      target,
      pg: cluster.pg,
      schema: cluster.schema,
      from: at - 3000,
      to: Date.now(),
      jobs,
      faults: [{ at, jobs: owned }],
      settleMs: 5000,
    });
    values.push(...r.failover[0].values);
    missing += r.failover[0].missing;
    missed += r.missed.length;
    doubled += r.doubled.length;
    await victim.restart();
    await sleep(3000); // its share handed back to it
  }
  return { ...late(values, missing), kills, missed, doubled };
}

async function measureJobpro(
  make: () => Promise<Under>,
  label: string,
  withFailover: boolean,
): Promise<JobproFigures> {
  const out: JobproFigures = {
    label,
    runNow: "not run",
    burst: "not run",
    every: "not run",
    logNotes: [],
  };
  let u: Under;
  try {
    u = await make();
  } catch (e) {
    const why = `did not start: ${msg(e)}`;
    return { ...out, runNow: why, burst: why, every: why };
  }
  await using target = startTarget();
  try {
    console.log(`  ${label}: run now`);
    let createRate = 100;
    try {
      out.runNow = await runNow(u);
      // Creating r-* went at about the rate of the creations to come.
      createRate = Math.max(50, lastCreateRate);
    } catch (e) {
      out.runNow = `failed: ${msg(e)}`;
    }
    console.log(`  ${label}: burst`);
    try {
      out.burst = await bursts(u, createRate);
    } catch (e) {
      out.burst = `failed: ${msg(e)}`;
    }
    console.log(`  ${label}: every second`);
    let jobs: string[] = [];
    try {
      const r = await every(u, target);
      jobs = r.jobs;
      out.every = r.figures;
    } catch (e) {
      out.every = `failed: ${msg(e)}`;
    }
    if (withFailover) {
      console.log(`  ${label}: failover`);
      try {
        out.failover = jobs.length
          ? await failover(u, target, jobs)
          : "no every-second jobs";
      } catch (e) {
        out.failover = `failed: ${msg(e)}`;
      }
    }
  } finally {
    out.logNotes = logNotes(u.logs());
    await u.close().catch(() => {});
  }
  return out;
}

// --------------------------------------------------------------- peers

async function peerThroughput(
  system: "pgboss" | "graphile",
  url: string,
  workers: number,
): Promise<Pick<PeerFigures, "runNow" | "burst">> {
  const work: PeerProcess[] = [];
  let prod: PeerProcess | null = null;
  const client = await pgClient(url);
  const m = SIZES.runs;
  // Runs of the queue completed so far, of `sent` sent to it.
  const count = async (queue: string, sent: number) => {
    if (system === "pgboss") {
      const { rows } = await client.query(
        `SELECT count(*)::int AS n FROM pgboss.job
          WHERE name = $1 AND state = 'completed'`,
        [queue],
      );
      return rows[0].n;
    }
    // graphile-worker deletes a job when it completes.
    const { rows } = await client.query(
      `SELECT count(*)::int AS n FROM graphile_worker._private_jobs j
         JOIN graphile_worker._private_tasks t ON t.id = j.task_id
        WHERE t.identifier = $1`,
      [queue],
    );
    return sent - rows[0].n;
  };
  try {
    try {
      for (let i = 0; i < workers; i++) {
        work.push(await spawnPeer(system, "work", url));
      }
      prod = await spawnPeer(system, "produce", url);
    } catch (e) {
      const why = `did not start: ${msg(e)}`;
      return { runNow: why, burst: why };
    }
    let runNow: Rate | string;
    let sendRate = 100;
    try {
      const t0 = Date.now();
      const a = await prod.send({
        cmd: "send",
        queue: "submit",
        m,
        concurrency: SIZES.concurrency,
      });
      const deadline = Date.now() + 60_000;
      const done = await untilCount(() => count("submit", m), m, deadline);
      runNow = rate(
        m,
        t0,
        done,
        a.endedAt - a.startedAt,
        a.errors ? `${a.errors} calls failed: ${a.firstError}` : undefined,
      );
      sendRate = Math.max(50, runNow.submitPerSecond);
    } catch (e) {
      runNow = `failed: ${msg(e)}`;
    }
    const bursts: (Rate | string)[] = [];
    for (let k = 0; k < SIZES.bursts; k++) {
      bursts.push(
        await peerBurst(prod, (sent) => count("burst", sent), {
          sendRate,
          sent: k * m,
        }),
      );
    }
    return { runNow, burst: medianRate(bursts) };
  } finally {
    await prod?.stop();
    await Promise.all(work.map((w) => w.stop()));
    await client.end().catch(() => {});
  }
}

// ------------------------------------------------------ minute boundary

/** Lateness of each job's run for the minute `at`, from a target's log. */
function minuteLate(target: Target, at: number, expected: number): Late {
  const first = new Map<string, number>();
  for (const e of target.executions()) {
    if (e.scheduledFor !== at) continue;
    const seen = first.get(e.job);
    if (seen === undefined || e.receivedAt < seen) {
      first.set(e.job, e.receivedAt);
    }
  }
  const values = [...first.values()].map((t) => t - at);
  return late(values, Math.max(0, expected - values.length));
}

async function createMinuteJobs(node: ClusterNode, n: number, target: Target) {
  const ids = Array.from({ length: n }, (_, i) => `m-${i}`);
  await pool(ids, 16, async (id) => {
    const r = await api(node, "POST", "/jobs", {
      id,
      name: id,
      schedule: "0 * * * * *",
      action: { type: "http", method: "POST", url: `${target.url}/exec` },
    });
    if (r.status !== 201) {
      throw new Error(`creating ${id} answered ${r.status}: ${r.text}`);
    }
  });
}

// ---------------------------------------------------------------- main

/**
 * Runs the whole section and returns its figures.
 *
 * @example
 * ```ts
 * const r = await clusterBench();
 * console.log(r.jobpro[0].every);
 * ```
 */
export async function clusterBench(): Promise<ClusterReport> {
  const started = new Date();
  const t0 = performance.now();
  const notes: string[] = [];
  const watch = watchMachine();
  const server = await startPostgres().catch((e) => {
    watch.stop();
    throw e;
  });
  const version = (await query(server.url(), "SHOW server_version")).rows[0]
    .server_version;
  for (const db of ["jobpro", "pgboss", "graphile", "pgboss3", "graphile3"]) {
    await query(server.url(), `CREATE DATABASE ${db}`);
  }
  const url = (db: string) => server.url(db);
  const report: ClusterReport = {
    startedAt: started.toISOString(),
    seconds: 0,
    postgres: version,
    minute: { at: "", jobpro1: "not run", jobpro3: "not run" },
    jobpro: [],
    peers: [
      {
        system: "pgboss",
        minute: "not run",
        runNow: "not run",
        burst: "not run",
        runNow3: "not run",
        burst3: "not run",
      },
      {
        system: "graphile",
        minute: "not run",
        runNow: "not run",
        burst: "not run",
        runNow3: "not run",
        burst3: "not run",
      },
    ],
    notes,
  };
  try {
    // ---- one minute boundary for every system at once
    console.log("  minute boundary: arming every system");
    const n = SIZES.minute;
    const targets = {
      jobpro1: startTarget(),
      jobpro3: startTarget(),
      pgboss: startTarget(),
      graphile: startTarget(),
    };
    const armed: { stop(): Promise<void> }[] = [];
    const failed: Record<string, string> = {};
    for (const system of ["pgboss", "graphile"] as const) {
      try {
        armed.push(
          await spawnPeer(system, "cron", url(system), [
            String(n),
            targets[system].url,
          ]),
        );
      } catch (e) {
        failed[system] = `did not start: ${msg(e)}`;
      }
    }
    const minuteNodes: ClusterNode[] = [];
    for (const [key, nodes] of [["jobpro1", 1], ["jobpro3", 3]] as const) {
      try {
        const c = await startCluster({
          nodes,
          pg: { url: () => url("jobpro") },
          logRuns: false,
        });
        minuteNodes.push(...c.nodes);
        armed.push({ stop: () => c.close() });
        await createMinuteJobs(c.nodes[0], n, targets[key]);
      } catch (e) {
        failed[key] = `failed: ${msg(e)}`;
      }
    }
    // The next minute boundary at least 10 s away (every schedule armed,
    // every process past its start).
    const at = Math.ceil((Date.now() + 10_000) / 60_000) * 60_000;
    report.minute.at = new Date(at).toISOString();
    console.log(
      `  minute boundary: waiting ${round((at - Date.now()) / 1000)} s`,
    );
    const setupLogs = minuteNodes.map((x) => x.log());
    await sleep(at - Date.now() - 3000);
    const before = minuteNodes.map((x) => x.log().length);
    await sleep(at - Date.now() + 8000);
    const during = minuteNodes.map((x, i) => x.log().slice(before[i]));
    report.minute.jobpro1 = failed.jobpro1 ??
      minuteLate(targets.jobpro1, at, n);
    report.minute.jobpro3 = failed.jobpro3 ??
      minuteLate(targets.jobpro3, at, n);
    report.peers[0].minute = failed.pgboss ?? minuteLate(targets.pgboss, at, n);
    report.peers[1].minute = failed.graphile ??
      minuteLate(targets.graphile, at, n);
    await Promise.all(armed.map((a) => a.stop().catch(() => {})));
    await Promise.all(Object.values(targets).map((t) => t.close()));
    const setupNotes = logNotes(setupLogs);
    if (setupNotes.length) {
      notes.push(
        `Minute-boundary jobpro nodes, while they started and their jobs were created: ${
          setupNotes.join("; ")
        }`,
      );
    }
    const duringNotes = logNotes(during);
    notes.push(
      `Minute-boundary jobpro nodes, from 3 s before the boundary to 8 s after: ${
        duringNotes.length ? duringNotes.join("; ") : "no warning or error"
      }`,
    );

    // ---- jobpro configurations
    for (const nodes of [1, 2, 3]) {
      const label = `jobpro ${nodes} node${nodes > 1 ? "s" : ""}`;
      console.log(`  ${label}`);
      report.jobpro.push(
        await measureJobpro(
          () => pgUnder(label, nodes, url("jobpro")),
          label,
          nodes === 3,
        ),
      );
    }
    console.log("  jobpro DuckDB");
    report.jobpro.push(
      await measureJobpro(duckUnder, "DuckDB single node", false),
    );

    // ---- the peers' throughput
    for (const p of report.peers) {
      console.log(`  ${p.system}: throughput, 1 worker`);
      Object.assign(p, await peerThroughput(p.system, url(p.system), 1));
      console.log(`  ${p.system}: throughput, 3 workers`);
      const three = await peerThroughput(p.system, url(`${p.system}3`), 3);
      p.runNow3 = three.runNow;
      p.burst3 = three.burst;
    }
  } finally {
    await server.close();
    report.machine = watch.stop();
  }
  report.seconds = Math.round((performance.now() - t0) / 1000);
  return report;
}

/** Other work on the machine while the section ran. */
export interface MachineWatch {
  /** The highest 1-minute load average seen. */
  maxLoad: number;
  /** Other test or bench processes seen, with when each was first seen. */
  others: { command: string; since: string }[];
}

/**
 * Samples the load average and looks for other `deno test` / `deno task`
 * / bench processes every 2 s: the figures are only worth as much as the
 * cores were this section's.
 */
export function watchMachine(): { stop(): MachineWatch } {
  const seen = new Map<string, string>();
  let maxLoad = 0;
  // This process and the ones that started it (`deno task bench`) are ours.
  const ours = new Set<number>();
  try {
    for (let pid = Deno.pid; pid > 1 && !ours.has(pid);) {
      ours.add(pid);
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      pid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    }
  } catch { /* no /proc here */ }
  const sample = () => {
    try {
      const load = Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
      maxLoad = Math.max(maxLoad, load);
      for (const e of Deno.readDirSync("/proc")) {
        if (!/^\d+$/.test(e.name) || ours.has(Number(e.name))) continue;
        let cmd = "";
        try {
          cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`)
            .replaceAll("\0", " ").trim();
        } catch { /* gone */ }
        const m = cmd.match(/deno (test|task|bench)\b.*|bench\/main\.ts.*/);
        if (!m) continue;
        const command = m[0].replace(/^.*?deno /, "deno ").slice(0, 100);
        if (!seen.has(command)) {
          seen.set(command, new Date().toISOString().slice(11, 19));
        }
      }
    } catch { /* no /proc here */ }
  };
  sample();
  const timer = setInterval(sample, 2000);
  return {
    stop() {
      clearInterval(timer);
      return {
        maxLoad,
        others: [...seen].map(([command, since]) => ({ command, since })),
      };
    },
  };
}

// -------------------------------------------------------------- report

const fmtLate = (l: Late | string | undefined) =>
  l === undefined
    ? "–"
    : typeof l === "string"
    ? `**${l}**`
    : l.n === 0
    ? `**no run arrived** (${l.missing} missing)`
    : `${l.p50} / ${l.p99} / ${l.max} ms${
      l.missing ? ` (${l.missing} missing)` : ""
    }`;

const fmtRate = (r: Rate | string | undefined) =>
  r === undefined
    ? "–"
    : typeof r === "string"
    ? `**${r}**`
    : `${r.perSecond.toLocaleString("en")}/s (${
      r.of
        ? `median of ${r.of.n}, ${r.of.min.toLocaleString("en")}–${
          r.of.max.toLocaleString("en")
        }/s; `
        : ""
    }${r.recorded.toLocaleString("en")} in ${round(r.ms / 1000, 2)} s${
      r.note ? `; ${r.note}` : ""
    })`;

const fmtSubmit = (r: Rate | string | undefined) =>
  r === undefined || typeof r === "string"
    ? "–"
    : `${r.submitPerSecond.toLocaleString("en")}/s`;

/** jobpro ahead of both peers? Lower is better for lateness, higher for rates. */
function ahead(
  mine: Late | Rate | string,
  peers: (Late | Rate | string)[],
): string {
  const v = (x: Late | Rate | string): number | null =>
    typeof x === "string"
      ? null
      : "perSecond" in x
      ? x.perSecond
      : x.n
      ? x.p99
      : null;
  const lower = typeof mine !== "string" && !("perSecond" in mine);
  const a = v(mine);
  if (a === null) return "–";
  const others = peers.map(v).filter((x): x is number => x !== null);
  if (!others.length) return "no peer figure";
  const ok = others.every((b) => lower ? a < b : a > b);
  return ok ? "yes" : "**no**";
}

/**
 * The section as Markdown, between the markers bench/main.ts replaces.
 *
 * @example
 * ```ts
 * const md = clusterMarkdown(await clusterBench(), machineLine);
 * ```
 */
export function clusterMarkdown(r: ClusterReport, machine: string): string {
  const [pgboss, graphile] = r.peers;
  const byLabel = (l: string) => r.jobpro.find((j) => j.label === l);
  const j1 = byLabel("jobpro 1 node"), j3 = byLabel("jobpro 3 nodes");
  const cols = r.jobpro;
  const every = (j: JobproFigures) =>
    typeof j.every === "string"
      ? `**${j.every}**`
      : `${
        fmtLate(j.every)
      }; ${j.every.missed} missed / ${j.every.doubled} doubled`;
  type Fig = Late | Rate | string;
  const shared: {
    measure: string;
    cells: string[];
    verdict1: string;
    verdict3: string;
  }[] = [];
  const behind: string[] = [];
  /** Each peer's figure with one worker process and with three (the same one for cron). */
  type Pair = [one: Fig, three: Fig];
  const side = (
    measure: string,
    mine1: Fig | undefined,
    mine3: Fig | undefined,
    [boss, boss3]: Pair,
    [gw, gw3]: Pair,
    fmt: (f: Fig | undefined) => string,
  ) => {
    // Like with like: one node against one worker, three against three.
    const v1 = mine1 === undefined ? "–" : ahead(mine1, [boss, gw]);
    const v3 = mine3 === undefined ? "–" : ahead(mine3, [boss3, gw3]);
    const pair = (a: Fig, b: Fig) =>
      a === b ? fmt(a) : `1 worker: ${fmt(a)}; 3 workers: ${fmt(b)}`;
    shared.push({
      measure,
      cells: [fmt(mine1), fmt(mine3), pair(boss, boss3), pair(gw, gw3)],
      verdict1: v1,
      verdict3: v3,
    });
    const not = [["1 node", v1], ["3 nodes", v3]].filter(([, v]) => v !== "yes")
      .map(([k]) => k);
    if (not.length) {
      const mine = not.map((k) =>
        `${k} ${fmt(k === "1 node" ? mine1 : mine3)}`
      );
      behind.push(
        `- ${measure}: jobpro ${mine.join(", ")}; pg-boss ${
          pair(boss, boss3)
        }; graphile-worker ${pair(gw, gw3)}.`,
      );
    }
  };
  const anyFmt = (f: Fig | undefined) =>
    f !== undefined && typeof f !== "string" && "perSecond" in f
      ? fmtRate(f)
      : fmtLate(f as Late | string | undefined);
  side(
    `lateness at a minute boundary, ${SIZES.minute} per-minute schedules each, all at ${
      r.minute.at.slice(11, 16)
    } UTC`,
    r.minute.jobpro1,
    r.minute.jobpro3,
    [pgboss.minute, pgboss.minute],
    [graphile.minute, graphile.minute],
    anyFmt,
  );
  side(
    `${
      SIZES.runs.toLocaleString("en")
    } runs asked one call each, ${SIZES.concurrency} at a time (jobpro \`POST /jobs/:id/run\` over the nodes; \`send()\`; \`addJob()\`): executed and recorded per second`,
    j1?.runNow,
    j3?.runNow,
    [pgboss.runNow, pgboss.runNow3],
    [graphile.runNow, graphile.runNow3],
    anyFmt,
  );
  side(
    `burst: ${
      SIZES.runs.toLocaleString("en")
    } runs due at one second (jobpro: jobs due then; peers: \`startAfter\` / \`runAt\`): executed and recorded per second from it, the median of ${SIZES.bursts} bursts`,
    j1?.burst,
    j3?.burst,
    [pgboss.burst, pgboss.burst3],
    [graphile.burst, graphile.burst3],
    anyFmt,
  );
  const lines = [
    "<!-- cluster:start -->",
    "",
    "## Cluster (PostgreSQL, several nodes, and the peers)",
    "",
    `Written by \`deno task bench cluster\` on ${r.startedAt.slice(0, 10)} in ${
      round(r.seconds / 60)
    } minutes, on one embedded PostgreSQL ${r.postgres}`,
    "(tests/pg/server.ts, fsync off) shared by every system: jobpro's configurations in schemas of",
    "database `jobpro`, pg-boss in database `pgboss`, graphile-worker in `graphile`.",
    `${machine} **All of it shares the 2 cores**: PostgreSQL, every jobpro node`,
    "process, the peers' processes, and the bench itself (its HTTP target and clients), so three",
    "nodes do not bring three machines' worth of CPU, and figures move between runs.",
    "",
    "Run only this section with `deno task bench cluster` (or `BENCH_CLUSTER=1 deno task bench`); it",
    "rewrites only this block. `deno task bench` runs it after the other sections. Sizes:",
    "`BENCH_CLUSTER_EVERY`, `_MINUTE`, `_RUNS`, `_WINDOW` (seconds), `_KILLS`, `_BURSTS`.",
    "",
    "Lateness is p50 / p99 / max. Every run of the lateness measures makes the same no-op HTTP POST to",
    "a local target in the bench process (jobpro: an `http` action; the peers: a handler making the",
    "same request), and lateness is the target's receipt minus the tick. The throughput measures run",
    "an in-process no-op (jobpro: the `function` action `noop`; the peers: an empty handler).",
    "",
    "### Side by side with the peers",
    "",
    "| measure | jobpro 1 node | jobpro 3 nodes | pg-boss 12.38.0 | graphile-worker 0.18.0 | jobpro ahead of both (lateness by p99; 1 node against 1 worker, 3 nodes against 3) |",
    "| --- | --- | --- | --- | --- | --- |",
    ...shared.map((x) =>
      `| ${x.measure} | ${
        x.cells.join(" | ")
      } | 1 node: ${x.verdict1}, 3 nodes: ${x.verdict3} |`
    ),
    `| the calls alone (per second) | ${fmtSubmit(j1?.runNow)} | ${
      fmtSubmit(j3?.runNow)
    } | ${fmtSubmit(pgboss.runNow)}; ${fmtSubmit(pgboss.runNow3)} | ${
      fmtSubmit(graphile.runNow)
    }; ${fmtSubmit(graphile.runNow3)} | – |`,
    "",
    ...(behind.length
      ? [
        "Where jobpro is not ahead of both peers in this run:",
        "",
        ...behind,
        "",
      ]
      : [
        "jobpro is ahead of both peers on every figure they share in this run.",
        "",
      ]),
    "### jobpro by configuration",
    "",
    `| measure | ${cols.map((j) => j.label).join(" | ")} |`,
    `| --- | ${cols.map(() => "---").join(" | ")} |`,
    `| ${SIZES.every} every-second jobs for ${SIZES.windowSeconds} s: fire lateness; ticks missed / doubled | ${
      cols.map(every).join(" | ")
    } |`,
    `| the same ticks as the runs table records them (started_at − tick; the action goes once that start is committed) | ${
      cols.map((j) =>
        typeof j.every !== "string" && j.every.recorded
          ? fmtLate(j.every.recorded)
          : "–"
      ).join(" | ")
    } |`,
    `| burst of ${
      SIZES.runs.toLocaleString("en")
    } runs due at one second: executed and recorded per second, the median of ${SIZES.bursts} bursts | ${
      cols.map((j) => fmtRate(j.burst)).join(" | ")
    } |`,
    `| ${
      SIZES.runs.toLocaleString("en")
    } \`POST /jobs/:id/run\`, ${SIZES.concurrency} at a time: executed and recorded per second | ${
      cols.map((j) => fmtRate(j.runNow)).join(" | ")
    } |`,
    `| failover: SIGKILL of one node of 3, 30 ms after a tick, ${SIZES.kills} times (each node once): lateness of its jobs' next tick on the survivors | ${
      cols.map((j) =>
        j.failover === undefined
          ? "–"
          : typeof j.failover === "string"
          ? `**${j.failover}**`
          : `${
            fmtLate(j.failover)
          } over ${j.failover.kills} kills; ${j.failover.missed} missed / ${j.failover.doubled} doubled`
      ).join(" | ")
    } |`,
    "",
    "How each is measured (bench/cluster.ts, bench/cluster_peers.ts):",
    "",
    "- Minute boundary: every system is armed first (jobpro: jobs on `0 * * * * *`; pg-boss:",
    "  `schedule()` with `* * * * *`, one key per schedule; graphile-worker: a crontab of",
    "  `* * * * *` lines), then the next boundary at least 10 s away is the one measured, all systems",
    "  firing at the same instant on the same cores. jobpro 1 node and 3 nodes are two clusters on two",
    "  schemas.",
    "- Executed and recorded: the runs table (jobpro on PostgreSQL: finished runs; pg-boss: jobs in",
    "  state `completed`; graphile-worker: jobs gone from its jobs table, which it deletes on",
    "  completion; the DuckDB node: its `/metrics` run counters, counted after the commit) is polled",
    "  every 50 ms; the figure is the runs over the time from the first call (or the due second) to",
    "  the poll that saw them all. If the count stops growing for 10 s, the runs missing are",
    "  reported as never recorded and the rate is taken up to the last one recorded.",
    `- Bursts: ${SIZES.bursts} in a row per system, each of fresh jobs (jobpro deletes a burst's jobs`,
    "  after it); the table gives the median and the range. A peer's worker finds jobs that became",
    "  due by polling, every 500 ms here, so one burst measures where its poll fell relative to the",
    "  due second (graphile-worker with 1 worker measured 15,385/s and 3,650/s in two runs); jobpro's",
    "  timer fires at the second itself.",
    "- jobpro starts a run's action only once the run's start is committed (group commits, at most",
    "  every 50 ms; on PostgreSQL the fenced start), so the target sees an execution later than the",
    "  `started_at` the runs table records: the two every-second rows show both.",
    "- The calls come from a client process of their own: the bench for jobpro (HTTP to the nodes,",
    "  each answered once the run's start is committed), a `produce` process for the peers (their",
    "  library's call, one per job); the peers' workers run in `work` processes: one, then three (as",
    "  many as jobpro's nodes, each on a fresh database), and jobpro's 3 nodes are compared with",
    "  their three. Their cron (the minute boundary) runs in one process either way.",
    `- Peer settings (their fastest documented ones, not their defaults): pg-boss: ${PEER_SETTINGS.pgboss}. graphile-worker: ${PEER_SETTINGS.graphile}.`,
    "  pg-boss's cron resolution is a minute: at its defaults a minute's jobs are sent by a cron pass",
    "  every 30 s and picked up by a worker polling every 2 s, i.e. up to ~30 s late.",
    "- Every-second and failover: tests/cluster/harness.ts (`createEveryJobs`, `checkInvariants`):",
    "  each expected tick checked for exactly one execution at the target. Failover: the killed",
    "  node's jobs are read from the jobs table (owner epoch) just before the SIGKILL; its lateness is",
    "  the first tick due after the kill of each of them; the node is restarted before the next kill.",
    "",
  ];
  const odd: string[] = [];
  for (const j of r.jobpro) {
    if (j.logNotes.length) {
      odd.push(`- ${j.label}, node logs: ${j.logNotes.join("; ")}`);
    }
  }
  for (const n of r.notes) odd.push(`- ${n}`);
  if (r.machine) {
    lines.push(
      r.machine.others.length
        ? `**Other work shared the machine during part of this run**, which ran ${
          r.startedAt.slice(11, 19)
        }-${
          new Date(Date.parse(r.startedAt) + r.seconds * 1000).toISOString()
            .slice(11, 19)
        } UTC in the order of the tables (minute boundary, jobpro 1, 2, 3 nodes, DuckDB, then pg-boss's and graphile-worker's throughput): ${
          r.machine.others.map((o) =>
            `\`${o.command}\` (first seen ${o.since} UTC)`
          )
            .join(", ")
        }; highest 1-minute load average ${r.machine.maxLoad}. Figures measured while it ran are worse for it.`
        : `No other test or bench process ran during this run; highest 1-minute load average ${r.machine.maxLoad}.`,
      "",
    );
  }
  if (odd.length) {
    lines.push(
      "What the nodes logged meanwhile (warnings, errors, skipped ticks):",
      "",
      ...odd,
      "",
    );
  }
  lines.push("<!-- cluster:end -->");
  return lines.join("\n");
}

if (import.meta.main) {
  const r = await clusterBench();
  console.log(JSON.stringify(r, null, 2));
}
