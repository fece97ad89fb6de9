/**
 * The embedded store: one DuckDB file (or ":memory:") with tables `jobs`,
 * `runs` (finished runs, append-only), `runs_running` (runs in flight) and
 * `events` (the bounded event log). It implements the whole store contract
 * of store.ts; all DuckDB types and SQL live here. One process holds the
 * file (DuckDB locks it), so each batch is applied by one writer connection
 * in one transaction, the compare-and-sets included.
 *
 * Runs are written with the appender inside one transaction per batch: a
 * DuckDB commit costs milliseconds (it syncs the WAL), so one commit per row
 * would cap the engine near a hundred runs a second.
 *
 * @example
 * ```ts
 * const store = await openDuckDBStore("./jobs.duckdb");
 * const jobs = await store.loadJobs();
 * await store.close();
 * ```
 * @module
 */
import {
  type DuckDBAppender,
  type DuckDBConnection,
  DuckDBInstance,
  type DuckDBValue,
} from "@duckdb/node-api";
import {
  appendDelivery,
  appendPut,
  appendRun,
  appendTs,
  CHAIN_CONSUME,
  CHAIN_FIELDS,
  CHAIN_PENDING,
  CLAIM,
  CLAIMABLE,
  claimableDeliveries,
  CLEAR_STAGING,
  COUNT_ENDED,
  CREATABLE,
  CREATE_PUTS,
  DELETABLE,
  DELETE_JOBS,
  DELIVERY_FIELDS,
  INSERT_DELIVERIES,
  insertTriggers,
  JOB_SELECT,
  KEY_AHEAD,
  KEY_USAGE,
  lastEventSeqOf,
  QUEUED_RUN,
  rows,
  rowsOf,
  RUN_FIELDS,
  SCHEMA,
  STATS,
  STATUSES,
  ts,
  UPDATABLE,
  UPDATE_PUTS,
  WRITE_OUTPUTS,
} from "./duckdb_sql.ts";
import { encodeLiveOutput } from "./live_output.ts";
import { JobproError } from "./errors.ts";
import {
  DEFAULT_MAX_EVENTS,
  eventTypeText,
  interrupted,
  type Row,
  toChainTrigger,
  toDelivery,
  toEvent,
  toRun,
  toStats,
  toStoredJob,
} from "./rows.ts";
import type { Delivery, DeliveryOutcome } from "./notify.ts";
import type { ChainTrigger } from "./chains.ts";
import { PINGED_END, type Run, summarize } from "./run.ts";
import { emptyBatch, requireAllApplied } from "./store.ts";
import type {
  Batch,
  JobStats,
  KeyUsage,
  LoggedEvent,
  PruneRule,
  RunQuery,
  Store,
  StoredEvent,
  StoredJob,
  Written,
} from "./store.ts";

/** Serializes use of one connection: DuckDB runs one statement at a time on it. */
function serial() {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const next = tail.then(fn, fn);
    tail = next.catch(() => {});
    return next;
  };
}

function openError(path: string, e: unknown): JobproError {
  const msg = e instanceof Error ? e.message : String(e);
  if (/lock/i.test(msg)) {
    const pid = msg.match(/PID (\d+)/)?.[1];
    return new JobproError(
      "unavailable",
      `database file ${path} is in use by another process${
        pid ? ` (PID ${pid})` : ""
      }; stop it or set JOBPRO_DB to another file`,
    );
  }
  if (
    /read-only file system|permission denied|operation not permitted/i.test(msg)
  ) {
    return new JobproError(
      "unavailable",
      `database file ${path} cannot be opened for writing (${msg}); jobpro must write it: check the file's permissions and that its file system is not read-only`,
    );
  }
  if (/no space left|disk (is )?full/i.test(msg)) {
    return new JobproError(
      "unavailable",
      `cannot open database file ${path}: the disk is full (${msg}); free some space and start again`,
    );
  }
  if (
    /not a valid DuckDB database|could not read enough bytes|corrupt|checksum|WAL|serializ|invalid (database|block|header)/i
      .test(msg)
  ) {
    return new JobproError(
      "unavailable",
      `database file ${path} is damaged or truncated (${msg}); jobpro left it untouched: restore it from a backup, or move it aside to start with an empty database`,
    );
  }
  return new JobproError(
    "unavailable",
    `cannot open database file ${path}: ${msg}`,
  );
}

/**
 * The open sequence: instance, connections, schema, job keys. Every step up
 * to the first read of the data can meet a bad file (locked, read-only,
 * truncated, damaged); each ends in one clear error, with whatever was opened
 * closed again so the file is not left locked.
 */
async function openFile(
  path: string,
  opts: { memoryLimitMb?: number; threads?: number },
) {
  let instance: DuckDBInstance | undefined;
  let writer: DuckDBConnection | undefined;
  let reader: DuckDBConnection | undefined;
  const existed = path === ":memory:" || await sizeOf(path) !== null;
  try {
    instance = await DuckDBInstance.create(path, {
      // Leave a core to the scheduler's event loop; bound DuckDB's buffer pool.
      threads: String(
        opts.threads ?? Math.max(1, navigator.hardwareConcurrency - 1),
      ),
      memory_limit: `${opts.memoryLimitMb ?? 128}MB`,
    });
    writer = await instance.connect();
    reader = await instance.connect();
    for (const sql of SCHEMA) await writer.run(sql);
    // Job id → key, for every job that has a row or runs.
    const keys = new Map<string, number>();
    for (
      const r of rowsOf(
        await writer.runAndReadAll(`SELECT id, key FROM jobs
        UNION SELECT DISTINCT job_id, job_key FROM runs WHERE job_id NOT IN (SELECT id FROM jobs)`),
      )
    ) {
      keys.set(String(r.id), Number(r.key));
    }
    return { instance, writer, reader, keys };
  } catch (e) {
    for (const close of [writer, reader, instance]) {
      try {
        close?.closeSync();
      } catch { /* already unusable */ }
    }
    // A file this attempt created and could not fill (a full disk) would be
    // refused as damaged at the next start: take it away again.
    if (!existed && await sizeOf(path) === 0) {
      await Deno.remove(path).catch(() => {});
      if (await sizeOf(`${path}.wal`) === 0) {
        await Deno.remove(`${path}.wal`).catch(() => {});
      }
    }
    throw openError(path, e);
  }
}

/** The size of a file, or null when there is none. */
async function sizeOf(path: string): Promise<number | null> {
  try {
    return (await Deno.stat(path)).size;
  } catch {
    return null;
  }
}

/**
 * Opens (creating if needed) a DuckDB store at `path`; ":memory:" keeps it in
 * memory. Fails with a clear message when another process holds the file.
 *
 * @example
 * ```ts
 * const store = await openDuckDBStore(":memory:");
 * ```
 */
export async function openDuckDBStore(
  path: string,
  opts: { memoryLimitMb?: number; threads?: number } = {},
): Promise<Store> {
  const file = await openFile(path, opts);
  return new DuckDBStore(file, await lastEventSeqOf(file.writer));
}

/** The open file's connections: one writes, one reads, each one statement at a time. */
class DuckDBStore implements Store {
  readonly #instance: DuckDBInstance;
  readonly #writer: DuckDBConnection;
  readonly #reader: DuckDBConnection;
  /** Job id → the small integer key its runs are filed under. */
  readonly #keys: Map<string, number>;
  #maxKey = 0;
  /** Once closed, every call is refused as the server going away, not a bug. */
  #closed = false;
  readonly #writeQueue = serial();
  readonly #readQueue = serial();
  /**
   * Ids of the runs this process has written to runs_running: a run that
   * ends before its batch is written never goes there, and needs no delete.
   */
  readonly #going = new Set<number>();
  #lastSeq: number;

  constructor(
    file: {
      instance: DuckDBInstance;
      writer: DuckDBConnection;
      reader: DuckDBConnection;
      keys: Map<string, number>;
    },
    lastSeq: number,
  ) {
    this.#instance = file.instance;
    this.#writer = file.writer;
    this.#reader = file.reader;
    this.#keys = file.keys;
    for (const key of this.#keys.values()) {
      this.#maxKey = Math.max(this.#maxKey, key);
    }
    this.#lastSeq = lastSeq;
  }

  #refuse() {
    return new JobproError(
      "unavailable",
      "the database is closed: the server is shutting down",
    );
  }

  #onWriter<T>(fn: () => Promise<T>): Promise<T> {
    return this.#writeQueue(() =>
      this.#closed ? Promise.reject(this.#refuse()) : fn()
    );
  }

  #onReader<T>(fn: () => Promise<T>): Promise<T> {
    return this.#readQueue(() =>
      this.#closed ? Promise.reject(this.#refuse()) : fn()
    );
  }

  #keyOf(jobId: string): number {
    let key = this.#keys.get(jobId);
    if (key === undefined) this.#keys.set(jobId, key = ++this.#maxKey);
    return key;
  }

  #read(sql: string, params?: DuckDBValue[]): Promise<Row[]> {
    return this.#onReader(() => rows(this.#reader, sql, params));
  }

  async #appendAll<T>(
    table: string,
    items: T[],
    add: (a: DuckDBAppender, item: T, key: number) => void,
    jobIdOf: (item: T) => string,
    catalog?: string,
  ) {
    if (!items.length) return;
    const a = await this.#writer.createAppender(table, "main", catalog);
    for (const item of items) add(a, item, this.#keyOf(jobIdOf(item)));
    a.closeSync();
  }

  /** Fills a staging table from plain rows of text, timestamps and the like. */
  async #stage<T>(
    table: string,
    items: T[],
    add: (a: DuckDBAppender, item: T) => void,
  ) {
    if (!items.length) return;
    const a = await this.#writer.createAppender(table, "main", "temp");
    for (const item of items) {
      add(a, item);
      a.endRow();
    }
    a.closeSync();
  }

  async #ids(sql: string): Promise<Set<string>> {
    return new Set((await rows(this.#writer, sql)).map((r) => String(r.id)));
  }

  /** Applies the versioned deletes; returns the ids deleted (with their runs). */
  async #deleteJobs(batch: Batch): Promise<Set<string>> {
    const known = batch.deletes.filter((d) => this.#keys.has(d.id));
    if (!known.length) return new Set();
    await this.#stage("deletes", known, (a, d) => {
      a.appendVarchar(d.id);
      a.appendBigInt(BigInt(d.expected));
    });
    const deleted = await this.#ids(DELETABLE);
    if (deleted.size) await this.#writer.run(DELETE_JOBS);
    if (deleted.size) {
      // Keys are integers this store assigned: safe to inline.
      const keyList = [...deleted].map((id) => this.#keys.get(id)).join(",");
      await this.#writer.run(
        `DELETE FROM runs WHERE job_key IN (${keyList});
         DELETE FROM runs_running WHERE job_key IN (${keyList})`,
      );
    }
    return deleted;
  }

  /** Claims and statuses: the job rows the engine moves itself. */
  async #moveJobs(batch: Batch): Promise<Set<string>> {
    let won = new Set<string>();
    if (batch.claims.length) {
      await this.#stage("claims", batch.claims, (a, c) => {
        a.appendVarchar(c.jobId);
        appendTs(a, c.tick);
        appendTs(a, c.next);
      });
      won = await this.#ids(CLAIMABLE);
      await this.#writer.run(CLAIM);
    }
    await this.#stage("statuses", batch.statuses, (a, c) => {
      a.appendVarchar(c.jobId);
      a.appendVarchar(c.status);
      appendTs(a, c.updatedAt);
    });
    if (batch.statuses.length) await this.#writer.run(STATUSES);
    return won;
  }

  /** The versioned puts; returns the ids written. */
  async #putJobs(batch: Batch): Promise<Set<string>> {
    if (!batch.puts.length) return new Set();
    await this.#appendAll(
      "puts",
      batch.puts,
      appendPut,
      (p) => p.job.id,
      "temp",
    );
    const put = new Set([
      ...await this.#ids(CREATABLE),
      ...await this.#ids(UPDATABLE),
    ]);
    await this.#writer.run(`${CREATE_PUTS};\n${UPDATE_PUTS}`);
    return put;
  }

  /**
   * Whether a job is stored once this batch is written: not deleted by it,
   * nor before (a finish queued before its job was deleted must not get the
   * id a fresh key, or a job created again under it would show the run).
   */
  #exists(jobId: string, deleted: Set<string>): boolean {
    return this.#keys.has(jobId) && !deleted.has(jobId);
  }

  /** Started and finished runs; returns the ids that leave runs_running. */
  async #writeRuns(batch: Batch, deleted: Set<string>): Promise<number[]> {
    const alive = (r: Run) => this.#exists(r.jobId, deleted);
    const started = batch.started.filter(alive);
    const finished = batch.finished.filter(alive);
    await this.#appendAll("runs_running", started, appendRun, (r) => r.jobId);
    await this.#appendAll("runs", finished, appendRun, (r) => r.jobId);
    await this.#stage("ended", finished, (a, r) => {
      a.appendVarchar(r.jobId);
      a.appendBigInt(BigInt(r.id));
      a.appendBoolean(r.status === "complete");
      a.appendVarchar(JSON.stringify(summarize(r)));
    });
    // Those of a deleted job too: its running rows went with it.
    return batch.finished.filter((r) => this.#going.has(r.id)).map((r) => r.id);
  }

  /** Runs' output so far, into their running rows (live_output.ts). */
  async #writeOutputs(batch: Batch) {
    if (!batch.outputs?.length) return;
    await this.#stage("outputs", batch.outputs, (a, o) => {
      a.appendBigInt(BigInt(o.runId));
      a.appendVarchar(encodeLiveOutput(o));
    });
    await this.#writer.run(WRITE_OUTPUTS);
  }

  /** The batch's alerts (an id stored already is kept); a deleted job's go with it. */
  async #writeDeliveries(batch: Batch, deleted: Set<string>) {
    if (deleted.size) {
      await this.#writer.run(
        `DELETE FROM deliveries WHERE job_id IN (${
          [...deleted].map((_, i) => `$${i + 1}`).join(",")
        })`,
        [...deleted],
      );
    }
    const fresh = (batch.deliveries ?? []).filter((d) =>
      this.#exists(d.jobId, deleted)
    );
    if (!fresh.length) return;
    await this.#stage("new_deliveries", fresh, appendDelivery);
    await this.#writer.run(INSERT_DELIVERIES);
  }

  async #write(batch: Batch): Promise<Written> {
    const firstSeq = this.#lastSeq + 1;
    let deleted = new Set<string>();
    let won = new Set<string>();
    let put = new Set<string>();
    let ended: number[] = [];
    let chains = { chained: [] as boolean[], refused: new Set<number>() };
    const refused = (r: Run) => chains.refused.has(r.id);
    await this.#writer.run("BEGIN TRANSACTION");
    try {
      deleted = await this.#deleteJobs(batch);
      won = await this.#moveJobs(batch);
      put = await this.#putJobs(batch);
      requireAllApplied(batch, put, deleted);
      chains = await this.#writeChains(batch, deleted);
      ended = await this.#writeRuns(
        chains.refused.size
          ? { ...batch, started: batch.started.filter((r) => !refused(r)) }
          : batch,
        deleted,
      );
      await this.#writeDeliveries(batch, deleted);
      await this.#writeOutputs(batch);
      await this.#appendEvents(batch.events, firstSeq, Date.now());
      // The rest in one call: each statement is a round trip to DuckDB's thread.
      const tail: string[] = [];
      if (batch.finished.some((r) => !deleted.has(r.jobId))) {
        tail.push(COUNT_ENDED);
      }
      // Run ids are integers this process assigned: safe to inline.
      if (ended.length) {
        tail.push(`DELETE FROM runs_running WHERE id IN (${ended.join(",")})`);
      }
      tail.push(CLEAR_STAGING, "COMMIT");
      await this.#writer.run(tail.join(";\n"));
    } catch (e) {
      await this.#writer.run("ROLLBACK").catch(() => {});
      await this.#writer.run(CLEAR_STAGING).catch(() => {});
      throw e;
    }
    for (const r of batch.started) {
      if (!deleted.has(r.jobId) && !refused(r)) this.#going.add(r.id);
    }
    for (const id of ended) this.#going.delete(id);
    // A job created again under the same id gets a fresh key; forgotten only
    // once the delete is committed, or a retry would skip the DELETE.
    for (const id of deleted) this.#keys.delete(id);
    this.#lastSeq += batch.events.length;
    return {
      puts: batch.puts.map((p) => put.has(p.job.id)),
      deletes: batch.deletes.map((d) => deleted.has(d.id)),
      claims: batch.claims.map((c) => won.has(c.jobId)),
      ...(chains.refused.size > 0 &&
        { started: batch.started.map((r) => !refused(r)) }),
      ...(batch.chained?.length ? { chained: chains.chained } : {}),
      firstSeq,
    };
  }

  /**
   * The batch's chain triggers: a deleted job's go with it; each consumption
   * a compare-and-set (the runs of those that lost are refused); new ones
   * written unless their parent or child was deleted, a stored key kept.
   */
  async #writeChains(batch: Batch, deleted: Set<string>) {
    const w = this.#writer;
    if (deleted.size) {
      await w.run(
        `DELETE FROM chain_triggers WHERE job_id IN (${
          [...deleted].map((_, i) => `$${i + 1}`).join(",")
        })`,
        [...deleted],
      );
    }
    const chained: boolean[] = [];
    const refused = new Set<number>();
    for (const c of batch.chained ?? []) {
      const key = [c.parentRunId, c.jobId];
      const ok = !deleted.has(c.jobId) &&
        (await rows(w, CHAIN_PENDING, key)).length > 0;
      if (ok) {
        await w.run(CHAIN_CONSUME, [...key, ts(c.at), c.runId, c.note]);
      } else if (c.runId !== null) refused.add(c.runId);
      chained.push(ok);
    }
    const fresh = new Map(
      (batch.triggers ?? []).filter((t) =>
        this.#exists(t.jobId, deleted) && this.#exists(t.parentJobId, deleted)
      ).map((t) => [`${t.parentRunId}|${t.jobId}`, t]),
    );
    if (fresh.size) {
      await w.run(
        insertTriggers(fresh.size),
        [...fresh.values()].flatMap((t) => [
          t.parentRunId,
          t.jobId,
          t.parentJobId,
          t.on,
          ts(t.createdAt),
        ]),
      );
    }
    return { chained, refused };
  }

  pendingTriggers(limit = 1000): Promise<ChainTrigger[]> {
    const n = Math.min(Math.max(Math.floor(limit), 1), 100_000);
    return this.#read(
      `SELECT ${CHAIN_FIELDS} FROM chain_triggers WHERE consumed_at IS NULL
      ORDER BY created_at, parent_run_id, job_id LIMIT ${n}`,
    ).then((found) => found.map(toChainTrigger));
  }

  async #appendEvents(events: LoggedEvent[], first: number, at: number) {
    if (!events.length) return;
    const a = await this.#writer.createAppender("events");
    let seq = first;
    for (const e of events) {
      a.appendBigInt(BigInt(seq++));
      appendTs(a, at);
      a.appendVarchar(eventTypeText(e));
      a.appendVarchar(e.jobId);
      if ("runId" in e) a.appendBigInt(BigInt(e.runId));
      else a.appendNull();
      a.endRow();
    }
    a.closeSync();
  }

  // Streamed chunk by chunk: materializing 100,000 rows at once costs
  // hundreds of MB that the process never gives back.
  loadJobs(): Promise<StoredJob[]> {
    return this.#onReader(async () => {
      const result = await this.#reader.stream(
        `${JOB_SELECT} ORDER BY created_at, id`,
      );
      const names = result.columnNames();
      const out: StoredJob[] = [];
      for (
        let ch = await result.fetchChunk();
        ch && ch.rowCount;
        ch = await result.fetchChunk()
      ) {
        const cols = ch.getColumns();
        for (let i = 0; i < ch.rowCount; i++) {
          const row: Row = {};
          for (let c = 0; c < names.length; c++) row[names[c]] = cols[c][i];
          out.push(toStoredJob(row));
        }
      }
      return out;
    });
  }

  async maxRunId(): Promise<number> {
    const [r] = await this.#read(`SELECT greatest(
      coalesce((SELECT max(id) FROM runs), 0),
      coalesce((SELECT max(id) FROM runs_running), 0))::DOUBLE AS m`);
    return Number(r.m);
  }

  write(batch: Batch): Promise<Written> {
    return this.#onWriter(() => this.#write(batch));
  }

  eventsSince(seq: number, limit = 1000): Promise<StoredEvent[] | null> {
    return this.#onReader(async () => {
      if (seq > this.#lastSeq) return null; // from a log we know nothing of
      if (seq === this.#lastSeq) return [];
      const [{ oldest }] = await rows(
        this.#reader,
        "SELECT min(seq)::DOUBLE AS oldest FROM events",
      );
      if (oldest === null || seq + 1 < Number(oldest)) return null;
      return (await rows(
        this.#reader,
        `SELECT seq::DOUBLE AS seq, epoch_ms(logged_at)::DOUBLE AS at, type, job_id,
          run_id::DOUBLE AS run_id FROM events WHERE seq > $1 ORDER BY seq LIMIT ${
          Math.max(1, Math.min(limit, 100_000))
        }`,
        [seq],
      )).map(toEvent);
    });
  }

  lastEventSeq(): Promise<number> {
    return Promise.resolve(this.#lastSeq);
  }

  recoverInterrupted(now: number): Promise<Run[]> {
    return this.#onWriter(async () => {
      const going = (await rows(
        this.#writer,
        // Queued runs wait on (queuedRuns); only those going were interrupted.
        `SELECT ${RUN_FIELDS}, output FROM runs_running
        WHERE status <> 'queued' ORDER BY id`,
      )).map(toRun);
      // Written by an earlier process: mark them ours so write() moves them.
      for (const r of going) this.#going.add(r.id);
      // A ping's run goes on elsewhere while its job is a heartbeat job:
      // its finish ping or a check ends it (ping.ts).
      const pinged = going.some((r) => r.trigger === "ping")
        ? new Set(
          (await rows(
            this.#writer,
            `SELECT id FROM jobs
            WHERE json_extract_string(action, '$.type') = 'heartbeat'`,
          )).map((j) => String(j.id)),
        )
        : new Set<string>();
      const left = going.filter((r) =>
        r.trigger !== "ping" || !pinged.has(r.jobId)
      );
      if (!left.length) return [];
      const ended = interrupted(left, now);
      // Counted on their jobs (a delta), as a finished run would have been.
      await this.#write({
        ...emptyBatch(),
        finished: ended,
        events: ended.map((r) => ({
          type: "run-finished" as const,
          jobId: r.jobId,
          runId: r.id,
        })),
      });
      return ended;
    });
  }

  async listRuns(
    jobId: string,
    q: RunQuery = {},
  ): Promise<{ runs: Run[]; total: number }> {
    const where = ["job_key = $1"];
    const params: DuckDBValue[] = [this.#keys.get(jobId) ?? -1];
    if (q.status) {
      params.push(q.status);
      where.push(`status = $${params.length}`);
    }
    const cond = where.join(" AND ");
    const source = `(SELECT ${RUN_FIELDS} FROM runs WHERE ${cond}
      UNION ALL SELECT ${RUN_FIELDS} FROM runs_running WHERE ${cond})`;
    const limit = Math.min(Math.max(q.limit ?? 10, 0), 1000);
    const offset = Math.max(q.offset ?? 0, 0);
    const reader = this.#reader;
    // One snapshot for the page and its total, even while pruning deletes.
    const [list, [count]] = await this.#onReader(async () => {
      await reader.run("BEGIN TRANSACTION");
      try {
        return [
          await rows(
            reader,
            `SELECT * FROM ${source} ORDER BY id DESC LIMIT ${limit} OFFSET ${offset}`,
            params,
          ),
          await rows(
            reader,
            `SELECT count(*)::DOUBLE AS n FROM ${source}`,
            params,
          ),
        ];
      } finally {
        await reader.run("COMMIT");
      }
    });
    return {
      runs: list.map((r) => ({ ...toRun(r), output: null })),
      total: Number(count.n),
    };
  }

  async getRun(jobId: string, runId: number): Promise<Run | null> {
    const source =
      `(SELECT ${RUN_FIELDS}, output FROM runs WHERE job_key = $1 AND id = $2
      UNION ALL SELECT ${RUN_FIELDS}, output FROM runs_running WHERE job_key = $1 AND id = $2)`;
    const found = await this.#read(
      `SELECT * FROM ${source} ORDER BY ended_at NULLS LAST LIMIT 1`,
      [this.#keys.get(jobId) ?? -1, runId],
    );
    return found.length ? toRun(found[0]) : null;
  }

  async stats(jobId: string): Promise<JobStats> {
    const [r] = await this.#read(STATS, [this.#keys.get(jobId) ?? -1]);
    return toStats(r);
  }

  async prune(rule: PruneRule): Promise<number> {
    // The event log keeps its newest `maxEvents`.
    const keep = rule.maxEvents ?? DEFAULT_MAX_EVENTS;
    await this.#onWriter(() =>
      this.#writer.run("DELETE FROM events WHERE seq <= $1", [
        this.#lastSeq - keep,
      ])
    );
    // In batches, each its own transaction, so group commits (and the
    // scheduler waiting on them) get the writer between batches.
    const batch = rule.batchSize ?? 50_000;
    let total = 0;
    for (;;) {
      const res = await this.#onWriter(() =>
        this.#writer.run(
          `DELETE FROM runs WHERE rowid IN (SELECT rowid FROM runs WHERE started_at < $1 LIMIT ${batch})`,
          [ts(rule.before)],
        )
      );
      total += Number(res.rowsChanged);
      if (Number(res.rowsChanged) < batch || rule.signal?.aborted) break;
    }
    if (rule.signal?.aborted) return total;
    // Alerts sent or given up on go with the runs of their time.
    await this.#onWriter(() =>
      this.#writer.run(
        "DELETE FROM deliveries WHERE status <> 'pending' AND created_at < $1",
        [ts(rule.before)],
      )
    );
    // So do chain triggers consumed.
    await this.#onWriter(() =>
      this.#writer.run(
        "DELETE FROM chain_triggers WHERE consumed_at IS NOT NULL AND created_at < $1",
        [ts(rule.before)],
      )
    );
    const over = await this.#read(
      `SELECT job_key FROM runs GROUP BY job_key HAVING count(*) > $1`,
      [rule.maxPerJob],
    );
    for (const { job_key } of over) {
      if (rule.signal?.aborted) break;
      const res = await this.#onWriter(() =>
        this.#writer.run(
          `DELETE FROM runs WHERE job_key = $1 AND id < (
            SELECT id FROM runs WHERE job_key = $1 ORDER BY id DESC LIMIT 1 OFFSET ${
            rule.maxPerJob - 1
          })`,
          [Number(job_key)],
        )
      );
      total += Number(res.rowsChanged);
    }
    return total;
  }

  claimDeliveries(
    now: number,
    limit: number,
    holdMs: number,
  ): Promise<Delivery[]> {
    return this.#onWriter(async () => {
      const w = this.#writer;
      await w.run("BEGIN TRANSACTION");
      try {
        const ids = (await rows(w, claimableDeliveries(limit), [ts(now)]))
          .map((r) => String(r.id));
        if (!ids.length) {
          await w.run("COMMIT");
          return [];
        }
        const list = ids.map((_, i) => `$${i + 2}`).join(",");
        await w.run(
          `UPDATE deliveries SET attempts = attempts + 1, claimed_until = $1
          WHERE id IN (${list})`,
          [ts(now + holdMs), ...ids],
        );
        const out = await rows(
          w,
          `SELECT ${DELIVERY_FIELDS} FROM deliveries WHERE id IN (${
            ids.map((_, i) => `$${i + 1}`).join(",")
          }) ORDER BY next_attempt_at, id`,
          ids,
        );
        await w.run("COMMIT");
        return out.map(toDelivery);
      } catch (e) {
        await w.run("ROLLBACK").catch(() => {});
        throw e;
      }
    });
  }

  settleDelivery(o: DeliveryOutcome): Promise<boolean> {
    return this.#onWriter(async () => {
      const w = this.#writer;
      const at = await rows(
        w,
        "SELECT id FROM deliveries WHERE id = $1 AND attempts = $2",
        [o.id, o.attempts],
      );
      if (!at.length) return false;
      await w.run(
        `UPDATE deliveries SET status = $3, error = $4,
          next_attempt_at = coalesce($5, next_attempt_at), sent_at = $6,
          claimed_until = NULL
        WHERE id = $1 AND attempts = $2`,
        [
          o.id,
          o.attempts,
          o.status,
          o.error,
          o.nextAttemptAt === null ? null : ts(o.nextAttemptAt),
          o.sentAt === null ? null : ts(o.sentAt),
        ],
      );
      return true;
    });
  }

  async listDeliveries(jobId: string, limit = 20): Promise<Delivery[]> {
    const n = Math.min(Math.max(Math.floor(limit), 1), 1000);
    return (await this.#read(
      `SELECT ${DELIVERY_FIELDS} FROM deliveries WHERE job_id = $1
      ORDER BY created_at DESC, id DESC LIMIT ${n}`,
      [jobId],
    )).map(toDelivery);
  }

  async lastPing(jobId: string): Promise<number | null> {
    const ping = `job_key = $1 AND trigger = 'ping'`;
    // A run a success or fail ping ended was pinged when it ended too (an
    // expired start's end is no ping): ping.ts's messages tell them apart.
    const [r] = await this.#read(
      `SELECT epoch_ms(greatest(
        (SELECT max(greatest(started_at, CASE WHEN ${PINGED_END}
          THEN ended_at END)) FROM runs WHERE ${ping}),
        (SELECT max(started_at) FROM runs_running WHERE ${ping})))::DOUBLE AS at`,
      [this.#keys.get(jobId) ?? -1],
    );
    return r?.at === null || r?.at === undefined ? null : Number(r.at);
  }

  startQueued(
    runs: Run[],
  ): Promise<{ started: boolean[]; firstSeq: number }> {
    return this.#onWriter(async () => {
      const w = this.#writer;
      const firstSeq = this.#lastSeq + 1;
      const out: boolean[] = [];
      const events: LoggedEvent[] = [];
      await w.run("BEGIN TRANSACTION");
      try {
        // One at a time, in order: each start counts for the next one's check.
        for (const r of runs) {
          const [q] = await rows(w, QUEUED_RUN, [r.id]);
          let ok = q !== undefined;
          if (ok && q.key !== null && q.max_runs !== null) {
            const [{ n }] = await rows(w, KEY_AHEAD, [String(q.key), r.id]);
            ok = Number(n) < Number(q.max_runs);
          }
          if (ok) {
            await w.run(
              "UPDATE runs_running SET status = 'running', started_at = $2 WHERE id = $1",
              [r.id, ts(r.startedAt)],
            );
            events.push({ type: "run-started", jobId: r.jobId, runId: r.id });
          }
          out.push(ok);
        }
        await this.#appendEvents(events, firstSeq, Date.now());
        await w.run("COMMIT");
      } catch (e) {
        await w.run("ROLLBACK").catch(() => {});
        throw e;
      }
      this.#lastSeq += events.length;
      return { started: out, firstSeq };
    });
  }

  queuedRuns(jobIds?: readonly string[]): Promise<Run[]> {
    return this.#onWriter(async () => {
      const keys = jobIds?.map((id) => this.#keys.get(id) ?? -1);
      if (keys && !keys.length) return [];
      const found = (await rows(
        this.#writer,
        // Keys are integers this store assigned: safe to inline.
        `SELECT ${RUN_FIELDS}, output FROM runs_running WHERE status = 'queued'
        ${keys ? `AND job_key IN (${keys.join(",")})` : ""}
        ORDER BY started_at, id`,
      )).map(toRun);
      // Written by an earlier process, maybe: ours now, so a finish moves them.
      for (const r of found) this.#going.add(r.id);
      return found;
    });
  }

  async concurrency(): Promise<KeyUsage[]> {
    return (await this.#read(KEY_USAGE)).map((r) => ({
      key: String(r.key),
      limit: Number(r.max_runs),
      running: Number(r.running),
      queued: Number(r.queued),
    }));
  }

  setLimits(
    limits: Record<string, number | null>,
    onlyMissing = false,
  ): Promise<void> {
    return this.#onWriter(async () => {
      const w = this.#writer;
      const entries = Object.entries(limits);
      if (!entries.length) return;
      await w.run("BEGIN TRANSACTION");
      try {
        for (const [key, n] of entries) {
          if (n === null) {
            if (!onlyMissing) {
              await w.run("DELETE FROM concurrency_limits WHERE key = $1", [
                key,
              ]);
            }
          } else {
            await w.run(
              `INSERT OR ${
                onlyMissing ? "IGNORE" : "REPLACE"
              } INTO concurrency_limits VALUES ($1, $2)`,
              [key, n],
            );
          }
        }
        await this.#appendEvents(
          [{ type: "limits-update", jobId: "" }],
          this.#lastSeq + 1,
          Date.now(),
        );
        await w.run("COMMIT");
      } catch (e) {
        await w.run("ROLLBACK").catch(() => {});
        throw e;
      }
      this.#lastSeq += 1;
    });
  }

  async ping(): Promise<void> {
    await this.#read("SELECT 1");
  }

  async probe(): Promise<void> {
    await this.#onWriter(() =>
      this.#writer.run(
        "INSERT OR REPLACE INTO write_probe VALUES (1, current_timestamp)",
      )
    );
  }

  close(): Promise<void> {
    return this.#onWriter(() =>
      this.#onReader(() => {
        this.#closed = true;
        this.#writer.closeSync();
        this.#reader.closeSync();
        this.#instance.closeSync();
        return Promise.resolve();
      })
    );
  }
}
