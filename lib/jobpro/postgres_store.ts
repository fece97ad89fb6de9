/**
 * The shared store: PostgreSQL through npm `pg`, implementing the whole
 * store contract of store.ts, so that several processes can one day share
 * one database. Tables `jobs`, `runs` (in flight and finished), `events`
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
 * `exclusive` (one jobpro node per schema, as the server opens it): the
 * schema's advisory lock (postgres_lock.ts) is taken before the schema is
 * touched, or the open is refused naming the holder. While the lock is not
 * held (its session lost, being taken again) every write is refused
 * `unavailable` and {@link Store.hold} says why, so the engine starts
 * nothing; each write transaction also checks, inside itself, that the
 * lock's session still holds it. Taken again, the lock counts as held only
 * if the event log is where this process left it (no one else wrote).
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
  acquireDatabaseLock,
  type DatabaseLock,
  type LockOptions,
} from "./postgres_lock.ts";
import {
  DEFAULT_MAX_EVENTS,
  interrupted,
  type Row,
  toEvent,
  toRun,
  toStats,
  toStoredJob,
} from "./rows.ts";
import {
  bootstrap,
  claimParams,
  deleteParams,
  eventParams,
  migrationsFrom,
  putsJson,
  runsJson,
  SCHEMA_NAME,
  SCHEMA_VERSION,
  type Statements,
  statementsFor,
  statusParams,
} from "./postgres_sql.ts";
import type { Run } from "./run.ts";
import type {
  Batch,
  Hold,
  JobStats,
  PruneRule,
  RunQuery,
  Store,
  StoredEvent,
  StoredJob,
  Written,
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
   * One process only (a single jobpro node): the schema's lock is taken at
   * open, or the open is refused, and held until close (postgres_lock.ts);
   * while it is not held the store refuses writes (each transaction checks
   * it too) and tells through {@link Store.hold}. Settings of the lock, or true.
   */
  exclusive?: boolean | Omit<LockOptions, "schema">;
}

/** SQLSTATEs that mean "the database cannot be used now", not "this write is wrong". */
const UNAVAILABLE_STATE =
  /^(08|53|58|57P0|57014|55P03|25006|40001|40P01|3D000|28)/;
/** SQLSTATEs worth trying the whole batch again for: nothing of it was kept. */
const RETRY_STATE = /^(40001|40P01)$/;

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
  });
  // An idle connection that dies is reported here; one checked out reports
  // on the client itself: without a listener either would end the process.
  pool.on("error", (e) => lost(e));
  pool.on("connect", (client) => client.on("error", (e) => lost(e)));
  return pool;
}

/** Creates the schema or migrates it to {@link SCHEMA_VERSION}, one process at a time. */
async function migrate(pool: pg.Pool, schema: string, sql: Statements) {
  const c = await pool.connect();
  let broken: Error | undefined;
  try {
    const { rows: [v] } = await c.query("SHOW server_version_num");
    if (Number(v.server_version_num) < 130000) {
      throw new JobproError(
        "unavailable",
        `PostgreSQL ${v.server_version_num} is too old: jobpro needs PostgreSQL 13 or newer`,
      );
    }
    await c.query("BEGIN");
    await c.query("SELECT pg_advisory_xact_lock(hashtext($1))", [
      `jobpro schema ${schema}`,
    ]);
    for (const s of bootstrap(schema)) await c.query(s);
    const { rows } = await c.query(sql.version);
    const at = rows.length ? Number(rows[0].version) : 0;
    if (at > SCHEMA_VERSION) {
      throw new JobproError(
        "unavailable",
        `the database schema "${schema}" is at version ${at}, newer than this jobpro knows (version ${SCHEMA_VERSION}): a newer jobpro has migrated it; run that version or a newer one, or point JOBPRO_DB at another database or schema`,
      );
    }
    for (const s of migrationsFrom(schema, at)) await c.query(s);
    if (at < SCHEMA_VERSION) await c.query(sql.setVersion, [SCHEMA_VERSION]);
    await c.query("COMMIT");
  } catch (e) {
    await c.query("ROLLBACK").catch((r) => broken = r);
    throw e;
  } finally {
    c.release(broken);
  }
}

/**
 * Opens the store on the database at `url` (a `postgres://` URL), creating
 * or migrating its schema (`exclusive`: after taking its lock). Fails with a
 * clear `unavailable` error when the database cannot be reached, its schema
 * is newer than this code, or (`exclusive`) another process holds it.
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
  let lock: DatabaseLock | null = null;
  try {
    if (opts.exclusive) {
      lock = await acquireDatabaseLock(url, {
        onConnectionError: lost,
        connectTimeoutMs: opts.connectTimeoutMs,
        ...(opts.exclusive === true ? {} : opts.exclusive),
        schema,
      });
    }
    await migrate(pool, schema, sql);
    // What the event log is at: with the lock taken, only this process moves it.
    const [{ seq }] = (await pool.query(sql.lastSeq)).rows;
    return new PostgresStore(pool, sql, opts, lock, Number(seq));
  } catch (e) {
    await lock?.close();
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
  /** Writes under way: a lock taken again is verified once they are settled. */
  readonly #writing = new Set<Promise<unknown>>();
  /** The schema's lock, when exclusive. */
  readonly #lock: DatabaseLock | null;
  /** The event log's last sequence number as this process wrote it (exclusive). */
  #lastSeq: number;
  /** Transactions whose COMMIT was never learnt: they may have moved the log. */
  #doubtful: string[] = [];

  constructor(
    pool: pg.Pool,
    sql: Statements,
    opts: PostgresStoreOptions,
    lock: DatabaseLock | null,
    lastSeq: number,
  ) {
    this.#pool = pool;
    this.#sql = sql;
    this.#opts = opts;
    this.#lock = lock;
    this.#lastSeq = lastSeq;
    if (lock) lock.verify = (c) => this.#unchanged(c);
  }

  get hold(): Hold | undefined {
    return this.#lock ?? undefined;
  }

  /**
   * Runs a call unless closed, mapping its failure to the store's errors;
   * a `write` only while the lock (if any) is held.
   */
  #run<T>(fn: () => Promise<T>, write = false): Promise<T> {
    const refusal = this.#closed
      ? "the database is closed: the server is shutting down"
      : write && this.#lock && !this.#lock.held
      ? this.#lock.reason ?? "the database lock is not held"
      : null;
    if (refusal) {
      return Promise.reject(new JobproError("unavailable", refusal));
    }
    const p = fn().catch((e) => {
      throw storeError(e);
    });
    this.#inFlight.add(p);
    if (write) this.#writing.add(p);
    p.finally(() => {
      this.#inFlight.delete(p);
      this.#writing.delete(p);
    }).catch(() => {});
    return p;
  }

  /**
   * Whether the event log is where this process left it: checked when the
   * lock is taken again (on `c`, the session that holds it now), once the
   * writes under way have settled. Every batch of jobs or runs appends
   * events, so another process that wrote anything moved it. A transaction
   * whose COMMIT was never learnt counts as moved unless it is aborted.
   */
  async #unchanged(c: pg.Client): Promise<boolean> {
    await Promise.allSettled([...this.#writing]);
    for (const xid of this.#doubtful) {
      const { rows: [r] } = await c.query(
        "SELECT pg_xact_status($1::xid8) AS status",
        [xid],
      );
      if (r.status !== "aborted") return false;
    }
    this.#doubtful = [];
    const { rows: [r] } = await c.query(this.#sql.lastSeq);
    return Number(r.seq) === this.#lastSeq;
  }

  /** A committed batch of `n` events from `first` moves the log this far. */
  #logged(first: number, n: number) {
    if (n > 0) this.#lastSeq = Math.max(this.#lastSeq, first + n - 1);
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
    fn: (c: PoolClient) => Promise<T>,
    mode: "write" | "read" = "write",
  ): Promise<T> {
    const c = await this.#pool.connect();
    let broken: Error | undefined;
    let settled = false;
    try {
      let session: { xid: string; pid: number } | null = null;
      if (mode === "write") {
        // Exclusive: the transaction proves that the lock is still ours.
        const fence = this.#lock ? `, ${this.#lock.fence()} AS held` : "";
        const [, r] = await c.query(
          `BEGIN; SELECT pg_current_xact_id()::text AS xid, pg_backend_pid() AS pid${fence}`,
        ) as unknown as QueryResult[];
        session = r.rows[0];
        if (this.#lock && !r.rows[0].held) {
          await c.query("ROLLBACK");
          settled = true;
          throw new JobproError(
            "unavailable",
            this.#lock.reason ?? "the database lock is no longer held",
          );
        }
      } else {
        await c.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      }
      const out = await fn(c);
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
        if (e instanceof pg.DatabaseError && e.severity === "ERROR") {
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
        if (this.#lock) this.#doubtful.push(s.xid);
        throw new JobproError(
          "unavailable",
          `lost the database while committing (${why}) and could not learn whether the batch was written`,
        );
      }
      await sleep(100);
    }
  }

  /** The batch's statements, in the order DuckDBStore applies them. */
  async #apply(c: PoolClient, batch: Batch): Promise<Written> {
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
    ]);
    if (touched.size > 1) await c.query(sql.lockJobs, [[...touched]]);
    const deleted = batch.deletes.length
      ? await ids(sql.deleteJobs, deleteParams(batch.deletes))
      : none;
    const won = batch.claims.length
      ? await ids(sql.claim, claimParams(batch.claims))
      : none;
    if (batch.statuses.length) {
      await c.query(sql.statuses, statusParams(batch.statuses));
    }
    const creates = batch.puts.filter((p) => p.expected === null);
    const updates = batch.puts.filter((p) => p.expected !== null);
    const put = new Set([
      ...creates.length ? await ids(sql.createJobs, [putsJson(creates)]) : [],
      ...updates.length ? await ids(sql.updateJobs, [putsJson(updates)]) : [],
    ]);
    const alive = (r: Run) => !deleted.has(r.jobId);
    const started = batch.started.filter(alive);
    const finished = batch.finished.filter(alive);
    if (started.length) await c.query(sql.started, [runsJson(started)]);
    if (finished.length) await c.query(sql.finished, [runsJson(finished)]);
    // Last: the event counter's row lock is held from here to the commit.
    const { rows: [seq] } = batch.events.length
      ? await c.query(sql.events, eventParams(batch.events, Date.now()))
      : await c.query(sql.nextSeq);
    return {
      puts: batch.puts.map((p) => put.has(p.job.id)),
      deletes: batch.deletes.map((d) => deleted.has(d.id)),
      claims: batch.claims.map((cl) => won.has(cl.jobId)),
      firstSeq: Number(seq.first),
    };
  }

  /** A transaction tried again (a few times) when the database aborted it for a deadlock. */
  async #retrying<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
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
    return this.#run(async () => {
      const written = await this.#retrying((c) => this.#apply(c, batch));
      this.#logged(written.firstSeq, batch.events.length);
      return written;
    }, true);
  }

  recoverInterrupted(now: number): Promise<Run[]> {
    return this.#run(async () => {
      const { ended, first } = await this.#retrying(async (c) => {
        // Locked: a second recoverer waits, then finds them finished.
        const left = (await c.query(this.#sql.running)).rows.map(toRun);
        if (!left.length) return { ended: [], first: 0 };
        const ended = interrupted(left, now);
        // Counted on their jobs (a delta), as a finished run would have been.
        await c.query(this.#sql.finished, [runsJson(ended)]);
        const { rows: [seq] } = await c.query(
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
        return { ended, first: Number(seq.first) };
      });
      this.#logged(first, ended.length);
      return ended;
    }, true);
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

  async ping(): Promise<void> {
    await this.#run(() => this.#query("SELECT 1"));
  }

  async probe(): Promise<void> {
    await this.#run(() => this.#query(this.#sql.probe), true);
  }

  close(): Promise<void> {
    this.#closed = true;
    return this.#ended ??= (async () => {
      await Promise.allSettled([...this.#inFlight]);
      await this.#pool.end();
      await this.#lock?.close(); // released last: nothing is written after
    })();
  }
}
