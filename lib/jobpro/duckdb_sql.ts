/**
 * The DuckDB store's SQL: its schema, the statements a batch runs, and how
 * rows are appended and read (rows.ts turns result rows into the engine's
 * types). Nothing here holds a connection; duckdb_store.ts does.
 *
 * @module
 */
import {
  type DuckDBAppender,
  type DuckDBConnection,
  DuckDBTimestampValue,
  type DuckDBValue,
} from "@duckdb/node-api";
import type { Run } from "./run.ts";
import type { Row } from "./rows.ts";
import type { Delivery } from "./notify.ts";
import type { Put } from "./store.ts";

// job_key is the job's small integer key: a filter on it scans 10 million
// runs in ~15 ms, where one on the VARCHAR id takes ~140 ms and an index on
// either costs ~220 MB of memory and seconds per million deletes.
const RUN_COLUMNS =
  `id BIGINT NOT NULL, job_key INTEGER NOT NULL, job_id VARCHAR NOT NULL,
  trigger VARCHAR NOT NULL, attempt INTEGER NOT NULL,
  scheduled_for TIMESTAMP, started_at TIMESTAMP NOT NULL, ended_at TIMESTAMP,
  duration_ms BIGINT, status VARCHAR NOT NULL, message VARCHAR, error VARCHAR,
  output VARCHAR`;

const DELIVERY_COLUMNS = `id VARCHAR PRIMARY KEY, job_id VARCHAR NOT NULL,
  run_id BIGINT, event VARCHAR NOT NULL, target VARCHAR NOT NULL,
  payload VARCHAR NOT NULL, status VARCHAR NOT NULL, attempts INTEGER NOT NULL,
  error VARCHAR, created_at TIMESTAMP NOT NULL, next_attempt_at TIMESTAMP NOT NULL,
  claimed_until TIMESTAMP, sent_at TIMESTAMP`;

export const SCHEMA = [
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
  // Files written before tags: every job has none. A JSON array, as action is.
  `ALTER TABLE jobs ADD COLUMN IF NOT EXISTS tags VARCHAR DEFAULT '[]'`,
  // Files written before alerts: no job has rules (notify.ts). JSON, as action is.
  `ALTER TABLE jobs ADD COLUMN IF NOT EXISTS notify VARCHAR DEFAULT '[]'`,
  // The alerts' outbox (notifier.ts): one row per run, event and target (its id).
  `CREATE TABLE IF NOT EXISTS deliveries (${DELIVERY_COLUMNS})`,
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
  `CREATE TEMP TABLE new_deliveries (${
    DELIVERY_COLUMNS.replace(" PRIMARY KEY", "")
  })`,
];

const JOB_COLUMNS = `id, name, type, schedule, timezone, action, timeout_ms,
  retries, retry_delay_ms, overlap, catch_up, auto_start, status, next_run_at,
  created_at, updated_at, run_count, success_count, last_run, key, version,
  tags, notify`;

// An operation's put: a create where no job has the id; an update where the
// stored version is the one the operation was planned from. Counters and the
// key are the database's, never overwritten. Each write is preceded by the
// query of which rows it will take: DuckDB 1.5 aborts the process when a
// commit that fails (a full disk) reverts an UPDATE ... RETURNING.
export const CREATABLE = `SELECT p.id FROM temp.puts p
  WHERE p.expected IS NULL AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = p.id)`;
export const CREATE_PUTS = `INSERT INTO jobs (${JOB_COLUMNS})
  SELECT ${JOB_COLUMNS} FROM temp.puts p
  WHERE p.expected IS NULL AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = p.id)`;
export const UPDATABLE =
  `SELECT p.id FROM temp.puts p JOIN jobs ON jobs.id = p.id
  WHERE jobs.version = p.expected`;
export const UPDATE_PUTS = `UPDATE jobs SET name = p.name, type = p.type,
  schedule = p.schedule, timezone = p.timezone, action = p.action,
  timeout_ms = p.timeout_ms, retries = p.retries, retry_delay_ms = p.retry_delay_ms,
  overlap = p.overlap, catch_up = p.catch_up, auto_start = p.auto_start,
  status = p.status, next_run_at = p.next_run_at, updated_at = p.updated_at,
  version = p.version, tags = p.tags, notify = p.notify
  FROM temp.puts p WHERE jobs.id = p.id AND jobs.version = p.expected`;
export const CLAIMABLE =
  `SELECT c.job_id AS id FROM temp.claims c JOIN jobs ON jobs.id = c.job_id
  WHERE jobs.next_run_at IS NOT DISTINCT FROM c.tick`;
export const CLAIM = `UPDATE jobs SET next_run_at = c.next FROM temp.claims c
  WHERE jobs.id = c.job_id AND jobs.next_run_at IS NOT DISTINCT FROM c.tick`;
export const STATUSES =
  `UPDATE jobs SET status = s.status, updated_at = s.updated_at
  FROM temp.statuses s WHERE jobs.id = s.job_id`;
// Counters move by what this batch ended, whatever the process remembers.
export const COUNT_ENDED = `UPDATE jobs SET run_count = run_count + e.n,
  success_count = success_count + e.ok, last_run = e.last
  FROM (SELECT job_id, count(*) AS n, count(*) FILTER (WHERE ok) AS ok,
    arg_max(summary, run_id) AS last FROM temp.ended GROUP BY job_id) e
  WHERE jobs.id = e.job_id`;

export const JOB_SELECT =
  `SELECT id, name, type, schedule, timezone, action, version::DOUBLE AS version,
  timeout_ms::DOUBLE AS timeout_ms, retries, retry_delay_ms::DOUBLE AS retry_delay_ms,
  overlap, catch_up, auto_start, status,
  epoch_ms(next_run_at)::DOUBLE AS next_run_at,
  epoch_ms(created_at)::DOUBLE AS created_at,
  epoch_ms(updated_at)::DOUBLE AS updated_at,
  run_count::DOUBLE AS run_count, success_count::DOUBLE AS success_count,
  last_run, tags, notify FROM jobs`;

export const RUN_FIELDS = `id::DOUBLE AS id, job_id, trigger, attempt,
  epoch_ms(scheduled_for)::DOUBLE AS scheduled_for,
  epoch_ms(started_at)::DOUBLE AS started_at,
  epoch_ms(ended_at)::DOUBLE AS ended_at,
  duration_ms::DOUBLE AS duration_ms, status, message, error`;

export const ts = (ms: number) =>
  new DuckDBTimestampValue(BigInt(Math.round(ms)) * 1000n);

export function appendTs(a: DuckDBAppender, ms: number | null) {
  if (ms === null) a.appendNull();
  else a.appendTimestamp(ts(ms));
}

function appendText(a: DuckDBAppender, s: string | null) {
  if (s === null) a.appendNull();
  else a.appendVarchar(s);
}

/** A BIGINT column from a whole number, or NULL. */
function appendBig(a: DuckDBAppender, n: number | null) {
  if (n === null) a.appendNull();
  else a.appendBigInt(BigInt(n));
}

export function appendPut(
  a: DuckDBAppender,
  { job: j, expected }: Put,
  key: number,
) {
  a.appendVarchar(j.id);
  a.appendVarchar(j.name);
  a.appendVarchar(j.type);
  a.appendVarchar(j.schedule);
  appendText(a, j.timezone);
  a.appendVarchar(JSON.stringify(j.action));
  appendBig(a, j.timeoutMs);
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
  a.appendVarchar(JSON.stringify(j.tags));
  a.appendVarchar(JSON.stringify(j.notify ?? []));
  appendBig(a, expected);
  a.endRow();
}

export function appendRun(a: DuckDBAppender, r: Run, key: number) {
  a.appendBigInt(BigInt(r.id));
  a.appendInteger(key);
  a.appendVarchar(r.jobId);
  a.appendVarchar(r.trigger);
  a.appendInteger(r.attempt);
  appendTs(a, r.scheduledFor);
  appendTs(a, r.startedAt);
  appendTs(a, r.endedAt);
  appendBig(a, r.durationMs);
  a.appendVarchar(r.status);
  appendText(a, r.message);
  appendText(a, r.error);
  appendText(a, r.output);
  a.endRow();
}

/** Rows as objects, built from columns (several times faster than row objects). */
export function rowsOf(
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

export async function lastEventSeqOf(c: DuckDBConnection): Promise<number> {
  const [r] = rowsOf(
    await c.runAndReadAll(
      "SELECT coalesce(max(seq), 0)::DOUBLE AS seq FROM events",
    ),
  );
  return Number(r.seq);
}

/** A statement's rows as objects. */
export async function rows(
  c: DuckDBConnection,
  sql: string,
  params: DuckDBValue[] = [],
): Promise<Row[]> {
  return rowsOf(await c.runAndReadAll(sql, params));
}

/** Empties a batch's staging tables. */
export const CLEAR_STAGING = [
  "puts",
  "claims",
  "statuses",
  "ended",
  "new_deliveries",
]
  .map((t) => `DELETE FROM temp.${t}`).join(";\n");

/** Aggregates over one job's finished runs ($1: its key). */
export const STATS = `SELECT count(*)::DOUBLE AS runs,
  (100.0 * count(*) FILTER (WHERE status = 'complete') / nullif(count(*), 0))::DOUBLE AS success_rate,
  avg(duration_ms)::DOUBLE AS avg_ms,
  quantile_cont(duration_ms, 0.5)::DOUBLE AS p50,
  quantile_cont(duration_ms, 0.95)::DOUBLE AS p95,
  epoch_ms(max(started_at))::DOUBLE AS last_run,
  epoch_ms(max(started_at) FILTER (WHERE status = 'failed'))::DOUBLE AS last_failure
FROM runs WHERE job_key = $1`;

/** A batch's deliveries: an id already stored stays as it is (dedupe). */
export const INSERT_DELIVERIES = `INSERT INTO deliveries
  SELECT * FROM (SELECT DISTINCT ON (id) * FROM temp.new_deliveries) n
  WHERE n.id NOT IN (SELECT id FROM deliveries)
  ON CONFLICT DO NOTHING`;

/** A delivery's columns as the engine reads them (rows.ts `toDelivery`). */
export const DELIVERY_FIELDS = `id, job_id, run_id::DOUBLE AS run_id, event,
  target, payload, status, attempts, error,
  epoch_ms(created_at)::DOUBLE AS created_at,
  epoch_ms(next_attempt_at)::DOUBLE AS next_attempt_at,
  epoch_ms(sent_at)::DOUBLE AS sent_at`;

/** Pending deliveries due by $1 whose claim lapsed (at most `limit`). */
export const claimableDeliveries = (limit: number) =>
  `SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= $1
  AND (claimed_until IS NULL OR claimed_until <= $1)
  ORDER BY next_attempt_at, id LIMIT ${Math.max(1, Math.floor(limit))}`;

export function appendDelivery(a: DuckDBAppender, d: Delivery) {
  a.appendVarchar(d.id);
  a.appendVarchar(d.jobId);
  appendBig(a, d.runId);
  a.appendVarchar(d.event);
  a.appendVarchar(d.target);
  a.appendVarchar(d.payload);
  a.appendVarchar(d.status);
  a.appendInteger(d.attempts);
  appendText(a, d.error);
  appendTs(a, d.createdAt);
  appendTs(a, d.nextAttemptAt);
  a.appendNull(); // claimed_until
  appendTs(a, d.sentAt);
}
