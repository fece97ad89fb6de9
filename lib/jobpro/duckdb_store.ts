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
  DuckDBTimestampValue,
  type DuckDBValue,
} from "@duckdb/node-api";
import { JobproError } from "./errors.ts";
import type { Job } from "./job.ts";
import { type Run, summarize } from "./run.ts";
import { emptyBatch } from "./store.ts";
import type {
  Batch,
  JobStats,
  LoggedEvent,
  PruneRule,
  Put,
  Store,
  StoredEvent,
  StoredJob,
  Written,
} from "./store.ts";

// job_key is the job's small integer key: a filter on it scans 10 million
// runs in ~15 ms, where one on the VARCHAR id takes ~140 ms and an index on
// either costs ~220 MB of memory and seconds per million deletes.
const RUN_COLUMNS =
  `id BIGINT NOT NULL, job_key INTEGER NOT NULL, job_id VARCHAR NOT NULL,
  trigger VARCHAR NOT NULL, attempt INTEGER NOT NULL,
  scheduled_for TIMESTAMP, started_at TIMESTAMP NOT NULL, ended_at TIMESTAMP,
  duration_ms BIGINT, status VARCHAR NOT NULL, message VARCHAR, error VARCHAR,
  output VARCHAR`;

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS jobs (
    id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, type VARCHAR NOT NULL,
    schedule VARCHAR NOT NULL, timezone VARCHAR, action VARCHAR NOT NULL,
    timeout_ms BIGINT, retries INTEGER NOT NULL, retry_delay_ms BIGINT NOT NULL,
    overlap VARCHAR NOT NULL, catch_up VARCHAR NOT NULL,
    auto_start BOOLEAN NOT NULL, status VARCHAR NOT NULL,
    next_run_at TIMESTAMP, created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    run_count BIGINT NOT NULL DEFAULT 0, success_count BIGINT NOT NULL DEFAULT 0,
    last_run VARCHAR, key INTEGER NOT NULL UNIQUE)`,
  // Files written before job versions: every job starts at version 1.
  `ALTER TABLE jobs ADD COLUMN IF NOT EXISTS version BIGINT DEFAULT 1`,
  `CREATE TABLE IF NOT EXISTS runs (${RUN_COLUMNS})`,
  `CREATE TABLE IF NOT EXISTS runs_running (${RUN_COLUMNS})`,
  `CREATE TABLE IF NOT EXISTS events (seq BIGINT NOT NULL, logged_at TIMESTAMP NOT NULL,
    type VARCHAR NOT NULL, job_id VARCHAR NOT NULL, run_id BIGINT)`,
  // One row, rewritten to find out whether writing works again.
  `CREATE TABLE IF NOT EXISTS write_probe (id INTEGER PRIMARY KEY, probed_at TIMESTAMP NOT NULL)`,
  // Staging tables of a batch, filled by the appender, emptied at its end.
  `CREATE TEMP TABLE puts AS SELECT * FROM jobs LIMIT 0`,
  `ALTER TABLE temp.puts ADD COLUMN expected BIGINT`,
  `CREATE TEMP TABLE claims (job_id VARCHAR, tick TIMESTAMP, next TIMESTAMP)`,
  `CREATE TEMP TABLE statuses (job_id VARCHAR, status VARCHAR, updated_at TIMESTAMP)`,
  `CREATE TEMP TABLE ended (job_id VARCHAR, run_id BIGINT, ok BOOLEAN, summary VARCHAR)`,
];

const JOB_COLUMNS = `id, name, type, schedule, timezone, action, timeout_ms,
  retries, retry_delay_ms, overlap, catch_up, auto_start, status, next_run_at,
  created_at, updated_at, run_count, success_count, last_run, key, version`;

// An operation's put: a create where no job has the id; an update where the
// stored version is the one the operation was planned from. Counters and the
// key are the database's, never overwritten. Each write is preceded by the
// query of which rows it will take: DuckDB 1.5 aborts the process when a
// commit that fails (a full disk) reverts an UPDATE ... RETURNING.
const CREATABLE = `SELECT p.id FROM temp.puts p
  WHERE p.expected IS NULL AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = p.id)`;
const CREATE_PUTS = `INSERT INTO jobs (${JOB_COLUMNS})
  SELECT ${JOB_COLUMNS} FROM temp.puts p
  WHERE p.expected IS NULL AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = p.id)`;
const UPDATABLE = `SELECT p.id FROM temp.puts p JOIN jobs ON jobs.id = p.id
  WHERE jobs.version = p.expected`;
const UPDATE_PUTS = `UPDATE jobs SET name = p.name, type = p.type,
  schedule = p.schedule, timezone = p.timezone, action = p.action,
  timeout_ms = p.timeout_ms, retries = p.retries, retry_delay_ms = p.retry_delay_ms,
  overlap = p.overlap, catch_up = p.catch_up, auto_start = p.auto_start,
  status = p.status, next_run_at = p.next_run_at, updated_at = p.updated_at,
  version = p.version
  FROM temp.puts p WHERE jobs.id = p.id AND jobs.version = p.expected`;
const CLAIMABLE =
  `SELECT c.job_id AS id FROM temp.claims c JOIN jobs ON jobs.id = c.job_id
  WHERE jobs.next_run_at IS NOT DISTINCT FROM c.tick`;
const CLAIM = `UPDATE jobs SET next_run_at = c.next FROM temp.claims c
  WHERE jobs.id = c.job_id AND jobs.next_run_at IS NOT DISTINCT FROM c.tick`;
const STATUSES = `UPDATE jobs SET status = s.status, updated_at = s.updated_at
  FROM temp.statuses s WHERE jobs.id = s.job_id`;
// Counters move by what this batch ended, whatever the process remembers.
const COUNT_ENDED = `UPDATE jobs SET run_count = run_count + e.n,
  success_count = success_count + e.ok, last_run = e.last
  FROM (SELECT job_id, count(*) AS n, count(*) FILTER (WHERE ok) AS ok,
    arg_max(summary, run_id) AS last FROM temp.ended GROUP BY job_id) e
  WHERE jobs.id = e.job_id`;

const JOB_SELECT =
  `SELECT id, name, type, schedule, timezone, action, version::DOUBLE AS version,
  timeout_ms::DOUBLE AS timeout_ms, retries, retry_delay_ms::DOUBLE AS retry_delay_ms,
  overlap, catch_up, auto_start, status,
  epoch_ms(next_run_at)::DOUBLE AS next_run_at,
  epoch_ms(created_at)::DOUBLE AS created_at,
  epoch_ms(updated_at)::DOUBLE AS updated_at,
  run_count::DOUBLE AS run_count, success_count::DOUBLE AS success_count,
  last_run FROM jobs`;

const RUN_FIELDS = `id::DOUBLE AS id, job_id, trigger, attempt,
  epoch_ms(scheduled_for)::DOUBLE AS scheduled_for,
  epoch_ms(started_at)::DOUBLE AS started_at,
  epoch_ms(ended_at)::DOUBLE AS ended_at,
  duration_ms::DOUBLE AS duration_ms, status, message, error`;

type Row = Record<string, unknown>;

/** Events the log keeps when a prune rule does not say. */
const DEFAULT_MAX_EVENTS = 100_000;

const ts = (ms: number) =>
  new DuckDBTimestampValue(BigInt(Math.round(ms)) * 1000n);

function appendTs(a: DuckDBAppender, ms: number | null) {
  if (ms === null) a.appendNull();
  else a.appendTimestamp(ts(ms));
}

function appendText(a: DuckDBAppender, s: string | null) {
  if (s === null) a.appendNull();
  else a.appendVarchar(s);
}

function appendPut(a: DuckDBAppender, { job: j, expected }: Put, key: number) {
  a.appendVarchar(j.id);
  a.appendVarchar(j.name);
  a.appendVarchar(j.type);
  a.appendVarchar(j.schedule);
  appendText(a, j.timezone);
  a.appendVarchar(JSON.stringify(j.action));
  if (j.timeoutMs === null) a.appendNull();
  else a.appendBigInt(BigInt(j.timeoutMs));
  a.appendInteger(j.retries);
  a.appendBigInt(BigInt(j.retryDelayMs));
  a.appendVarchar(j.overlap);
  a.appendVarchar(j.catchUp);
  a.appendBoolean(j.autoStart);
  a.appendVarchar(j.status);
  appendTs(a, j.nextRunAt);
  appendTs(a, j.createdAt);
  appendTs(a, j.updatedAt);
  a.appendBigInt(0n); // run_count: a new job has none; an update keeps its own
  a.appendBigInt(0n);
  a.appendNull(); // last_run
  a.appendInteger(key);
  a.appendBigInt(BigInt(j.version));
  if (expected === null) a.appendNull();
  else a.appendBigInt(BigInt(expected));
  a.endRow();
}

function appendRun(a: DuckDBAppender, r: Run, key: number) {
  a.appendBigInt(BigInt(r.id));
  a.appendInteger(key);
  a.appendVarchar(r.jobId);
  a.appendVarchar(r.trigger);
  a.appendInteger(r.attempt);
  appendTs(a, r.scheduledFor);
  appendTs(a, r.startedAt);
  appendTs(a, r.endedAt);
  if (r.durationMs === null) a.appendNull();
  else a.appendBigInt(BigInt(r.durationMs));
  a.appendVarchar(r.status);
  appendText(a, r.message);
  appendText(a, r.error);
  appendText(a, r.output);
  a.endRow();
}

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
const str = (v: unknown) => (v === null || v === undefined ? null : String(v));

function toStoredJob(r: Row): StoredJob {
  return {
    job: {
      id: String(r.id),
      name: String(r.name),
      type: r.type as Job["type"],
      schedule: String(r.schedule),
      timezone: str(r.timezone),
      action: JSON.parse(String(r.action)),
      timeoutMs: num(r.timeout_ms),
      retries: Number(r.retries),
      retryDelayMs: Number(r.retry_delay_ms),
      overlap: r.overlap as Job["overlap"],
      catchUp: r.catch_up as Job["catchUp"],
      autoStart: Boolean(r.auto_start),
      status: r.status as Job["status"],
      version: Number(r.version ?? 1),
      nextRunAt: num(r.next_run_at),
      createdAt: Number(r.created_at),
      updatedAt: Number(r.updated_at),
    },
    counts: {
      runs: Number(r.run_count),
      successes: Number(r.success_count),
      lastRun: r.last_run ? JSON.parse(String(r.last_run)) : null,
      skipped: 0,
      missed: 0,
    },
  };
}

/** Rows as objects, built from columns (several times faster than row objects). */
function rowsOf(
  reader: { columnNames(): string[]; getColumnsJS(): unknown[][] },
): Row[] {
  const names = reader.columnNames();
  const cols = reader.getColumnsJS();
  const n = cols[0]?.length ?? 0;
  const out: Row[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const row: Row = {};
    for (let c = 0; c < names.length; c++) row[names[c]] = cols[c][i];
    out[i] = row;
  }
  return out;
}

function toRun(r: Row): Run {
  return {
    id: Number(r.id),
    jobId: String(r.job_id),
    trigger: r.trigger as Run["trigger"],
    attempt: Number(r.attempt),
    scheduledFor: num(r.scheduled_for),
    startedAt: Number(r.started_at),
    endedAt: num(r.ended_at),
    durationMs: num(r.duration_ms),
    status: r.status as Run["status"],
    message: str(r.message),
    error: str(r.error),
    output: str(r.output),
  };
}

function toEvent(r: Row): StoredEvent {
  const base = {
    seq: Number(r.seq),
    at: Number(r.at),
    jobId: String(r.job_id),
  };
  const type = String(r.type) as StoredEvent["type"];
  return type === "run-started" || type === "run-finished"
    ? { ...base, type, runId: Number(r.run_id) }
    : { ...base, type };
}

async function lastEventSeqOf(c: DuckDBConnection): Promise<number> {
  const [r] = rowsOf(
    await c.runAndReadAll(
      "SELECT coalesce(max(seq), 0)::DOUBLE AS seq FROM events",
    ),
  );
  return Number(r.seq);
}

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
  const { instance, writer, reader, keys } = await openFile(path, opts);
  let maxKey = 0;
  for (const key of keys.values()) maxKey = Math.max(maxKey, key);
  // Once closed, every call is refused as the server going away, not a bug.
  let closed = false;
  const refuse = () =>
    new JobproError(
      "unavailable",
      "the database is closed: the server is shutting down",
    );
  const writeQueue = serial();
  const readQueue = serial();
  const onWriter = <T>(fn: () => Promise<T>) =>
    writeQueue(() => closed ? Promise.reject(refuse()) : fn());
  const onReader = <T>(fn: () => Promise<T>) =>
    readQueue(() => closed ? Promise.reject(refuse()) : fn());
  const keyOf = (jobId: string) => {
    let key = keys.get(jobId);
    if (key === undefined) keys.set(jobId, key = ++maxKey);
    return key;
  };

  const rows = (c: DuckDBConnection, sql: string, params: DuckDBValue[] = []) =>
    c.runAndReadAll(sql, params).then(rowsOf);
  const read = (sql: string, params?: DuckDBValue[]) =>
    onReader(() => rows(reader, sql, params));

  async function appendAll<T>(
    table: string,
    items: T[],
    add: (a: DuckDBAppender, item: T, key: number) => void,
    jobIdOf: (item: T) => string,
    catalog?: string,
  ) {
    if (!items.length) return;
    const a = await writer.createAppender(table, "main", catalog);
    for (const item of items) add(a, item, keyOf(jobIdOf(item)));
    a.closeSync();
  }

  /** Fills a staging table from plain rows of text, timestamps and the like. */
  async function stage<T>(
    table: string,
    items: T[],
    add: (a: DuckDBAppender, item: T) => void,
  ) {
    if (!items.length) return;
    const a = await writer.createAppender(table, "main", "temp");
    for (const item of items) {
      add(a, item);
      a.endRow();
    }
    a.closeSync();
  }

  const ids = async (sql: string) =>
    new Set((await rows(writer, sql)).map((r) => String(r.id)));

  // Ids of the runs this process has written to runs_running: a run that
  // ends before its batch is written never goes there, and needs no delete.
  const going = new Set<number>();
  let lastSeq = await lastEventSeqOf(writer);

  /** Applies the versioned deletes; returns the ids deleted (with their runs). */
  async function deleteJobs(batch: Batch): Promise<Set<string>> {
    const deleted = new Set<string>();
    for (const d of batch.deletes) {
      if (!keys.has(d.id)) continue;
      const r = await rows(
        writer,
        "SELECT id FROM jobs WHERE id = $1 AND version = $2",
        [d.id, d.expected],
      );
      if (!r.length) continue;
      await writer.run("DELETE FROM jobs WHERE id = $1", [d.id]);
      deleted.add(d.id);
    }
    if (deleted.size) {
      // Keys are integers this store assigned: safe to inline.
      const keyList = [...deleted].map((id) => keys.get(id)).join(",");
      await writer.run(
        `DELETE FROM runs WHERE job_key IN (${keyList});
         DELETE FROM runs_running WHERE job_key IN (${keyList})`,
      );
    }
    return deleted;
  }

  async function write(batch: Batch): Promise<Written> {
    const firstSeq = lastSeq + 1;
    const at = Date.now();
    let deleted = new Set<string>();
    let won = new Set<string>();
    let put = new Set<string>();
    let ended: number[] = [];
    await writer.run("BEGIN TRANSACTION");
    try {
      deleted = await deleteJobs(batch);
      const alive = (r: Run) => !deleted.has(r.jobId);
      const started = batch.started.filter(alive);
      const finished = batch.finished.filter(alive);
      ended = finished.filter((r) => going.has(r.id)).map((r) => r.id);
      if (batch.claims.length) {
        await stage("claims", batch.claims, (a, c) => {
          a.appendVarchar(c.jobId);
          appendTs(a, c.tick);
          appendTs(a, c.next);
        });
        won = await ids(CLAIMABLE);
        await writer.run(CLAIM);
      }
      await stage("statuses", batch.statuses, (a, c) => {
        a.appendVarchar(c.jobId);
        a.appendVarchar(c.status);
        appendTs(a, c.updatedAt);
      });
      if (batch.statuses.length) await writer.run(STATUSES);
      if (batch.puts.length) {
        await appendAll("puts", batch.puts, appendPut, (p) => p.job.id, "temp");
        put = new Set([...await ids(CREATABLE), ...await ids(UPDATABLE)]);
        await writer.run(`${CREATE_PUTS};\n${UPDATE_PUTS}`);
      }
      await appendAll("runs_running", started, appendRun, (r) => r.jobId);
      await appendAll("runs", finished, appendRun, (r) => r.jobId);
      await stage("ended", finished, (a, r) => {
        a.appendVarchar(r.jobId);
        a.appendBigInt(BigInt(r.id));
        a.appendBoolean(r.status === "complete");
        a.appendVarchar(JSON.stringify(summarize(r)));
      });
      await appendEvents(batch.events, firstSeq, at);
      // The rest in one call: each statement is a round trip to DuckDB's thread.
      const tail: string[] = [];
      if (finished.length) tail.push(COUNT_ENDED);
      // Run ids are integers this process assigned: safe to inline.
      if (ended.length) {
        tail.push(`DELETE FROM runs_running WHERE id IN (${ended.join(",")})`);
      }
      for (const t of ["puts", "claims", "statuses", "ended"]) {
        tail.push(`DELETE FROM temp.${t}`);
      }
      tail.push("COMMIT");
      await writer.run(tail.join(";\n"));
    } catch (e) {
      await writer.run("ROLLBACK").catch(() => {});
      await writer.run(
        "DELETE FROM temp.puts; DELETE FROM temp.claims; DELETE FROM temp.statuses; DELETE FROM temp.ended",
      ).catch(() => {});
      throw e;
    }
    for (const r of batch.started) if (!deleted.has(r.jobId)) going.add(r.id);
    for (const id of ended) going.delete(id);
    // A job created again under the same id gets a fresh key; forgotten only
    // once the delete is committed, or a retry would skip the DELETE.
    for (const id of deleted) keys.delete(id);
    lastSeq += batch.events.length;
    return {
      puts: batch.puts.map((p) => put.has(p.job.id)),
      deletes: batch.deletes.map((d) => deleted.has(d.id)),
      claims: batch.claims.map((c) => won.has(c.jobId)),
      firstSeq,
    };
  }

  async function appendEvents(
    events: LoggedEvent[],
    first: number,
    at: number,
  ) {
    if (!events.length) return;
    const a = await writer.createAppender("events");
    let seq = first;
    for (const e of events) {
      a.appendBigInt(BigInt(seq++));
      appendTs(a, at);
      a.appendVarchar(e.type);
      a.appendVarchar(e.jobId);
      if ("runId" in e) a.appendBigInt(BigInt(e.runId));
      else a.appendNull();
      a.endRow();
    }
    a.closeSync();
  }

  const store: Store = {
    // Streamed chunk by chunk: materializing 100,000 rows at once costs
    // hundreds of MB that the process never gives back.
    loadJobs: () =>
      onReader(async () => {
        const result = await reader.stream(
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
      }),

    async maxRunId() {
      const [r] = await read(`SELECT greatest(
        coalesce((SELECT max(id) FROM runs), 0),
        coalesce((SELECT max(id) FROM runs_running), 0))::DOUBLE AS m`);
      return Number(r.m);
    },

    write: (batch) => onWriter(() => write(batch)),

    eventsSince: (seq, limit = 1000) =>
      onReader(async () => {
        if (seq > lastSeq) return null; // from a log we know nothing of
        if (seq === lastSeq) return [];
        const [{ oldest }] = await rows(
          reader,
          "SELECT min(seq)::DOUBLE AS oldest FROM events",
        );
        if (oldest === null || seq + 1 < Number(oldest)) return null;
        return (await rows(
          reader,
          `SELECT seq::DOUBLE AS seq, epoch_ms(logged_at)::DOUBLE AS at, type, job_id,
            run_id::DOUBLE AS run_id FROM events WHERE seq > $1 ORDER BY seq LIMIT ${
            Math.max(1, Math.min(limit, 100_000))
          }`,
          [seq],
        )).map(toEvent);
      }),

    lastEventSeq: () => Promise.resolve(lastSeq),

    recoverInterrupted: (now) =>
      onWriter(async () => {
        const left = (await rows(
          writer,
          `SELECT ${RUN_FIELDS}, output FROM runs_running ORDER BY id`,
        )).map(toRun);
        if (!left.length) return [];
        // Written by an earlier process: mark them ours so write() moves them.
        for (const r of left) going.add(r.id);
        const ended = left.map((r) => ({
          ...r,
          status: "failed" as const,
          error: "interrupted",
          endedAt: Math.max(now, r.startedAt),
          durationMs: Math.max(0, now - r.startedAt),
        }));
        // Counted on their jobs (a delta), as a finished run would have been.
        await write({
          ...emptyBatch(),
          finished: ended,
          events: ended.map((r) => ({
            type: "run-finished" as const,
            jobId: r.jobId,
            runId: r.id,
          })),
        });
        return ended;
      }),

    async listRuns(jobId, q = {}) {
      const where = ["job_key = $1"];
      const params: DuckDBValue[] = [keys.get(jobId) ?? -1];
      if (q.status) {
        params.push(q.status);
        where.push(`status = $${params.length}`);
      }
      const cond = where.join(" AND ");
      const source = `(SELECT ${RUN_FIELDS} FROM runs WHERE ${cond}
        UNION ALL SELECT ${RUN_FIELDS} FROM runs_running WHERE ${cond})`;
      const limit = Math.min(Math.max(q.limit ?? 10, 0), 1000);
      const offset = Math.max(q.offset ?? 0, 0);
      // One snapshot for the page and its total, even while pruning deletes.
      const [list, [count]] = await onReader(async () => {
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
    },

    async getRun(jobId, runId) {
      const source =
        `(SELECT ${RUN_FIELDS}, output FROM runs WHERE job_key = $1 AND id = $2
        UNION ALL SELECT ${RUN_FIELDS}, output FROM runs_running WHERE job_key = $1 AND id = $2)`;
      const found = await read(
        `SELECT * FROM ${source} ORDER BY ended_at NULLS LAST LIMIT 1`,
        [keys.get(jobId) ?? -1, runId],
      );
      return found.length ? toRun(found[0]) : null;
    },

    async stats(jobId) {
      const [r] = await read(
        `SELECT count(*)::DOUBLE AS runs,
          (100.0 * count(*) FILTER (WHERE status = 'complete') / nullif(count(*), 0))::DOUBLE AS success_rate,
          avg(duration_ms)::DOUBLE AS avg_ms,
          quantile_cont(duration_ms, 0.5)::DOUBLE AS p50,
          quantile_cont(duration_ms, 0.95)::DOUBLE AS p95,
          epoch_ms(max(started_at))::DOUBLE AS last_run,
          epoch_ms(max(started_at) FILTER (WHERE status = 'failed'))::DOUBLE AS last_failure
        FROM runs WHERE job_key = $1`,
        [keys.get(jobId) ?? -1],
      );
      const round = (
        v: unknown,
      ) => (v === null ? null : Math.round(Number(v) * 10) / 10);
      const isoOf = (
        v: unknown,
      ) => (v === null ? null : new Date(Number(v)).toISOString());
      return {
        runs: Number(r.runs),
        successRate: round(r.success_rate),
        avgDurationMs: round(r.avg_ms),
        p50DurationMs: round(r.p50),
        p95DurationMs: round(r.p95),
        lastRunAt: isoOf(r.last_run),
        lastFailureAt: isoOf(r.last_failure),
      } satisfies JobStats;
    },

    async prune(rule: PruneRule) {
      // The event log keeps its newest `maxEvents`.
      const keep = rule.maxEvents ?? DEFAULT_MAX_EVENTS;
      await onWriter(() =>
        writer.run("DELETE FROM events WHERE seq <= $1", [lastSeq - keep])
      );
      // In batches, each its own transaction, so group commits (and the
      // scheduler waiting on them) get the writer between batches.
      const batch = rule.batchSize ?? 50_000;
      let total = 0;
      for (;;) {
        const res = await onWriter(() =>
          writer.run(
            `DELETE FROM runs WHERE rowid IN (SELECT rowid FROM runs WHERE started_at < $1 LIMIT ${batch})`,
            [ts(rule.before)],
          )
        );
        total += Number(res.rowsChanged);
        if (Number(res.rowsChanged) < batch || rule.signal?.aborted) break;
      }
      if (rule.signal?.aborted) return total;
      const over = await read(
        `SELECT job_key FROM runs GROUP BY job_key HAVING count(*) > $1`,
        [rule.maxPerJob],
      );
      for (const { job_key } of over) {
        if (rule.signal?.aborted) break;
        const res = await onWriter(() =>
          writer.run(
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
    },

    ping: () => read("SELECT 1").then(() => {}),

    probe: () =>
      onWriter(() =>
        writer.run(
          "INSERT OR REPLACE INTO write_probe VALUES (1, current_timestamp)",
        )
      ).then(() => {}),

    close: () =>
      onWriter(async () => {
        await onReader(() => {
          closed = true;
          writer.closeSync();
          reader.closeSync();
          instance.closeSync();
          return Promise.resolve();
        });
      }),
  };
  return store;
}
