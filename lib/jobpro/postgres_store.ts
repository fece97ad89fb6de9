/**
 * The shared store: PostgreSQL through npm `pg`, implementing the whole
 * store contract of store.ts, for the nodes of a cluster that share one
 * database. Tables `jobs`, `runs` (in flight and finished), `events`
 * (the bounded log) and their counters live in one schema (default
 * "jobpro"), created and migrated at open under an advisory lock, with the
 * schema's version in `schema_version`: a schema newer than this code knows
 * is refused with a clear message.
 *
 * How the contract's guarantees are kept:
 * - each batch is one transaction on one pooled connection; a stale put or
 *   delete, a lost claim, are `UPDATE ... WHERE version = expected` (or
 *   `next_run_at IS NOT DISTINCT FROM tick`) that take no row: under READ
 *   COMMITTED the second of two concurrent writers re-checks the condition
 *   on the row the first committed, so it loses;
 * - counters move by deltas computed in the statement that finishes the runs;
 * - event numbers come from one counter row, locked until commit: gapless,
 *   and committed in order;
 * - a batch whose COMMIT got no answer (the connection dropped, the query
 *   timed out) is not reported failed blindly: the store asks the database
 *   whether that transaction committed (`pg_xact_status`), ending the old
 *   session if it is still in progress, so a failure still means nothing
 *   changed.
 *
 * The database going away never crashes the process: the pool and every
 * connection have an error handler, each query has a timeout, and every
 * call fails with `JobproError("unavailable")` (a 503 that changed nothing)
 * until the pool reconnects at a later call.
 *
 * Several nodes share the schema ({@link Store.cluster}, postgres_cluster.ts):
 * fenced by a node's epoch (`cluster.fence`), each write transaction proves
 * that lease live first, and holds it to the commit. A store never fenced
 * writes unfenced (as the store contract's tests use it).
 *
 * @example
 * ```ts
 * const store = await openPostgresStore("postgres://jobpro@db:5432/jobpro");
 * const jobs = await store.loadJobs();
 * await store.close();
 * ```
 * @module
 */
// The version is pinned once, in deno.json's import map.
import pg from "pg";
import type { PoolClient, QueryResult } from "pg";
import { JobproError } from "./errors.ts";
import {
  leaseEnded,
  PostgresCluster,
  recordStarted,
  writeGuard,
} from "./postgres_cluster.ts";
import {
  DEFAULT_MAX_EVENTS,
  interrupted,
  type Row,
  toChainTrigger,
  toDelivery,
  toEvent,
  toRun,
  toStats,
  toStoredJob,
} from "./rows.ts";
import {
  chainParams,
  claimParams,
  deleteParams,
  deliveriesJson,
  eventParams,
  finishedParams,
  migrateSchema,
  putsJson,
  SCHEMA_NAME,
  type Statements,
  statementsFor,
  statusParams,
  triggersJson,
} from "./postgres_sql.ts";
import type { Run } from "./run.ts";
import { encodeLiveOutput } from "./live_output.ts";
import type { Delivery, DeliveryOutcome } from "./notify.ts";
import type { ChainStart, ChainTrigger } from "./chains.ts";
import {
  queuedRunsOn,
  setLimitsOn,
  startQueuedOn,
  usageOn,
} from "./postgres_queue.ts";
import {
  type Batch,
  type JobStats,
  type KeyUsage,
  type PruneRule,
  requireAllApplied,
  type RunQuery,
  type StatusChange,
  type Store,
  type StoredEvent,
  type StoredJob,
  type Written,
} from "./store.ts";

/**
 * How to reach the database and how long to wait for it.
 *
 * @example
 * ```ts
 * const opts: PostgresStoreOptions = { schema: "jobpro", queryTimeoutMs: 5_000 };
 * ```
 */
export interface PostgresStoreOptions {
  /** The schema that holds the tables (default "jobpro"): lower-case letters, digits, `_`. */
  schema?: string;
  /** Connections in the pool (default 8). */
  max?: number;
  /** A query with no answer in this long fails (default 10,000 ms; the server cancels it too). */
  queryTimeoutMs?: number;
  /** Connecting gives up after this long (default 5,000 ms). */
  connectTimeoutMs?: number;
  /** How long to keep finding out whether a COMMIT that got no answer took (default 30,000 ms). */
  commitCheckMs?: number;
  /** Hears each lost connection (default: a warning on stderr, at most one per 10 s). */
  onConnectionError?: (e: Error) => void;
  /** For tests: runs inside each batch's transaction, just before its COMMIT. */
  beforeCommit?: () => Promise<void>;
  /**
   * A node's lease (a cluster's store): a transaction of this store left
   * open (its process paused or cut off) is ended by the server after half
   * of it, so one stopped node cannot hold the event log, or its own row,
   * from the others for longer.
   */
  leaseMs?: number;
}

/** SQLSTATEs that mean "the database cannot be used now", not "this write is wrong". */
const UNAVAILABLE_STATE =
  /^(08|53|58|57P0|57014|55P03|25006|40001|40P01|3D000|28)/;
/**
 * SQLSTATEs worth trying the whole batch again for: nothing of it was kept
 * (23505: a fenced finish raced another node's start of its tick's key).
 */
const RETRY_STATE = /^(40001|40P01|23505)$/;

const codeOf = (e: unknown) =>
  e instanceof pg.DatabaseError ? e.code ?? "" : "";

/** A failure of the connection itself (refused, reset, timed out), not of a statement. */
function isConnectionFailure(e: unknown): boolean {
  if (!(e instanceof Error) || e instanceof pg.DatabaseError) return false;
  const code = (e as { code?: unknown }).code;
  return (typeof code === "string" && /^E[A-Z]+$/.test(code)) ||
    /connect|terminated|timeout|not queryable|socket|closed/i.test(e.message);
}

/** An error's message, or its code when it has none (a refused connection may not). */
function describe(e: unknown): string {
  const err = e as { message?: unknown; code?: unknown };
  return String(err?.message || err?.code || e);
}

/**
 * The error a store call fails with: `unavailable` for a database that is
 * down, unreachable, full, shutting down or too slow (as DuckDBStore does for
 * a locked or full file); other errors as they are.
 *
 * @example
 * ```ts
 * storeError(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })).code; // "unavailable"
 * ```
 */
export function storeError(e: unknown): unknown {
  if (e instanceof JobproError) return e;
  const state = codeOf(e);
  if (UNAVAILABLE_STATE.test(state) || (!state && isConnectionFailure(e))) {
    const err = new JobproError(
      "unavailable",
      `the database is unavailable: ${describe(e)}`,
    );
    err.cause = e;
    return err;
  }
  return e;
}

/** The URL without its password, for messages. */
function shown(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}${u.port ? `:${u.port}` : ""}${u.pathname}`;
  } catch {
    return "(an unparsable URL)";
  }
}

/** Reports lost connections: to the caller's handler, or a warning at most every 10 s. */
function connectionErrors(opts: PostgresStoreOptions): (e: Error) => void {
  if (opts.onConnectionError) return opts.onConnectionError;
  let last = -Infinity;
  return (e) => {
    if (performance.now() - last < 10_000) return;
    last = performance.now();
    console.warn(
      `jobpro: lost a PostgreSQL connection (${e.message}); the next query reconnects`,
    );
  };
}

function createPool(
  url: string,
  opts: PostgresStoreOptions,
  lost: (e: Error) => void,
): pg.Pool {
  const queryTimeout = opts.queryTimeoutMs ?? 10_000;
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 8,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
    idleTimeoutMillis: 30_000,
    query_timeout: queryTimeout,
    // The server cancels first, so the connection usually survives a slow query.
    statement_timeout: Math.max(1, queryTimeout - 250),
    application_name: "jobpro",
    keepAlive: true,
    ...(opts.leaseMs
      ? {
        idle_in_transaction_session_timeout: Math.ceil(opts.leaseMs / 2),
      }
      : {}),
  });
  // An idle connection that dies is reported here; one checked out reports
  // on the client itself: without a listener either would end the process.
  pool.on("error", (e) => lost(e));
  pool.on("connect", (client) => client.on("error", (e) => lost(e)));
  return pool;
}

/** Creates the schema or migrates it (postgres_sql.ts), on a connection of the pool. */
async function migrate(pool: pg.Pool, schema: string) {
  const c = await pool.connect();
  let broken: Error | undefined;
  try {
    await migrateSchema(c, schema);
  } catch (e) {
    await c.query("ROLLBACK").catch((r) => broken = r);
    throw e;
  } finally {
    c.release(broken);
  }
}

/**
 * Opens the store on the database at `url` (a `postgres://` URL), creating
 * or migrating its schema. Fails with a clear `unavailable` error when the
 * database cannot be reached or its schema is newer than this code.
 *
 * @example
 * ```ts
 * const store = await openPostgresStore("postgres://jobpro@127.0.0.1:5432/jobpro", { schema: "jobpro" });
 * ```
 */
export async function openPostgresStore(
  url: string,
  opts: PostgresStoreOptions = {},
): Promise<Store> {
  const schema = opts.schema ?? "jobpro";
  if (!SCHEMA_NAME.test(schema)) {
    throw new JobproError(
      "invalid",
      `schema: "${schema}" is not a plain schema name (lower-case letters, digits, _)`,
      "schema",
    );
  }
  const sql = statementsFor(schema);
  const lost = connectionErrors(opts);
  const pool = createPool(url, opts, lost);
  try {
    await migrate(pool, schema);
    return new PostgresStore(pool, sql, opts, { url, schema, lost });
  } catch (e) {
    await pool.end().catch(() => {});
    if (e instanceof JobproError) throw e;
    throw new JobproError(
      "unavailable",
      `cannot open the PostgreSQL database ${shown(url)}: ${describe(e)}`,
    );
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const asError = (e: unknown) => e instanceof Error ? e : new Error(String(e));

/** The store on one pool; every call is one statement or one transaction. */
class PostgresStore implements Store {
  readonly #pool: pg.Pool;
  readonly #sql: Statements;
  readonly #opts: PostgresStoreOptions;
  #closed = false;
  #ended: Promise<void> | undefined;
  /** Calls under way: close waits for them before ending the pool. */
  readonly #inFlight = new Set<Promise<unknown>>();
  /** What the nodes of the cluster share; fences this store's writes. */
  readonly cluster: PostgresCluster;
  readonly #schema: string;

  constructor(
    pool: pg.Pool,
    sql: Statements,
    opts: PostgresStoreOptions,
    at: { url: string; schema: string; lost: (e: Error) => void },
  ) {
    this.#pool = pool;
    this.#sql = sql;
    this.#opts = opts;
    this.#schema = at.schema;
    this.cluster = new PostgresCluster({
      ...at,
      sql,
      pool,
      connectTimeoutMs: opts.connectTimeoutMs ?? 5_000,
      run: (fn, write) => this.#run(fn, write),
      tx: (fn) => this.#retrying(fn),
    });
  }

  /**
   * Runs a call unless closed, mapping its failure to the store's errors;
   * a `write` not while fenced by no epoch (between leases).
   */
  #run<T>(fn: () => Promise<T>, write = false): Promise<T> {
    if (this.#closed) {
      return Promise.reject(
        new JobproError(
          "unavailable",
          "the database is closed: the server is shutting down",
        ),
      );
    }
    if (write && this.cluster.epoch === null) {
      return Promise.reject(leaseEnded(null));
    }
    const p = fn().catch((e) => {
      throw storeError(e);
    });
    this.#inFlight.add(p);
    p.finally(() => this.#inFlight.delete(p)).catch(() => {});
    return p;
  }

  async #query(sql: string, params?: unknown[]): Promise<Row[]> {
    return (await this.#pool.query(sql, params)).rows;
  }

  /**
   * One transaction on one connection. A write learns its transaction id
   * first, so that a COMMIT left without an answer can be resolved. A
   * connection that failed (or whose state is unknown) is destroyed, not
   * returned to the pool.
   */
  async #tx<T>(
    fn: (c: PoolClient, epoch: number | null) => Promise<T>,
    mode: "write" | "read" = "write",
  ): Promise<T> {
    const fenced = this.cluster.epoch;
    if (mode === "write" && fenced === null) throw leaseEnded(null);
    const epoch = fenced ?? null;
    const c = await this.#pool.connect();
    let broken: Error | undefined;
    let settled = false;
    try {
      let session: { xid: string; pid: number } | null = null;
      if (mode === "write") {
        // Fenced: the transaction proves that the lease is live, and holds
        // it to the commit.
        const guard = writeGuard(this.#schema, epoch);
        const [, r] = await c.query(
          `BEGIN; SELECT pg_current_xact_id()::text AS xid, pg_backend_pid() AS pid${guard.sql}`,
        ) as unknown as QueryResult[];
        session = r.rows[0];
        const refusal = guard.refusal(r.rows[0]);
        if (refusal) {
          await c.query("ROLLBACK");
          settled = true;
          throw refusal;
        }
      } else {
        await c.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      }
      const out = await fn(c, epoch);
      await this.#opts.beforeCommit?.();
      try {
        await c.query("COMMIT");
      } catch (e) {
        // A plain ERROR leaves the session up and the transaction aborted.
        if (
          session === null ||
          (e instanceof pg.DatabaseError && e.severity === "ERROR")
        ) throw e;
        broken = asError(e);
        await this.#outcome(session, e);
      }
      return out;
    } catch (e) {
      if (!broken && !settled) {
        // A plain ERROR, or a refusal of the batch's own (an all-or-nothing
        // batch that would not apply whole), leaves the session up.
        if (
          (e instanceof pg.DatabaseError && e.severity === "ERROR") ||
          e instanceof JobproError
        ) {
          await c.query("ROLLBACK").catch((r) => broken = asError(r));
        } else broken = asError(e);
      }
      throw e;
    } finally {
      c.release(broken);
    }
  }

  /**
   * Finds out whether the transaction whose COMMIT got no answer committed:
   * resolves if it did, throws `unavailable` if it did not (nothing changed)
   * or if that cannot be learnt in time. A session still in progress is
   * ended, which settles it.
   */
  async #outcome(s: { xid: string; pid: number }, cause: unknown) {
    const deadline = performance.now() + (this.#opts.commitCheckMs ?? 30_000);
    const why = describe(cause);
    for (;;) {
      let status: unknown = null;
      try {
        [{ status }] = await this.#query(
          "SELECT pg_xact_status($1::xid8) AS status",
          [s.xid],
        );
        if (status === "in progress") {
          await this.#query(
            `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE pid = $1 AND backend_xid = xid($2::xid8)`,
            [s.pid, s.xid],
          );
        }
      } catch { /* still unreachable: try again */ }
      if (status === "committed") return;
      if (status === "aborted") {
        throw new JobproError(
          "unavailable",
          `could not commit to the database (${why}); nothing was written`,
        );
      }
      if (performance.now() > deadline || this.#closed) {
        throw new JobproError(
          "unavailable",
          `lost the database while committing (${why}) and could not learn whether the batch was written`,
        );
      }
      await sleep(100);
    }
  }

  /**
   * The batch's statements, in the order DuckDBStore applies them; fenced
   * by `epoch` (the transaction proved its lease), the claims, statuses and
   * started runs only of the jobs it owns, locked first.
   */
  async #apply(
    c: PoolClient,
    batch: Batch,
    epoch: number | null,
  ): Promise<Written> {
    const sql = this.#sql;
    const ids = async (text: string, params: unknown[]) =>
      new Set((await c.query(text, params)).rows.map((r) => String(r.id)));
    const none = new Set<string>();
    const touched = new Set([
      ...batch.deletes.map((d) => d.id),
      ...batch.claims.map((cl) => cl.jobId),
      ...batch.statuses.map((st) => st.jobId),
      ...batch.puts.filter((p) => p.expected !== null).map((p) => p.job.id),
      ...batch.finished.map((r) => r.jobId),
      ...epoch === null ? [] : batch.started.map((r) => r.jobId),
    ]);
    // Fenced, even one: ownership is then read from the row as committed last.
    if (touched.size > (epoch === null ? 1 : 0)) {
      await c.query(sql.lockJobs, [[...touched]]);
    }
    const deleted = batch.deletes.length
      ? await ids(sql.deleteJobs, deleteParams(batch.deletes))
      : none;
    // A status rides with its job's claim (or, below, its run's finish):
    // one write of the row, not two. Not so for a job put or deleted in the
    // batch (written at this point, the puts after it).
    const riding = ridingStatuses(batch);
    const won = batch.claims.length
      ? await ids(sql.claim, claimParams(batch.claims, epoch, riding.claim))
      : none;
    const finishing = new Set(riding.finish.map((s) => s.jobId));
    const alone = batch.statuses.filter((s) =>
      !(riding.claim.has(s.jobId) && won.has(s.jobId)) &&
      !finishing.has(s.jobId)
    );
    if (alone.length) await c.query(sql.statuses, statusParams(alone, epoch));
    const creates = batch.puts.filter((p) => p.expected === null);
    const updates = batch.puts.filter((p) => p.expected !== null);
    const put = new Set([
      ...creates.length ? await ids(sql.createJobs, [putsJson(creates)]) : [],
      ...updates.length
        ? await ids(sql.updateJobs, [putsJson(updates, epoch !== null)])
        : [],
    ]);
    requireAllApplied(batch, put, deleted);
    const alive = (r: Run) => !deleted.has(r.jobId);
    const chains = batch.chained?.length
      ? await consumeChains(c, sql, batch.chained, epoch)
      : null;
    const refused = (r: Run) => chains?.refused.has(r.id) ?? false;
    const started = batch.started.filter((r) => alive(r) && !refused(r));
    const finished = batch.finished.filter(alive);
    const recorded = await recordStarted(c, sql, started, epoch);
    // A riding status whose job no run's end touched is written alone.
    const rode = finished.length
      ? await ids(sql.finished, finishedParams(finished, epoch, riding.finish))
      : none;
    const left = riding.finish.filter((s) => !rode.has(s.jobId));
    if (left.length) await c.query(sql.statuses, statusParams(left, epoch));
    const deliveries = (batch.deliveries ?? []).filter((d) =>
      !deleted.has(d.jobId)
    );
    if (deliveries.length) {
      await c.query(sql.deliveries, [deliveriesJson(deliveries)]);
    }
    const triggers = (batch.triggers ?? []).filter((t) =>
      !deleted.has(t.jobId) && !deleted.has(t.parentJobId)
    );
    if (triggers.length) {
      await c.query(sql.chainTriggers, [triggersJson(triggers)]);
    }
    if (batch.outputs?.length) {
      await c.query(sql.outputs, [
        batch.outputs.map((o) => o.runId),
        batch.outputs.map(encodeLiveOutput),
        epoch,
      ]);
    }
    // Last: the event counter's row lock is held from here to the commit.
    const { rows: [seq] } = batch.events.length
      ? await c.query(sql.events, eventParams(batch.events, Date.now()))
      : await c.query(sql.nextSeq);
    return {
      puts: batch.puts.map((p) => put.has(p.job.id)),
      deletes: batch.deletes.map((d) => deleted.has(d.id)),
      claims: batch.claims.map((cl) => won.has(cl.jobId)),
      ...(recorded || chains?.refused.size) && {
        started: batch.started.map((r) =>
          !refused(r) && (recorded?.has(r.id) ?? true)
        ),
      },
      ...chains && { chained: chains.chained },
      firstSeq: Number(seq.first),
    };
  }

  /** A transaction tried again (a few times) when the database aborted it for a deadlock. */
  async #retrying<T>(
    fn: (c: PoolClient, epoch: number | null) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 1;; attempt++) {
      try {
        return await this.#tx(fn);
      } catch (e) {
        if (attempt >= 4 || !RETRY_STATE.test(codeOf(e))) throw e;
        await sleep(attempt * 5 * Math.random());
      }
    }
  }

  write(batch: Batch): Promise<Written> {
    return this.#run(
      () => this.#retrying((c, epoch) => this.#apply(c, batch, epoch)),
      true,
    );
  }

  recoverInterrupted(now: number): Promise<Run[]> {
    return this.#run(() =>
      this.#retrying(async (c, epoch) => {
        // Locked: a second recoverer waits, then finds them finished.
        // Fenced: not the runs of nodes (the reaper's), only those of none.
        const left = (await c.query(this.#sql.running, [epoch !== null])).rows
          .map(toRun);
        if (!left.length) return [];
        const ended = interrupted(left, now);
        // Counted on their jobs (a delta), as a finished run would have been.
        await c.query(this.#sql.finished, finishedParams(ended, null));
        await c.query(
          this.#sql.events,
          eventParams(
            ended.map((r) => ({
              type: "run-finished" as const,
              jobId: r.jobId,
              runId: r.id,
            })),
            Date.now(),
          ),
        );
        return ended;
      }), true);
  }

  /** Every job, in pages of one snapshot, so 100,000 jobs never sit in one result. */
  loadJobs(): Promise<StoredJob[]> {
    const PAGE = 5_000;
    return this.#run(() =>
      this.#tx(async (c) => {
        const out: StoredJob[] = [];
        let key: [string | null, string | null] = [null, null];
        for (;;) {
          const { rows } = await c.query(this.#sql.loadJobs, [...key, PAGE]);
          for (const r of rows) out.push(toStoredJob(r));
          if (rows.length < PAGE) return out;
          const last = rows[rows.length - 1];
          key = [String(last.page_key), String(last.id)];
        }
      }, "read")
    );
  }

  maxRunId(): Promise<number> {
    return this.#run(async () =>
      Number((await this.#query(this.#sql.maxRunId))[0].m)
    );
  }

  eventsSince(seq: number, limit = 1000): Promise<StoredEvent[] | null> {
    return this.#run(async () => {
      const rows = await this.#query(this.#sql.eventsSince, [
        seq,
        Math.max(1, Math.min(limit, 100_000)),
      ]);
      const last = Number(rows[0].last);
      if (seq > last) return null; // from a log we know nothing of
      if (seq === last) return [];
      const oldest = rows[0].oldest;
      if (oldest === null || seq + 1 < Number(oldest)) return null;
      return rows.filter((r) => r.seq !== null).map(toEvent);
    });
  }

  lastEventSeq(): Promise<number> {
    return this.#run(async () =>
      Number((await this.#query(this.#sql.lastSeq))[0].seq)
    );
  }

  listRuns(
    jobId: string,
    q: RunQuery = {},
  ): Promise<{ runs: Run[]; total: number }> {
    const limit = Math.min(Math.max(q.limit ?? 10, 0), 1000);
    const offset = Math.max(q.offset ?? 0, 0);
    return this.#run(async () => {
      const rows = await this.#query(this.#sql.listRuns, [
        jobId,
        q.status ?? null,
        limit,
        offset,
      ]);
      return {
        runs: rows.filter((r) => r.id !== null).map((r) => ({
          ...toRun(r),
          output: null,
        })),
        total: Number(rows[0].total),
      };
    });
  }

  getRun(jobId: string, runId: number): Promise<Run | null> {
    return this.#run(async () => {
      const [r] = await this.#query(this.#sql.getRun, [jobId, runId]);
      return r ? toRun(r) : null;
    });
  }

  stats(jobId: string): Promise<JobStats> {
    return this.#run(async () =>
      toStats((await this.#query(this.#sql.stats, [jobId]))[0])
    );
  }

  prune(rule: PruneRule): Promise<number> {
    return this.#run(async () => {
      const sql = this.#sql;
      // The event log keeps its newest `maxEvents`.
      await this.#pool.query(sql.pruneEvents, [
        rule.maxEvents ?? DEFAULT_MAX_EVENTS,
      ]);
      // In batches, each its own transaction, so group commits get in between.
      const size = rule.batchSize ?? 50_000;
      let total = 0;
      for (;;) {
        const n = (await this.#pool.query(sql.pruneOld, [
          Math.round(rule.before),
          size,
        ])).rowCount ?? 0;
        total += n;
        if (n < size || rule.signal?.aborted) break;
      }
      if (rule.signal?.aborted) return total;
      await this.#pool.query(sql.pruneDeliveries, [Math.round(rule.before)]);
      await this.#pool.query(sql.pruneNodes, [Math.round(rule.before)]);
      await this.#pool.query(sql.pruneTriggers, [Math.round(rule.before)]);
      for (
        const { job_id } of await this.#query(sql.overfull, [rule.maxPerJob])
      ) {
        if (rule.signal?.aborted) break;
        total += (await this.#pool.query(sql.pruneJob, [
          job_id,
          rule.maxPerJob - 1,
        ])).rowCount ?? 0;
      }
      return total;
    }, true);
  }

  claimDeliveries(
    now: number,
    limit: number,
    holdMs: number,
  ): Promise<Delivery[]> {
    return this.#run(async () =>
      (await this.#query(this.#sql.claimDeliveries, [
        Math.round(now),
        Math.round(now + holdMs),
        Math.max(1, Math.floor(limit)),
      ])).map(toDelivery)
    );
  }

  settleDelivery(o: DeliveryOutcome): Promise<boolean> {
    const t = (v: number | null) => v === null ? null : Math.round(v);
    return this.#run(async () =>
      (await this.#query(this.#sql.settleDelivery, [
        o.id,
        o.attempts,
        o.status,
        o.error,
        t(o.nextAttemptAt),
        t(o.sentAt),
      ])).length > 0
    );
  }

  pendingTriggers(limit = 1000): Promise<ChainTrigger[]> {
    const n = Math.min(Math.max(Math.floor(limit), 1), 100_000);
    return this.#run(async () =>
      (await this.#query(this.#sql.pendingTriggers, [n])).map(toChainTrigger)
    );
  }

  listDeliveries(jobId: string, limit = 20): Promise<Delivery[]> {
    const n = Math.min(Math.max(Math.floor(limit), 1), 1000);
    return this.#run(async () =>
      (await this.#query(this.#sql.listDeliveries, [jobId, n])).map(
        toDelivery,
      )
    );
  }

  lastPing(jobId: string): Promise<number | null> {
    return this.#run(async () => {
      const [r] = await this.#query(this.#sql.lastPing, [jobId]);
      return r?.at === null || r?.at === undefined ? null : Number(r.at);
    });
  }

  startQueued(
    runs: Run[],
  ): Promise<{ started: boolean[]; firstSeq: number }> {
    return this.#run(
      () =>
        this.#retrying((c, epoch) =>
          startQueuedOn(c, this.#schema, runs, epoch)
        ),
      true,
    );
  }

  queuedRuns(jobIds?: readonly string[]): Promise<Run[]> {
    return this.#run(() => queuedRunsOn(this.#pool, this.#schema, jobIds));
  }

  concurrency(): Promise<KeyUsage[]> {
    return this.#run(() => usageOn(this.#pool, this.#schema));
  }

  setLimits(
    limits: Record<string, number | null>,
    onlyMissing = false,
  ): Promise<void> {
    return this.#run(
      () =>
        this.#retrying((c) =>
          setLimitsOn(c, this.#schema, limits, onlyMissing)
        ),
      true,
    );
  }

  async ping(): Promise<void> {
    await this.#run(() => this.#query("SELECT 1"));
  }

  async probe(): Promise<void> {
    await this.#run(() => this.#query(this.#sql.probe), true);
  }

  close(): Promise<void> {
    this.#closed = true;
    return this.#ended ??= (async () => {
      await this.cluster.stopFollowing();
      await Promise.allSettled([...this.#inFlight]);
      await this.#pool.end();
    })();
  }
}

/**
 * The batch's status changes that ride with another write of their job's
 * row: with its claim, else with its run's end; none of a job the batch
 * puts or deletes (its status is written before the puts, as alone).
 */
function ridingStatuses(batch: Batch) {
  const own = new Set([
    ...batch.puts.map((p) => p.job.id),
    ...batch.deletes.map((d) => d.id),
  ]);
  const claimed = new Set(batch.claims.map((c) => c.jobId));
  const ending = new Set(batch.finished.map((r) => r.jobId));
  const claim = new Map<string, StatusChange>();
  const finish: StatusChange[] = [];
  for (const s of batch.statuses) {
    if (own.has(s.jobId)) continue;
    if (claimed.has(s.jobId)) claim.set(s.jobId, s);
    else if (ending.has(s.jobId)) finish.push(s);
  }
  return { claim, finish };
}

/**
 * Consumes a batch's chain triggers (compare-and-set, fenced by `epoch`):
 * per trigger whether it was, and the runs of those that were not.
 */
async function consumeChains(
  c: PoolClient,
  sql: Statements,
  chained: ChainStart[],
  epoch: number | null,
): Promise<{ chained: boolean[]; refused: Set<number> }> {
  const { rows } = await c.query(sql.chainConsume, chainParams(chained, epoch));
  const won = new Set(
    rows.map((r) => `${Number(r.parent_run_id)}|${r.job_id}`),
  );
  const ok = chained.map((x) => won.has(`${x.parentRunId}|${x.jobId}`));
  const refused = new Set(
    chained.flatMap((x, i) => !ok[i] && x.runId !== null ? [x.runId] : []),
  );
  return { chained: ok, refused };
}
