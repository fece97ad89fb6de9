/**
 * The {@link Cluster} of the PostgreSQL store: what several jobpro nodes
 * sharing one schema need beyond the store contract. Each node joins the
 * `nodes` table with a fresh epoch (postgres_nodes.ts, lease.ts) and fences
 * its store by it (`fence`): from then on postgres_store.ts begins every
 * write transaction with {@link leaseCheck}, which holds the node's row FOR
 * SHARE to the commit, so no reaper can end the lease while a batch of it
 * is being written; claims, status changes and started runs then apply only
 * to jobs that epoch owns (`jobs.owner_epoch`), and started runs record it
 * (`runs.node_epoch`), keyed one per tick (`runs_one_per_tick`).
 *
 * Here: moving owners ({@link PostgresCluster.moveOwners}), ending dead
 * nodes ({@link PostgresCluster.reap}), blocks of run ids, listening for
 * other nodes' events (LISTEN on {@link channelFor}; every transaction that
 * appends events notifies it at commit, postgres_sql.ts), and reads by id.
 *
 * Single-node and cluster use must not mix on one schema at the same time:
 * a store that was never fenced writes as one node always did (ids from
 * `maxRunId`, no owners). One after the other is safe: the run id blocks
 * start above every id stored, and `maxRunId` counts every block handed out.
 *
 * @example
 * ```ts
 * const store = await openPostgresStore(url, { schema: "jobpro" });
 * store.cluster!.fence(epoch);
 * const stop = await store.cluster!.follow(() => void catchUp());
 * const { epochs, interrupted } = await store.cluster!.reap();
 * await stop();
 * ```
 * @module
 */
import pg from "pg";
import type { PoolClient } from "pg";
import { JobproError } from "./errors.ts";
import { interrupted, type Row, toRun, toStoredJob } from "./rows.ts";
import {
  channelFor,
  eventParams,
  finishedParams,
  JOB_FIELDS,
  RUN_FIELDS,
  RUN_ID_BLOCK,
  RUN_ID_BLOCKS,
  runsJson,
  type Statements,
} from "./postgres_sql.ts";
import type { Run } from "./run.ts";
import type {
  Cluster,
  LoggedEvent,
  OwnerMove,
  Reaped,
  RunIds,
  StoredJob,
} from "./store.ts";

/** Where a node's lease is live, by the database's clock. */
const LIVE = "left_at IS NULL AND lease_until > clock_timestamp()";

/** A node (as `n`) whose lease has run out, or whose connection is gone. */
const DYING = `n.left_at IS NULL AND (n.lease_until < clock_timestamp()
  OR (n.pid IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM pg_stat_activity a WHERE a.pid = n.pid)))`;

/**
 * A boolean SQL expression for the first statement of a fenced write
 * transaction: true when `epoch`'s lease is live, and then its row is held
 * FOR KEY SHARE until the transaction ends (a reaper's lock of it waits).
 *
 * @example
 * ```ts
 * await c.query(`BEGIN; SELECT ${leaseCheck("jobpro", 7)} AS leased`);
 * ```
 */
export function leaseCheck(schema: string, epoch: number): string {
  // KEY SHARE: the node's own renewals (plain updates) never wait behind
  // its batches; a reaper or a leave takes the row FOR UPDATE first, which
  // waits for the batch to commit.
  return `((SELECT epoch FROM ${schema}.nodes
    WHERE epoch = ${epoch}::bigint AND ${LIVE} FOR KEY SHARE) IS NOT NULL)`;
}

/**
 * The error of a write the lease no longer allows (nothing was changed).
 *
 * @example
 * ```ts
 * throw leaseEnded(7);
 * ```
 */
export function leaseEnded(epoch: number | null): JobproError {
  return new JobproError(
    "unavailable",
    epoch === null
      ? "this node holds no lease: writes are refused until it joins again"
      : `this node's lease (epoch ${epoch}) has ended: writes are refused until it joins again under a new epoch`,
  );
}

/**
 * What a write transaction proves in its first statement, and the refusal
 * when it cannot: the fencing epoch's lease live ({@link leaseCheck});
 * nothing when unfenced (null).
 *
 * @example
 * ```ts
 * const guard = writeGuard("jobpro", 7);
 * const { rows: [r] } = await c.query(`SELECT 1 AS one${guard.sql}`);
 * const refusal = guard.refusal(r); // a JobproError, or null
 * ```
 */
export function writeGuard(schema: string, epoch: number | null) {
  return {
    sql: epoch === null ? "" : `, ${leaseCheck(schema, epoch)} AS leased`,
    refusal: (row: Row): JobproError | null =>
      epoch !== null && !row.leased ? leaseEnded(epoch) : null,
  };
}

/**
 * Records a batch's started runs: as they are, unfenced (null: all were);
 * fenced by `epoch`, only those of jobs it owns (or manual), never two of
 * one tick, and returns the ids recorded.
 *
 * @example
 * ```ts
 * const recorded = await recordStarted(c, sql, batch.started, 7);
 * ```
 */
export async function recordStarted(
  c: PoolClient,
  sql: Statements,
  runs: Run[],
  epoch: number | null,
): Promise<Set<number> | null> {
  if (!runs.length) return epoch === null ? null : new Set();
  if (epoch === null) {
    await c.query(sql.started, [runsJson(runs)]);
    return null;
  }
  const { rows } = await c.query(sql.startedFenced, [runsJson(runs), epoch]);
  return new Set(rows.map((r) => Number(r.id)));
}

/** The cluster's own statements (the batch's are in postgres_sql.ts). */
export function clusterStatements(s: string) {
  const left = `(SELECT epoch FROM ${s}.nodes WHERE left_at IS NOT NULL)`;
  return {
    owners: `SELECT id, owner_epoch::float8 AS owner FROM ${s}.jobs`,
    // The epochs moves name, held FOR KEY SHARE to the commit (their own
    // renewals go on; a reaper's FOR UPDATE waits): a node handed a
    // job cannot be reaped before the move is in (its jobs then go too).
    nodesOf: `SELECT epoch::float8 AS epoch, (${LIVE}) AS live FROM ${s}.nodes
      WHERE epoch = ANY($1::bigint[]) ORDER BY epoch FOR KEY SHARE`,
    moveOwners: `UPDATE ${s}.jobs j SET owner_epoch = m.to_epoch
      FROM unnest($1::text[], $2::bigint[], $3::bigint[])
        AS m(job_id, from_epoch, to_epoch)
      WHERE j.id = m.job_id AND j.owner_epoch IS NOT DISTINCT FROM m.from_epoch
      RETURNING j.id`,
    // (1) End the leases that expired or whose connection is gone. A node
    // in a fenced batch holds its row FOR KEY SHARE: this waits (FOR
    // UPDATE) for its commit.
    // Whether there is anything to reap: one read, so that the reaper can
    // run at every renewal without a transaction each time; with the
    // epochs of the nodes that left, for `orphaned`.
    reapDue: `SELECT EXISTS (SELECT 1 FROM ${s}.nodes n WHERE ${DYING})
      OR EXISTS (SELECT 1 FROM ${s}.runs r JOIN ${s}.nodes n
        ON n.epoch = r.node_epoch WHERE r.running AND r.status <> 'queued'
          AND n.left_at IS NOT NULL) AS due,
      ARRAY(SELECT epoch::float8 FROM ${s}.nodes WHERE left_at IS NOT NULL)
        AS left`,
    // Whether jobs are owned by nodes that left ($1): by index. The epochs
    // are given as values, not joined: planned from a join (or a subquery)
    // the owner is any epoch, most jobs match, and every job was read (2 ms
    // with 2,000 jobs, at every renewal of every node).
    orphaned: `SELECT EXISTS (SELECT 1 FROM ${s}.jobs
      WHERE owner_epoch = ANY($1::bigint[])) AS due`,
    reapNodes: `WITH dying AS (
        SELECT epoch FROM ${s}.nodes n WHERE ${DYING}
        FOR UPDATE),
      ended AS (
        UPDATE ${s}.nodes n SET left_at = clock_timestamp()
        FROM dying d WHERE n.epoch = d.epoch AND n.left_at IS NULL
        RETURNING n.epoch)
      SELECT coalesce(array_agg(epoch::float8 ORDER BY epoch), '{}') AS epochs,
        (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now
      FROM ended`,
    // Later statements, so later snapshots: a start that committed while
    // (1) waited is seen. The jobs first, in id order, as batches lock them.
    reapLockJobs: `SELECT id FROM ${s}.jobs
      WHERE owner_epoch IN ${left} OR id IN (SELECT job_id FROM ${s}.runs
        WHERE running AND node_epoch IN ${left})
      ORDER BY id FOR UPDATE`,
    // (2) Their running runs (locked: a second reaper waits, then finds
    // them finished and skips them). Queued ones are not interrupted: they
    // wait on for their jobs' new owners (queue.ts).
    reapRuns: `SELECT ${RUN_FIELDS}, output, n.name AS node
      FROM ${s}.runs r JOIN ${s}.nodes n ON n.epoch = r.node_epoch
      WHERE r.running AND r.status <> 'queued' AND n.left_at IS NOT NULL
      ORDER BY r.id FOR UPDATE OF r`,
    // (3) Their jobs, released.
    release: `UPDATE ${s}.jobs SET owner_epoch = NULL
      WHERE owner_epoch IN ${left} RETURNING id`,
    runIdsLock: `SELECT pg_advisory_xact_lock(hashtext($1))`,
    // $1 steps of the sequence; under runIdsLock they are consecutive.
    nextRunIds: `SELECT min(v)::float8 AS first, max(v)::float8 AS last,
      (SELECT coalesce(max(id), 0) FROM ${s}.runs)::float8 AS used
      FROM (SELECT nextval('${s}.run_ids') AS v FROM generate_series(1, $1)) AS steps`,
    bumpRunIds: `SELECT setval('${s}.run_ids', $1::bigint, false)`,
    jobsById: `SELECT ${JOB_FIELDS}, owner_epoch::float8 AS owner_epoch
      FROM ${s}.jobs WHERE id = ANY($1::text[]) ORDER BY created_at, id`,
    runsById: `SELECT ${RUN_FIELDS}, output,
        (SELECT name FROM ${s}.nodes n WHERE n.epoch = r.node_epoch) AS node
      FROM ${s}.runs r WHERE r.id = ANY($1::bigint[]) ORDER BY r.id`,
  };
}

/** What the store lends its cluster. */
export interface ClusterHost {
  schema: string;
  url: string;
  sql: Statements;
  pool: pg.Pool;
  connectTimeoutMs: number;
  /** Runs a call as the store runs each (closed, fenced, error mapping). */
  run<T>(fn: () => Promise<T>, write?: boolean): Promise<T>;
  /** A write transaction, fenced by the cluster's epoch, retried on deadlock. */
  tx<T>(fn: (c: PoolClient) => Promise<T>): Promise<T>;
  /** Hears each lost connection. */
  lost(e: Error): void;
}

/** The listening connection checks it is alive this often. */
const FOLLOW_PING_MS = 2_000;
/** Reconnecting waits this long at first, doubling to {@link FOLLOW_MAX_DELAY_MS}. */
const FOLLOW_MIN_DELAY_MS = 100;
const FOLLOW_MAX_DELAY_MS = 2_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const idSet = (rows: Row[]) => new Set(rows.map((r) => String(r.id)));

/** The cluster of one PostgresStore (see the module comment). */
export class PostgresCluster implements Cluster {
  /** The fencing epoch: undefined, never fenced (as the store contract's tests use it); null, refuse every write. */
  epoch: number | null | undefined = undefined;
  readonly #h: ClusterHost;
  readonly #cs: ReturnType<typeof clusterStatements>;
  readonly #followers = new Set<() => Promise<void>>();

  constructor(host: ClusterHost) {
    this.#h = host;
    this.#cs = clusterStatements(host.schema);
  }

  fence(epoch: number | null): void {
    if (epoch !== null && !(Number.isSafeInteger(epoch) && epoch > 0)) {
      throw new RangeError(`fence: not an epoch: ${epoch}`);
    }
    this.epoch = epoch;
  }

  owners(): Promise<Map<string, number | null>> {
    return this.#h.run(async () => {
      const { rows } = await this.#h.pool.query(this.#cs.owners);
      return new Map(
        rows.map((r) => [String(r.id), r.owner as number | null]),
      );
    });
  }

  moveOwners(moves: OwnerMove[]): Promise<boolean[]> {
    return this.#h.run(async () => {
      const epoch = this.epoch;
      if (typeof epoch !== "number") throw leaseEnded(null);
      if (!moves.length) return [];
      return await this.#h.tx((c) => this.#move(c, moves, epoch));
    }, true);
  }

  /** The moves the rules allow, applied by compare-and-set, with their events. */
  async #move(c: PoolClient, moves: OwnerMove[], epoch: number) {
    const others = new Set<number>();
    for (const m of moves) {
      for (const e of [m.from, m.to]) {
        if (e !== null && e !== epoch) others.add(e);
      }
    }
    const live = new Map<number, boolean>();
    if (others.size) {
      const { rows } = await c.query(this.#cs.nodesOf, [[...others]]);
      for (const r of rows) live.set(Number(r.epoch), Boolean(r.live));
    }
    // A hand-off goes from this epoch to a live one; a take-over comes to
    // this epoch from none or from one that ended. One move per job.
    const seen = new Set<string>();
    const allowed = moves.map((m) => {
      const ok = m.from === epoch
        ? m.to === epoch || live.get(m.to) === true
        : m.to === epoch && (m.from === null || live.get(m.from) === false);
      if (!ok || seen.has(m.jobId)) return false;
      seen.add(m.jobId);
      return true;
    });
    const go = moves.filter((_, i) => allowed[i]);
    if (!go.length) return allowed;
    await c.query(this.#h.sql.lockJobs, [go.map((m) => m.jobId)]);
    const moved = idSet(
      (await c.query(this.#cs.moveOwners, [
        go.map((m) => m.jobId),
        go.map((m) => m.from),
        go.map((m) => m.to),
      ])).rows,
    );
    const events: LoggedEvent[] = [...moved].sort().map((jobId) => ({
      type: "job-update",
      jobId,
    }));
    await this.#log(c, events);
    return moves.map((m, i) => allowed[i] && moved.has(m.jobId));
  }

  /** Appends events (and notifies every listener at commit). */
  async #log(c: PoolClient, events: LoggedEvent[]): Promise<void> {
    if (!events.length) return;
    await c.query(this.#h.sql.events, eventParams(events, Date.now()));
  }

  /** Whether a node must be reaped, its runs ended or its jobs moved. */
  #reapDue(): Promise<boolean> {
    return this.#h.run(async () => {
      const { rows: [probe] } = await this.#h.pool.query(this.#cs.reapDue);
      if (probe.due || !probe.left.length) return probe.due;
      const { rows: [o] } = await this.#h.pool.query(this.#cs.orphaned, [
        probe.left,
      ]);
      return o.due;
    });
  }

  async reap(): Promise<Reaped> {
    if (!await this.#reapDue()) return { epochs: [], interrupted: [] };
    return await this.#h.run(() =>
      this.#h.tx(async (c) => {
        const cs = this.#cs;
        const { rows: [e] } = await c.query(cs.reapNodes);
        await c.query(cs.reapLockJobs);
        const left = (await c.query(cs.reapRuns)).rows.map(toRun);
        // Counted on their jobs as deltas, exactly as recoverInterrupted does.
        const ended = interrupted(left, Number(e.now));
        if (ended.length) {
          await c.query(this.#h.sql.finished, finishedParams(ended, null));
        }
        const released = [...idSet((await c.query(cs.release)).rows)].sort();
        const events: LoggedEvent[] = [
          ...ended.map((run) => ({
            type: "run-finished" as const,
            jobId: run.jobId,
            runId: run.id,
          })),
          ...released.map((jobId) => ({ type: "job-update" as const, jobId })),
        ];
        await this.#log(c, events);
        return {
          epochs: (e.epochs as unknown[]).map(Number),
          interrupted: ended,
        };
      }), true);
  }

  /**
   * A block from the `run_ids` sequence, above every id stored (a store
   * that ran unfenced may have used ids the sequence never gave); taken
   * under a lock of the schema's, so the sequence is only ever moved up.
   */
  reserveRunIds(): Promise<RunIds> {
    return this.#h.run(async () => {
      const c = await this.#h.pool.connect();
      let broken: Error | undefined;
      try {
        await c.query("BEGIN");
        await c.query(this.#cs.runIdsLock, [
          `jobpro run ids ${this.#h.schema}`,
        ]);
        let { rows: [r] } = await c.query(this.#cs.nextRunIds, [RUN_ID_BLOCKS]);
        if (Number(r.first) <= Number(r.used)) {
          await c.query(this.#cs.bumpRunIds, [Number(r.used) + 1]);
          ({ rows: [r] } = await c.query(this.#cs.nextRunIds, [RUN_ID_BLOCKS]));
        }
        await c.query("COMMIT");
        // Consecutive steps are one range; otherwise (something took a step
        // outside the lock) only the first block is surely this node's.
        const steps = (Number(r.last) - Number(r.first)) / RUN_ID_BLOCK + 1;
        const count = steps === RUN_ID_BLOCKS
          ? steps * RUN_ID_BLOCK
          : RUN_ID_BLOCK;
        return { first: Number(r.first), count };
      } catch (e) {
        await c.query("ROLLBACK").catch((x) => broken = x);
        throw e;
      } finally {
        c.release(broken);
      }
    });
  }

  jobsById(ids: readonly string[]): Promise<StoredJob[]> {
    return this.#h.run(async () =>
      (await this.#h.pool.query(this.#cs.jobsById, [[...ids]])).rows.map(
        toStoredJob,
      )
    );
  }

  runsById(ids: readonly number[]): Promise<Run[]> {
    return this.#h.run(async () =>
      (await this.#h.pool.query(this.#cs.runsById, [[...ids]])).rows.map(
        toRun,
      )
    );
  }

  follow(wake: (seq?: number) => void): Promise<() => Promise<void>> {
    return this.#h.run(async () => {
      const f = follower(this.#h, wake);
      await f.started;
      const stop = async () => {
        this.#followers.delete(stop);
        await f.stop();
      };
      this.#followers.add(stop);
      return stop;
    });
  }

  /** Stops every follower (the store is closing). */
  async stopFollowing(): Promise<void> {
    await Promise.all([...this.#followers].map((stop) => stop()));
  }
}

/**
 * A LISTEN connection of its own (not the pool's: it must stay on one
 * session), reconnected with a backoff whenever it fails, until stopped.
 * `started` settles after the first attempt, whether it connected or not.
 */
function follower(h: ClusterHost, wake: (seq?: number) => void) {
  const channel = channelFor(h.schema);
  let stopped = false;
  let client: pg.Client | null = null;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let ping: ReturnType<typeof setInterval> | undefined;
  let delay = FOLLOW_MIN_DELAY_MS;
  const call = (seq?: number) => {
    try {
      const p = wake(seq) as unknown;
      if (p instanceof Promise) p.catch(() => {});
    } catch { /* the caller's failure is not the connection's */ }
  };
  const connect = async () => {
    if (stopped) return;
    const c = new pg.Client({
      connectionString: h.url,
      connectionTimeoutMillis: h.connectTimeoutMs,
      query_timeout: 2 * FOLLOW_PING_MS,
      keepAlive: true,
      application_name: "jobpro follow",
    });
    client = c;
    let failed = false;
    const fail = (e?: Error) => {
      if (failed) return;
      failed = true;
      clearInterval(ping);
      if (e && !stopped) h.lost(e);
      c.end().catch(() => {});
      if (client === c) client = null;
      if (stopped) return;
      retry = setTimeout(connect, delay);
      delay = Math.min(FOLLOW_MAX_DELAY_MS, delay * 2);
    };
    c.on("error", (e) => fail(e));
    c.on("end", () => fail(new Error("the listening connection ended")));
    c.on(
      "notification",
      (n) => n.channel === channel && call(Number(n.payload)),
    );
    try {
      await c.connect();
      await c.query(`LISTEN ${channel}`);
    } catch (e) {
      return fail(e instanceof Error ? e : new Error(String(e)));
    }
    if (failed || stopped) return void c.end().catch(() => {});
    delay = FOLLOW_MIN_DELAY_MS;
    // A connection cut without a word (a partition) shows as a ping unanswered.
    let busy = false;
    ping = setInterval(() => {
      if (busy) return;
      busy = true;
      c.query("SELECT 1").then(
        () => busy = false,
        (e) => fail(e instanceof Error ? e : new Error(String(e))),
      );
    }, FOLLOW_PING_MS);
    // Whatever was appended before LISTEN took effect is read now.
    call();
  };
  return {
    started: connect(),
    async stop() {
      stopped = true;
      clearTimeout(retry);
      clearInterval(ping);
      const c = client;
      client = null;
      if (c) {
        await Promise.race([c.end().catch(() => {}), sleep(1_000)]);
      }
    },
  };
}
