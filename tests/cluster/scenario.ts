/**
 * The cluster's fault scenarios, shared by the short test
 * (cluster_test.ts) and the long run (soak.ts,
 * `deno task test:cluster`): one PostgreSQL of the scenario's own (it is
 * restarted), 3 jobpro node processes on one schema, each reaching
 * PostgreSQL through a TCP proxy of its own, N every-second jobs whose
 * http action POSTs to the harness's target, and one fault at a time:
 *
 * - `sigkill`: SIGKILL of a node right after a burst of its executions
 *   (about 30 ms after a tick, timed off the target's log); its jobs' next
 *   ticks must fire on the survivors (failover lateness measured); it is
 *   started again.
 * - `sigstop`: SIGSTOP of a node past its lease, then SIGCONT: nothing of
 *   its old epoch may start after it was stopped; it rejoins (a new epoch).
 * - `partition`: its proxy blackholes (existing connections stalled, as a
 *   partition looks to TCP) for a while, then heals; nothing of its old
 *   epoch may start for a tick past its lease; it rejoins.
 * - `pg-restart`: PostgreSQL stopped ("fast") and started again; the ticks
 *   due while it was down are excused (the catch-up policy skips them),
 *   every later one must run.
 * - `rolling`: SIGTERM and a restart of every node in turn: no run
 *   interrupted, no tick later than a period.
 * - `join`: a fourth node joins (it must execute some jobs), then leaves
 *   with SIGTERM (a graceful leave), nothing doubled or lost.
 *
 * Each fault is checked on its own window (harness.ts checkInvariants):
 * 0 executions doubled (from the target's log), 0 ticks missed, nothing
 * left running, no execution without its run recorded, plus what the fault
 * promises. A fault returns its figures and the list of what broke
 * (`problems`), with the node logs' lines that tell of it.
 *
 * Every wait polls with a deadline; the fixed waits are the faults' own
 * (a node stopped 3 s, a partition of 6 s).
 *
 * @module
 */
import { type PgServer, startPostgres } from "../pg/server.ts";
import { waitFor } from "../helpers.ts";
import {
  api,
  checkInvariants,
  type Cluster,
  type ClusterNode,
  createEveryJobs,
  type Fault,
  type Report,
  startCluster,
  startTarget,
  type Stats,
  stats,
  summary,
  type Target,
  type Window,
} from "./harness.ts";

/** The kinds of fault, in the order a round runs them. */
export const KINDS = [
  "sigkill",
  "sigstop",
  "partition",
  "pg-restart",
  "rolling",
  "join",
] as const;
/** A fault's kind, or `steady`: a window with no fault, for comparison. */
export type FaultKind = typeof KINDS[number] | "steady";

/** What each kind is called in reports. */
export const KIND_NAMES: Record<FaultKind, string> = {
  steady: "no fault (steady state)",
  sigkill: "SIGKILL of a node ~30 ms after a tick",
  sigstop: "SIGSTOP past the lease, then SIGCONT",
  partition: "partition node ↔ PostgreSQL (blackhole, stalled), then heal",
  "pg-restart": "PostgreSQL restart (stop fast, start)",
  rolling: "rolling SIGTERM restart of every node",
  join: "a node joins (then leaves with SIGTERM)",
};

/** How a scenario is set up. */
export interface ScenarioOptions {
  /** Every-second jobs. */
  jobs: number;
  /** Core nodes (default 3); a joining node comes on top. */
  nodes?: number;
  /** JOBPRO_LEASE_MS; default: the nodes' own default (1,500). */
  leaseMs?: number;
  /** How long a node stays stopped (SIGSTOP); past its lease. */
  stopMs: number;
  /** How long a partition lasts. */
  partitionMs: number;
  /**
   * How long PostgreSQL stays down at each restart, in turn (default [0]:
   * started again at once; 3000 is past every lease).
   */
  pgDownMs?: number[];
  /** Keep the nodes' log line of every completed run (default true). */
  logRuns?: boolean;
  /**
   * Ticks skipped by the overlap policy (a run of the job still going at
   * their time; the node logs each) count as skipped by policy, not
   * missed. `strict` (the short test, whose runs take a tenth of a period
   * when nothing goes wrong) makes each of them a problem, and in a
   * rolling restart a tick later than a period too; without it (a long
   * run at a load this machine does not keep up with) they are counted.
   */
  strict?: boolean;
  /** How long a check waits for the last runs to be recorded and to end (default 6 s). */
  settleMs?: number;
  /**
   * When a SIGSTOP or a partition strikes: "mid-transaction" (default),
   * right after the node's proxy forwarded the statement that opens one of
   * its write transactions (the worst moment, made certain: the node holds
   * its lease's row locked); "any" (whenever the test gets there); or
   * "alternate" between the two.
   */
  strike?: "mid-transaction" | "any" | "alternate";
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/** One fault's outcome. */
export interface FaultResult {
  kind: FaultKind;
  label: string;
  /** The window checked. */
  from: number;
  to: number;
  report: Report;
  /** Lateness (ms) of the first tick after the fault of each job it concerns (the victim's). */
  failover: number[];
  /** Figures of the fault itself (how long a node was stopped, ...). */
  facts: Record<string, number | string>;
  /** What broke; empty when the fault held. */
  problems: string[];
  /** The lines of the node logs written during the window that are not routine. */
  logs: string;
}

/**
 * A fault's window starts this long before it (the cluster was steady
 * then: the ticks around the fault are checked too) ...
 */
const BEFORE_MS = 1500;
/** ... and ends once every job ran two more ticks after the cluster is steady again. */
const AFTER = { timeoutMs: 45_000, tailMs: 2000 };

/** The lease the nodes run with when the scenario does not set one. */
const DEFAULT_LEASE_MS = 1500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const iso = (t: number) => new Date(t).toISOString();

/** The statement that opens each of a node's write transactions (postgres_store.ts). */
const TX_OPENS = "BEGIN; SELECT pg_current_xact_id()";

/** Lines a node logs all the time; left out of a fault's log excerpt. */
const ROUTINE =
  /^\[jobpro\] info: job \S+ run \d+: |^\[jobpro\] info: handed \d+ job|^\[harness\]/;

/** A scenario running: its server, target, cluster and jobs. */
export class Scenario {
  readonly leaseMs: number;
  #faults = 0;
  readonly #ofKind = new Map<FaultKind, number>();
  /** The node logs' lengths when the last window was checked. */
  #checked: number[] = [];

  private constructor(
    readonly opts: ScenarioOptions,
    readonly pg: PgServer,
    readonly target: Target,
    readonly cluster: Cluster,
    readonly jobs: string[],
  ) {
    this.leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
  }

  /** Starts PostgreSQL, the target, the nodes, and creates the jobs. */
  static async start(opts: ScenarioOptions): Promise<Scenario> {
    const pg = await startPostgres();
    const target = startTarget();
    let cluster: Cluster | undefined;
    try {
      cluster = await startCluster({
        nodes: opts.nodes ?? 3,
        proxy: true,
        pg,
        leaseMs: opts.leaseMs,
        logRuns: opts.logRuns,
      });
      const jobs = await createEveryJobs(cluster.nodes[0], opts.jobs, target, {
        concurrency: 8,
      });
      const s = new Scenario(opts, pg, target, cluster, jobs);
      await s.steady("the jobs spread over the nodes", { timeoutMs: 60_000 });
      return s;
    } catch (e) {
      await cluster?.close();
      await target.close();
      await pg.close();
      throw e;
    }
  }

  /** The core nodes (not the joining one). */
  get core(): ClusterNode[] {
    return this.cluster.nodes.slice(0, this.opts.nodes ?? 3);
  }

  #log(line: string) {
    this.opts.log?.(line);
  }

  /** The nodes that run (not dead, not paused). */
  live(): ClusterNode[] {
    return this.cluster.nodes.filter((n) => !n.dead && !n.paused);
  }

  /** A node's health answer (null when it does not answer in time). */
  async health(n: ClusterNode) {
    try {
      const h = await api(n, "GET", "/healthz", undefined, {
        timeoutMs: 2000,
      });
      return h.status === 200 && h.body?.ok ? h.body : null;
    } catch {
      return null;
    }
  }

  /** The epoch a node holds now (from its /healthz), or null. */
  async epochOf(n: ClusterNode): Promise<number | null> {
    return (await this.health(n))?.node?.epoch ?? null;
  }

  /** The jobs a lease epoch owns, as the database says. */
  async ownedBy(epoch: number): Promise<string[]> {
    const rows = await this.cluster.query(
      `SELECT id FROM ${this.cluster.schema}.jobs WHERE owner_epoch = $1 ORDER BY id`,
      [epoch],
    );
    return rows.map((r) => r.id);
  }

  /**
   * Waits until the cluster is at rest: every running node healthy with a
   * lease, each sees the same members, every job owned by exactly one of
   * them (as they say and as the database says), none without jobs, and
   * every job executed once more after all that held.
   */
  async steady(
    what: string,
    { timeoutMs = 30_000, tailMs = 0 } = {},
  ): Promise<void> {
    const live = this.live();
    const schema = this.cluster.schema;
    try {
      await waitFor(async () => {
        const hs = await Promise.all(live.map((n) => this.health(n)));
        if (hs.some((h) => !h || h.node?.epoch == null)) return false;
        const epochs = hs.map((h) => h.node.epoch as number);
        const sameMembers = hs.every((h) =>
          h.node.live.map((m: { epoch: number }) => m.epoch).sort().join() ===
            epochs.slice().sort().join()
        );
        if (!sameMembers) return false;
        const owned = hs.reduce((a, h) => a + h.node.jobs, 0);
        if (owned !== this.jobs.length || hs.some((h) => h.node.jobs === 0)) {
          return false;
        }
        const [r] = await this.cluster.query(
          `SELECT count(*)::int AS n FROM ${schema}.jobs
           WHERE owner_epoch IS NULL OR NOT (owner_epoch = ANY($1::bigint[]))`,
          [epochs],
        );
        return r.n === 0;
      }, { timeoutMs, intervalMs: 100, what });
      await this.executedAfter(
        this.jobs,
        Date.now() + tailMs,
        timeoutMs,
        what,
      );
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${this.logsSince(0, 3000)}`);
    }
  }

  /** Waits until each of `jobs` has executed a tick after `t`. */
  async executedAfter(
    jobs: readonly string[],
    t: number,
    timeoutMs: number,
    what: string,
  ): Promise<void> {
    const want = new Set(jobs);
    let seen = this.#indexAt(t - 5000);
    await waitFor(() => {
      for (const e of this.target.from(seen)) {
        if (e.scheduledFor !== null && e.scheduledFor > t) want.delete(e.job);
      }
      seen = this.target.size;
      return want.size === 0;
    }, {
      timeoutMs,
      intervalMs: 50,
      what: `${what}: every job executed after ${iso(t)} (${want.size} not)`,
    });
  }

  /** The first index of the target's log received at or after `t` (about). */
  #indexAt(t: number): number {
    const all = this.target.from(0);
    let lo = 0, hi = all.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (all[mid].receivedAt < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Every node's log lines of the window that are not routine, the last `max` characters. */
  logsSince(_from: number, max = 6000): string {
    const parts = this.cluster.nodes.map((n) => {
      const lines = n.log().split("\n").filter((l) => l && !ROUTINE.test(l));
      return `--- ${n.name} (pids ${n.pids.join(", ")}):\n${
        lines.slice(-40).join("\n")
      }`;
    });
    const text = parts.join("\n");
    return text.length > max ? text.slice(-max) : text;
  }

  /** The log lengths now, so a fault's excerpt is what came after. */
  #mark(): number[] {
    return this.cluster.nodes.map((n) => n.log().length);
  }

  #excerpt(mark: number[], maxLines = 60): string {
    return this.cluster.nodes.map((n, i) => {
      const lines = n.log().slice(mark[i] ?? 0).split("\n").filter((l) =>
        l && !ROUTINE.test(l)
      );
      const shown = lines.length > maxLines
        ? [
          ...lines.slice(0, maxLines / 2),
          `... ${lines.length - maxLines} more ...`,
          ...lines.slice(-maxLines / 2),
        ]
        : lines;
      return `--- ${n.name}:\n${shown.join("\n")}`;
    }).join("\n");
  }

  /**
   * Holds a fault for `ms`, watching PostgreSQL meanwhile: the most
   * sessions seen idle in an open transaction and waiting for a lock (a
   * cut-off node's transaction, and what waits for it).
   */
  async #hold(ms: number): Promise<{ idleInTx: number; lockWaits: number }> {
    const end = Date.now() + ms;
    const seen = { idleInTx: 0, lockWaits: 0 };
    while (Date.now() < end) {
      try {
        const [r] = await this.cluster.query(
          `SELECT count(*) FILTER (WHERE state = 'idle in transaction')::int AS idle,
             count(*) FILTER (WHERE wait_event_type = 'Lock')::int AS waits
           FROM pg_stat_activity WHERE backend_type = 'client backend'
             AND pid <> pg_backend_pid()`,
        );
        seen.idleInTx = Math.max(seen.idleInTx, r.idle);
        seen.lockWaits = Math.max(seen.lockWaits, r.waits);
      } catch { /* PostgreSQL is busy: the next look tells */ }
      await sleep(Math.max(0, Math.min(200, end - Date.now())));
    }
    return seen;
  }

  /**
   * Strikes `fault` at the moment the options say: for "mid-transaction",
   * right after the victim's proxy forwarded the opening of a write
   * transaction (or after 5 s without one: then `midTx` is false).
   */
  async #strike(
    victim: ClusterNode,
    k: number,
    fault: () => void,
  ): Promise<{ at: number; midTx: boolean }> {
    const mode = this.opts.strike ?? "mid-transaction";
    const mid = mode === "mid-transaction" ||
      (mode === "alternate" && k % 2 === 1);
    if (!mid) {
      fault();
      return { at: Date.now(), midTx: false };
    }
    let at = 0;
    const hit = Promise.withResolvers<boolean>();
    const cancel = victim.proxy!.onForward(TX_OPENS, () => {
      at = Date.now();
      fault();
      hit.resolve(true);
    });
    const timer = setTimeout(() => {
      cancel();
      at = Date.now();
      fault();
      hit.resolve(false);
    }, 5000);
    const midTx = await hit.promise;
    clearTimeout(timer);
    return { at, midTx };
  }

  /** The ticks the nodes logged as skipped by the overlap policy since `mark`. */
  #overlapSkips(mark: number[]) {
    const re =
      /^\[jobpro\] info: job (\S+): tick at (\S+) skipped, previous run still going/gm;
    return this.cluster.nodes.flatMap((n, i) =>
      [...n.log().slice(mark[i] ?? 0).matchAll(re)].map((m) => ({
        job: m[1],
        scheduledFor: Date.parse(m[2]),
        node: n.name,
      }))
    );
  }

  /** Runs of an epoch whose tick is after `t`. */
  async #epochRunsAfter(epoch: number, t: number) {
    return await this.cluster.query(
      `SELECT id::float8 AS id, job_id, status, error,
         (extract(epoch FROM scheduled_for) * 1000)::float8 AS tick
       FROM ${this.cluster.schema}.runs
       WHERE node_epoch = $1 AND scheduled_for > to_timestamp($2 / 1000.0)
       ORDER BY id LIMIT 20`,
      [epoch, t],
    );
  }

  /** Which node (name#epoch) recorded each run id, for a double's report. */
  async #runNodes(ids: number[]): Promise<Map<number, string>> {
    if (!ids.length) return new Map();
    const s = this.cluster.schema;
    const rows = await this.cluster.query(
      `SELECT r.id::float8 AS id, r.status, r.error,
         coalesce(n.name || '#' || n.epoch, 'no node') AS node
       FROM ${s}.runs r LEFT JOIN ${s}.nodes n ON n.epoch = r.node_epoch
       WHERE r.id = ANY($1::bigint[])`,
      [ids],
    );
    return new Map(
      rows.map((r) => [
        r.id,
        `${r.node} ${r.status}${r.error ? ` (${r.error})` : ""}`,
      ]),
    );
  }

  /**
   * What happened to these jobs in the window, tick by tick: each
   * execution the target received (when, which run) and each run the
   * table holds (status, node), to tell a miss's story.
   */
  async #timelines(jobs: string[], from: number, to: number): Promise<string> {
    const s = this.cluster.schema;
    const rows = await this.cluster.query(
      `SELECT r.id::float8 AS id, r.job_id, r.trigger, r.status, r.error,
         (extract(epoch FROM r.scheduled_for) * 1000)::float8 AS tick,
         (extract(epoch FROM r.started_at) * 1000)::float8 AS started,
         coalesce(n.name || '#' || n.epoch, '-') AS node
       FROM ${s}.runs r LEFT JOIN ${s}.nodes n ON n.epoch = r.node_epoch
       WHERE r.job_id = ANY($1) AND r.started_at >= to_timestamp($2 / 1000.0)
       ORDER BY r.id`,
      [jobs, from - 2000],
    );
    const hms = (t: number) => iso(t).slice(14, 23);
    return `timelines of ${jobs.join(", ")} (mm:ss.mmm):\n` +
      jobs.map((job) => {
        const execs = this.target.from(this.#indexAt(from - 2000)).filter((e) =>
          e.job === job && e.receivedAt <= to + 2000
        );
        const lines = [
          ...execs.map((e) =>
            [
              e.scheduledFor ?? e.receivedAt,
              `  executed ${
                e.scheduledFor === null ? "manual" : `@${hms(e.scheduledFor)}`
              } run ${e.run} received ${hms(e.receivedAt)}`,
            ] as const
          ),
          ...rows.filter((r) => r.job_id === job).map((r) =>
            [
              r.tick ?? r.started,
              `  run ${r.id} ${r.trigger} @${
                r.tick === null ? "-" : hms(r.tick)
              } started ${hms(r.started)} by ${r.node}: ${r.status}${
                r.error ? ` (${r.error})` : ""
              }`,
            ] as const
          ),
        ].sort((a, b) => a[0] - b[0]).map((x) => x[1]);
        return `${job}:\n${lines.join("\n")}`;
      }).join("\n");
  }

  /** Checks a fault's window; the generic problems, and the report. */
  async #check(
    kind: FaultKind,
    label: string,
    from: number,
    mark: number[],
    extra: {
      excused?: Window[];
      faults?: Fault[];
      facts?: Record<string, number | string>;
      problems?: (r: Report) => Promise<string[]> | string[];
    } = {},
  ): Promise<FaultResult> {
    const to = Date.now();
    // Skips logged since the last check: the window begins before `mark`.
    const policySkips = this.#overlapSkips(this.#checked);
    this.#checked = this.#mark();
    const report = await checkInvariants({
      target: this.target,
      pg: this.pg,
      schema: this.cluster.schema,
      from,
      to,
      jobs: this.jobs,
      excused: extra.excused,
      faults: extra.faults,
      policySkips,
      settleMs: this.opts.settleMs ?? 6_000,
    });
    const problems: string[] = [];
    if (report.doubled.length) {
      const runs = await this.#runNodes(report.doubled.flatMap((d) => d.runs));
      problems.push(
        `${report.doubled.length} tick(s) executed twice: ${
          report.doubled.slice(0, 5).map((d) =>
            `${d.job} @${iso(d.scheduledFor ?? 0)} #${d.attempt} by runs ${
              d.runs.map((id) => `${id} [${runs.get(id) ?? "not recorded"}]`)
                .join(", ")
            }`
          ).join("; ")
        }`,
      );
    }
    if (report.missed.length) {
      problems.push(
        `${report.missed.length} tick(s) missed: ${
          report.missed.slice(0, 5).map((m) =>
            `${m.job} @${iso(m.scheduledFor)}${
              m.recorded ? ` (${m.recorded})` : ""
            }`
          ).join("; ")
        }`,
      );
    }
    if (report.missed.length) {
      problems.push(
        await this.#timelines(
          [...new Set(report.missed.map((m) => m.job))].slice(0, 3),
          from,
          to,
        ),
      );
    }
    if (report.running.length) {
      problems.push(
        `${report.running.length} run(s) left running: ${
          report.running.slice(0, 5).map((r) =>
            `${r.job} run ${r.id} by ${r.node ?? "?"}`
          ).join("; ")
        }`,
        // What each node says of itself: a run whose start was never
        // answered is named there (and logged by the node).
        ...await Promise.all(
          this.live().map(async (n) => {
            const h = await api(n, "GET", "/healthz", undefined, {
              timeoutMs: 2000,
            }).catch((e) => ({ status: 0, body: String(e) }));
            return `${n.name} /healthz ${h.status}: ${JSON.stringify(h.body)}`;
          }),
        ),
      );
    }
    if (report.unrecorded.length) {
      problems.push(
        `${report.unrecorded.length} execution(s) with no run recorded: ${
          report.unrecorded.slice(0, 5).map((e) =>
            `${e.job} @${iso(e.scheduledFor ?? 0)} run ${e.run}`
          ).join("; ")
        }`,
      );
    }
    if (report.runIdClashes.length) {
      problems.push(
        `${report.runIdClashes.length} run id(s) used for two executions: ${
          report.runIdClashes.slice(0, 5).map((c) => c.run).join(", ")
        }`,
      );
    }
    // A tick skipped by the job's overlap policy is accounted (the issue's
    // rule), in strict mode too: overdue ticks fired one after the other
    // after a take-over never run at once under `overlap: "skip"`.
    problems.push(...(await extra.problems?.(report) ?? []));
    // The latest ticks, and which node ran them, to tell what held them up.
    const latest = this.target.from(this.#indexAt(from)).filter((e) =>
      e.scheduledFor !== null && e.scheduledFor >= report.first &&
      e.scheduledFor <= report.last && e.receivedAt - e.scheduledFor >= 500
    ).sort((a, b) =>
      (b.receivedAt - b.scheduledFor!) - (a.receivedAt - a.scheduledFor!)
    ).slice(0, 3);
    const by = await this.#runNodes(latest.map((e) => e.run));
    const facts = { ...extra.facts };
    if (latest.length) {
      facts.latest = latest.map((e) =>
        `${e.job}@${iso(e.scheduledFor!).slice(14, 23)} +${
          e.receivedAt - e.scheduledFor!
        } ms by ${by.get(e.run)?.split(" ")[0] ?? "?"}`
      ).join(", ");
    }
    const result: FaultResult = {
      kind,
      label,
      from,
      to,
      report,
      failover: report.failover.flatMap((f) => f.values),
      facts,
      problems,
      logs: this.#excerpt(mark),
    };
    this.#log(
      `${label}: ${problems.length ? "BROKE" : "held"} (${
        Math.round((to - from) / 100) / 10
      } s)\n${summary(report)}${
        Object.keys(result.facts).length
          ? `\n${JSON.stringify(result.facts)}`
          : ""
      }${problems.map((p) => `\n  PROBLEM ${p}`).join("")}`,
    );
    return result;
  }

  /** The first tick at or after `t` that the target has an execution of `jobs` for, or null. */
  #burst(jobs: Set<string>, t: number, from: number): number | null {
    let first: number | null = null;
    for (const e of this.target.from(from)) {
      if (e.scheduledFor === null || e.scheduledFor < t || !jobs.has(e.job)) {
        continue;
      }
      if (first === null || e.scheduledFor < first) first = e.scheduledFor;
    }
    return first;
  }

  /**
   * Waits for a burst of these jobs' executions (a node's): the first of
   * them for a tick at least 300 ms ahead (or, if that one was skipped, a
   * later one) has come in and the tick is 30 ms old. Returns the tick and
   * where the target's log stood before.
   */
  async #afterBurst(
    jobs: Set<string>,
    what: string,
  ): Promise<{ tick: number; index: number }> {
    const after = Math.ceil((Date.now() + 300) / 1000) * 1000;
    const index = this.target.size;
    const tick = await waitFor(
      () => {
        const t = this.#burst(jobs, after, index);
        return t !== null && Date.now() >= t + 30 && t;
      },
      {
        timeoutMs: 15_000,
        intervalMs: 1,
        what: `${what}'s executions after ${iso(after)}`,
      },
    );
    return { tick, index };
  }

  /** Runs one fault of `kind`; the victim is chosen in turn. */
  async run(kind: FaultKind): Promise<FaultResult> {
    const i = this.#faults++;
    // Each kind takes its victims in turn.
    const k = this.#ofKind.get(kind) ?? 0;
    this.#ofKind.set(kind, k + 1);
    const victim = this.core[k % this.core.length];
    // A long run keeps the last minute of the target's log only.
    this.target.prune(Date.now() - 60_000);
    switch (kind) {
      case "steady":
        return await this.baseline(i);
      case "sigkill":
        return await this.sigkill(victim, i);
      case "sigstop":
        return await this.sigstop(victim, i, k);
      case "partition":
        return await this.partition(victim, i, k);
      case "pg-restart":
        return await this.pgRestart(i, k);
      case "rolling":
        return await this.rolling(i);
      case "join":
        return await this.join(i);
    }
  }

  /** A window of `steadyMs` with no fault: what the invariants and figures are at rest. */
  async baseline(i: number, steadyMs = 4000): Promise<FaultResult> {
    const label = `#${i} steady`;
    await this.steady(`${label}: steady before`);
    const from = Date.now() - BEFORE_MS;
    const mark = this.#mark();
    await sleep(steadyMs);
    await this.steady(`${label}: steady after`, AFTER);
    return await this.#check("steady", label, from, mark);
  }

  /**
   * SIGKILL of `victim` right after a burst of its executions: the first
   * of its jobs' executions for a tick has come in and the tick is 30 ms
   * old. Its jobs' next ticks must fire on the survivors; then it is
   * started again (a join).
   */
  async sigkill(victim: ClusterNode, i: number): Promise<FaultResult> {
    const label = `#${i} sigkill ${victim.name}`;
    await this.steady(`${label}: steady before`);
    const from = Date.now() - BEFORE_MS;
    const mark = this.#mark();
    const epoch = (await this.epochOf(victim))!;
    const mine = new Set(await this.ownedBy(epoch));
    const { tick, index } = await this.#afterBurst(
      mine,
      `${label}: ${victim.name}`,
    );
    const killAt = Date.now();
    const before =
      this.target.from(index).filter((e) =>
        e.scheduledFor === tick && mine.has(e.job)
      ).length;
    await victim.kill("SIGKILL");
    // Its jobs' next ticks, on the survivors.
    await this.executedAfter(
      [...mine],
      tick,
      20_000,
      `${label}: the victim's jobs on the survivors`,
    ).catch(() => {}); // a tick that never runs is reported by the check
    const failedOverAt = Date.now();
    await victim.restart();
    await this.steady(`${label}: steady after the restart`, AFTER);
    return await this.#check("sigkill", label, from, mark, {
      faults: [{ at: killAt, jobs: [...mine], label: "failover" }],
      facts: {
        victimJobs: mine.size,
        killMsAfterTick: killAt - tick,
        burstAtKill: before,
        failedOverMs: failedOverAt - killAt,
      },
      problems: (r) => {
        const f = r.failover[0];
        return f.missing
          ? [
            `${f.missing} of the victim's jobs never ran their next tick (and it is not accounted for)`,
          ]
          : [];
      },
    });
  }

  /**
   * SIGSTOP of `victim` for `stopMs` (past its lease), then SIGCONT: the
   * survivors take its jobs; once it runs again it must start nothing under
   * its old epoch (no run of that epoch for a tick after the stop), and it
   * rejoins under a new one.
   */
  async sigstop(
    victim: ClusterNode,
    i: number,
    k = 0,
  ): Promise<FaultResult> {
    const label = `#${i} sigstop ${victim.name}`;
    await this.steady(`${label}: steady before`);
    const from = Date.now() - BEFORE_MS;
    const mark = this.#mark();
    const epoch = (await this.epochOf(victim))!;
    const mine = await this.ownedBy(epoch);
    const { at: stopAt, midTx } = await this.#strike(
      victim,
      k,
      () => void victim.kill("SIGSTOP"),
    );
    const db = await this.#hold(this.opts.stopMs);
    const contAt = Date.now();
    await victim.kill("SIGCONT");
    const rejoined = await waitFor(async () => {
      const e = await this.epochOf(victim);
      return e !== null && e !== epoch && e;
    }, { timeoutMs: 20_000, what: `${label}: ${victim.name} rejoins` })
      .catch(() => null);
    await this.steady(`${label}: steady after`, AFTER);
    return await this.#check("sigstop", label, from, mark, {
      faults: [{ at: stopAt, jobs: mine, label: "failover" }],
      facts: {
        victimJobs: mine.length,
        stoppedMs: contAt - stopAt,
        oldEpoch: epoch,
        newEpoch: rejoined ?? "none",
        midTransaction: String(midTx),
        idleInTxSeen: db.idleInTx,
        lockWaitsSeen: db.lockWaits,
      },
      problems: async () => {
        const out: string[] = [];
        if (rejoined === null) out.push(`${victim.name} did not rejoin`);
        // (A tick a hair past the stop, by the nodes' skew-corrected clock, may have fired.)
        const late = await this.#epochRunsAfter(epoch, stopAt + 100);
        if (late.length) {
          out.push(
            `${victim.name} started ${late.length} run(s) under its old epoch ${epoch} for ticks after it was stopped (${
              iso(stopAt)
            }): ${
              late.map((r) =>
                `${r.job_id} run ${r.id} @${iso(r.tick)} ${r.status}`
              ).join("; ")
            }`,
          );
        }
        return out;
      },
    });
  }

  /**
   * `victim` cut off from PostgreSQL for `partitionMs`: its proxy
   * blackholes, existing connections stalled (nothing forwarded either
   * way), then heals. Nothing of its old epoch may start for a tick past
   * its lease; the survivors run its jobs; it rejoins.
   */
  async partition(
    victim: ClusterNode,
    i: number,
    k = 0,
  ): Promise<FaultResult> {
    const label = `#${i} partition ${victim.name}`;
    await this.steady(`${label}: steady before`);
    const from = Date.now() - BEFORE_MS;
    const mark = this.#mark();
    const epoch = (await this.epochOf(victim))!;
    const mine = await this.ownedBy(epoch);
    const { at: cutAt, midTx } = await this.#strike(
      victim,
      k,
      () => victim.proxy!.cut("blackhole", { existing: "stall" }),
    );
    const db = await this.#hold(this.opts.partitionMs);
    const healAt = Date.now();
    victim.proxy!.heal();
    const rejoined = await waitFor(async () => {
      const e = await this.epochOf(victim);
      return e !== null && e !== epoch && e;
    }, { timeoutMs: 30_000, what: `${label}: ${victim.name} rejoins` })
      .catch(() => null);
    await this.steady(`${label}: steady after`, AFTER);
    return await this.#check("partition", label, from, mark, {
      faults: [{ at: cutAt, jobs: mine, label: "failover" }],
      facts: {
        victimJobs: mine.length,
        cutMs: healAt - cutAt,
        oldEpoch: epoch,
        newEpoch: rejoined ?? "none",
        midTransaction: String(midTx),
        idleInTxSeen: db.idleInTx,
        lockWaitsSeen: db.lockWaits,
      },
      problems: async () => {
        const out: string[] = [];
        if (rejoined === null) out.push(`${victim.name} did not rejoin`);
        const late = await this.#epochRunsAfter(epoch, cutAt + this.leaseMs);
        if (late.length) {
          out.push(
            `${victim.name} started ${late.length} run(s) under its old epoch ${epoch} for ticks past its lease (cut at ${
              iso(cutAt)
            }): ${
              late.map((r) =>
                `${r.job_id} run ${r.id} @${iso(r.tick)} ${r.status}`
              ).join("; ")
            }`,
          );
        }
        return out;
      },
    });
  }

  /**
   * PostgreSQL stopped ("fast": sessions ended) and started again, at once
   * or after a while (`pgDownMs`).
   * The ticks due while it was down are excused (skipped by the catch-up
   * policy); every tick after it is back must run.
   */
  async pgRestart(i: number, k = 0): Promise<FaultResult> {
    const downs = this.opts.pgDownMs ?? [0];
    const down = downs[k % downs.length];
    const label = `#${i} pg-restart${down ? ` (${down} ms down)` : ""}`;
    await this.steady(`${label}: steady before`);
    const from = Date.now() - BEFORE_MS;
    const mark = this.#mark();
    const stopAt = Date.now();
    await this.pg.stop("fast");
    const stoppedAt = Date.now();
    if (down) await sleep(down);
    await this.pg.start();
    const upAt = Date.now();
    await this.steady(`${label}: steady after`, AFTER);
    return await this.#check("pg-restart", label, from, mark, {
      // The tick in flight at the stop may not have been written: as
      // skipped as those of the downtime.
      excused: [{ from: stopAt - 1000, to: upAt, label: "down" }],
      faults: [{ at: upAt, label: "first ticks after" }],
      facts: {
        stopMs: stoppedAt - stopAt,
        downMs: upAt - stopAt,
        recoveredMs: Date.now() - upAt,
      },
    });
  }

  /**
   * Every core node in turn: SIGTERM right after a burst of its runs (it
   * hands its jobs over, finishes the runs going and leaves, and must log
   * the hand-over), then started again on its port. No run may be
   * interrupted and (strict) no tick may be later than a period.
   */
  async rolling(i: number): Promise<FaultResult> {
    const label = `#${i} rolling`;
    await this.steady(`${label}: steady before`);
    const from = Date.now() - BEFORE_MS;
    const mark = this.#mark();
    const exits: string[] = [];
    const handed: string[] = [];
    const steps: string[] = [];
    const at = () => iso(Date.now()).slice(14, 23);
    for (const n of this.core) {
      // Right after a burst of its runs: it drains with runs going.
      const epoch = await this.epochOf(n);
      if (epoch !== null) {
        await this.#afterBurst(new Set(await this.ownedBy(epoch)), n.name);
      }
      const before = n.log().length;
      steps.push(`${n.name} TERM ${at()}`);
      const status = await n.kill("SIGTERM");
      steps.push(`exit ${at()}`);
      exits.push(`${n.name}:${status?.code ?? status?.signal}`);
      const drained = n.log().slice(before);
      if (!/handed \d+ job\(s\) to other nodes/.test(drained)) {
        const said = drained.split("\n").filter((l) =>
          l && !/ run \d+: |not started here/.test(l)
        );
        handed.push(`${n.name} (it logged: ${said.slice(0, 8).join(" | ")})`);
      }
      await n.restart();
      steps.push(`up ${at()}`);
      await this.steady(`${label}: steady after ${n.name}`);
    }
    await this.steady(`${label}: steady after`, AFTER);
    return await this.#check("rolling", label, from, mark, {
      facts: { exits: exits.join(" "), steps: steps.join(", ") },
      problems: (r) => {
        const out: string[] = [];
        if (r.interrupted) out.push(`${r.interrupted} run(s) interrupted`);
        const bad = exits.filter((e) => !e.endsWith(":0"));
        if (bad.length) out.push(`exit statuses not 0: ${bad.join(" ")}`);
        if (handed.length) {
          out.push(`no hand-over logged by ${handed.join(", ")}`);
        }
        if (this.opts.strict && r.lateness.max > 1000) {
          out.push(
            `a tick ran ${r.lateness.max} ms late (more than a period): p99 ${r.lateness.p99} ms`,
          );
        }
        return out;
      },
    });
  }

  /**
   * A node joins: it must take jobs and execute some; then it leaves with
   * SIGTERM (its jobs handed back). Nothing doubled, lost or interrupted.
   */
  async join(i: number): Promise<FaultResult> {
    const label = `#${i} join`;
    await this.steady(`${label}: steady before`);
    const from = Date.now() - BEFORE_MS;
    const mark = this.#mark();
    const joinAt = Date.now();
    const extra = this.cluster.nodes[this.core.length];
    const node = extra ? (await extra.restart(), extra) : await this.cluster
      .addNode();
    const joinedMs = Date.now() - joinAt;
    await this.steady(`${label}: steady with ${node.name}`);
    const epoch = (await this.epochOf(node))!;
    const owned = (await this.ownedBy(epoch)).length;
    const [ran] = await this.cluster.query(
      `SELECT count(*)::int AS n FROM ${this.cluster.schema}.runs
       WHERE node_epoch = $1`,
      [epoch],
    );
    const status = await node.kill("SIGTERM");
    await this.steady(`${label}: steady after ${node.name} left`, AFTER);
    return await this.#check("join", label, from, mark, {
      facts: {
        joinedMs,
        ownedByJoiner: owned,
        runsByJoiner: ran.n,
        leaveExit: status?.code ?? -1,
      },
      problems: (r) => {
        const out: string[] = [];
        if (ran.n === 0) out.push(`${node.name} joined but ran nothing`);
        if (r.interrupted) out.push(`${r.interrupted} run(s) interrupted`);
        if (status?.code !== 0) out.push(`${node.name} exited ${status?.code}`);
        return out;
      },
    });
  }

  async close(): Promise<void> {
    await this.cluster.close();
    await this.target.close();
    await this.pg.close();
  }
}

/** Figures of one kind of fault over all its results. */
export interface KindFigures {
  kind: FaultKind;
  faults: number;
  held: number;
  doubled: number;
  missed: number;
  interrupted: number;
  excused: number;
  /** Ticks skipped by the overlap policy (a run still going at their time). */
  overlapSkips: number;
  /** Ticks executed more than a period (1 s) late. */
  latePastPeriod: number;
  unrecorded: number;
  leftRunning: number;
  expected: number;
  failover: Stats;
  lateness: Stats;
}

/** Pools the results per kind. */
export function figures(results: FaultResult[]): KindFigures[] {
  return (["steady", ...KINDS] as FaultKind[]).map((kind) => {
    const rs = results.filter((r) => r.kind === kind);
    const sum = (f: (r: FaultResult) => number) =>
      rs.reduce((a, r) => a + f(r), 0);
    return {
      kind,
      faults: rs.length,
      held: rs.filter((r) => r.problems.length === 0).length,
      doubled: sum((r) => r.report.doubled.length),
      missed: sum((r) => r.report.missed.length),
      interrupted: sum((r) => r.report.interrupted),
      excused: sum((r) => r.report.excused),
      overlapSkips: sum((r) => r.report.loggedSkips),
      latePastPeriod: sum((r) =>
        r.report.lateValues.filter((v) => v > 1000).length
      ),
      unrecorded: sum((r) => r.report.unrecorded.length),
      leftRunning: sum((r) => r.report.running.length),
      expected: sum((r) => r.report.expected),
      failover: stats(rs.flatMap((r) => r.failover)),
      lateness: stats(rs.flatMap((r) => r.report.lateValues)),
    };
  });
}
