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

/**
 * The columns of a staged put, in the order appendPut appends them: the
 * staging table is made with exactly these, whatever order a file's jobs
 * table has its columns in (added ones follow in the order they were added).
 */
const STAGED_JOB_COLUMNS = `id, name, type, schedule, timezone, action,
  timeout_ms, retries, retry_delay_ms, overlap, catch_up, auto_start, status,
  next_run_at, created_at, updated_at, run_count, success_count, last_run, key,
  version, tags, notify, concurrency_key, description, last_success_at,
  last_failure_at, on_success, on_failure`;

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
  // Files written before concurrency limits: no job has a key (concurrency.ts).
  `ALTER TABLE jobs ADD COLUMN IF NOT EXISTS concurrency_key VARCHAR`,
  // Files written before descriptions: no job has one.
  `ALTER TABLE jobs ADD COLUMN IF NOT EXISTS description VARCHAR`,
  // When its last run succeeded and when one last failed (the metrics'
  // last_success/last_failure): unknown for runs finished before.
  `ALTER TABLE jobs ADD COLUMN IF NOT EXISTS last_success_at TIMESTAMP`,
  `ALTER TABLE jobs ADD COLUMN IF NOT EXISTS last_failure_at TIMESTAMP`,
  // Files written before chains: no job chains to another (chains.ts). JSON arrays.
  `ALTER TABLE jobs ADD COLUMN IF NOT EXISTS on_success VARCHAR DEFAULT '[]'`,
  `ALTER TABLE jobs ADD COLUMN IF NOT EXISTS on_failure VARCHAR DEFAULT '[]'`,
  `CREATE TABLE IF NOT EXISTS concurrency_limits (key VARCHAR PRIMARY KEY,
    max_runs INTEGER NOT NULL)`,
  // The alerts' outbox (notifier.ts): one row per run, event and target (its id).
  `CREATE TABLE IF NOT EXISTS deliveries (${DELIVERY_COLUMNS})`,
  `CREATE TABLE IF NOT EXISTS runs (${RUN_COLUMNS})`,
  // A file from before last_success_at: the times as far as its runs say
  // (once: a job with runs and neither time is one from before).
  `UPDATE jobs SET last_success_at = r.ok_at, last_failure_at = r.failed_at
    FROM (SELECT job_id,
        max(ended_at) FILTER (WHERE status = 'complete') AS ok_at,
        max(ended_at) FILTER (WHERE status = 'failed') AS failed_at
      FROM runs WHERE job_id IN (SELECT id FROM jobs WHERE run_count > 0
        AND last_success_at IS NULL AND last_failure_at IS NULL)
      GROUP BY job_id) r
    WHERE jobs.id = r.job_id
      AND (r.ok_at IS NOT NULL OR r.failed_at IS NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS runs_running (${RUN_COLUMNS})`,
  // Files written before chains: no run was chained (appendRun appends these last).
  ...["runs", "runs_running"].flatMap((t) => [
    `ALTER TABLE ${t} ADD COLUMN IF NOT EXISTS parent_job_id VARCHAR`,
    `ALTER TABLE ${t} ADD COLUMN IF NOT EXISTS parent_run_id BIGINT`,
  ]),
  // The chains' outbox (chainer.ts): one row per parent run and child job.
  `CREATE TABLE IF NOT EXISTS chain_triggers (parent_run_id BIGINT NOT NULL,
    job_id VARCHAR NOT NULL, parent_job_id VARCHAR NOT NULL,
    outcome VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL,
    consumed_at TIMESTAMP, run_id BIGINT, note VARCHAR,
    PRIMARY KEY (parent_run_id, job_id))`,
  `CREATE TABLE IF NOT EXISTS events (seq BIGINT NOT NULL, logged_at TIMESTAMP NOT NULL,
    type VARCHAR NOT NULL, job_id VARCHAR NOT NULL, run_id BIGINT)`,
  // One row, rewritten to find out whether writing works again.
  `CREATE TABLE IF NOT EXISTS write_probe (id INTEGER PRIMARY KEY, probed_at TIMESTAMP NOT NULL)`,
  // Staging tables of a batch, filled by the appender, emptied at its end.
  `CREATE TEMP TABLE puts AS SELECT ${STAGED_JOB_COLUMNS} FROM jobs LIMIT 0`,
  `ALTER TABLE temp.puts ADD COLUMN expected BIGINT`,
  `CREATE TEMP TABLE claims (job_id VARCHAR, tick TIMESTAMP, next TIMESTAMP)`,
  `CREATE TEMP TABLE statuses (job_id VARCHAR, status VARCHAR, updated_at TIMESTAMP)`,
  `CREATE TEMP TABLE ended (job_id VARCHAR, run_id BIGINT, ok BOOLEAN, summary VARCHAR)`,
  `CREATE TEMP TABLE new_deliveries (${
    DELIVERY_COLUMNS.replace(" PRIMARY KEY", "")
  })`,
  // Runs' output so far (live_output.ts), for their running rows.
  `CREATE TEMP TABLE outputs (id BIGINT, output VARCHAR)`,
  // Versioned deletes: the job and the version it was planned from.
  `CREATE TEMP TABLE deletes (id VARCHAR, expected BIGINT)`,
];

const JOB_COLUMNS = `id, name, type, schedule, timezone, action, timeout_ms,
  retries, retry_delay_ms, overlap, catch_up, auto_start, status, next_run_at,
  created_at, updated_at, run_count, success_count, last_run, key, version,
  tags, notify, concurrency_key, description, on_success, on_failure`;

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
  version = p.version, tags = p.tags, notify = p.notify,
  concurrency_key = p.concurrency_key, description = p.description,
  on_success = p.on_success, on_failure = p.on_failure
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
// The last success and failure move only forward (from the summaries' times).
export const COUNT_ENDED = `UPDATE jobs SET run_count = run_count + e.n,
  success_count = success_count + e.ok, last_run = e.last,
  last_success_at = greatest(coalesce(last_success_at, e.ok_at),
    coalesce(e.ok_at, last_success_at)),
  last_failure_at = greatest(coalesce(last_failure_at, e.failed_at),
    coalesce(e.failed_at, last_failure_at))
  FROM (SELECT job_id, count(*) AS n, count(*) FILTER (WHERE ok) AS ok,
    arg_max(summary, run_id) AS last,
    epoch_ms(max(json_extract_string(summary, '$.endedAt')::BIGINT)
      FILTER (WHERE json_extract_string(summary, '$.status') = 'complete')) AS ok_at,
    epoch_ms(max(json_extract_string(summary, '$.endedAt')::BIGINT)
      FILTER (WHERE json_extract_string(summary, '$.status') = 'failed')) AS failed_at
    FROM temp.ended GROUP BY job_id) e
  WHERE jobs.id = e.job_id`;

export const JOB_SELECT =
  `SELECT id, name, type, schedule, timezone, action, version::DOUBLE AS version,
  timeout_ms::DOUBLE AS timeout_ms, retries, retry_delay_ms::DOUBLE AS retry_delay_ms,
  overlap, catch_up, auto_start, status,
  epoch_ms(next_run_at)::DOUBLE AS next_run_at,
  epoch_ms(created_at)::DOUBLE AS created_at,
  epoch_ms(updated_at)::DOUBLE AS updated_at,
  run_count::DOUBLE AS run_count, success_count::DOUBLE AS success_count,
  last_run, tags, notify, concurrency_key, description, on_success, on_failure,
  epoch_ms(last_success_at)::DOUBLE AS last_success_at,
  epoch_ms(last_failure_at)::DOUBLE AS last_failure_at FROM jobs`;

export const RUN_FIELDS = `id::DOUBLE AS id, job_id, trigger, attempt,
  epoch_ms(scheduled_for)::DOUBLE AS scheduled_for,
  epoch_ms(started_at)::DOUBLE AS started_at,
  epoch_ms(ended_at)::DOUBLE AS ended_at,
  duration_ms::DOUBLE AS duration_ms, status, message, error,
  parent_job_id, parent_run_id::DOUBLE AS parent_run_id`;

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
  appendText(a, j.concurrencyKey ?? null);
  appendText(a, j.description ?? null);
  a.appendNull(); // last_success_at: the database's, as the counters are
  a.appendNull(); // last_failure_at
  a.appendVarchar(JSON.stringify(j.onSuccess ?? []));
  a.appendVarchar(JSON.stringify(j.onFailure ?? []));
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
  appendText(a, r.parentJobId ?? null);
  appendBig(a, r.parentRunId ?? null);
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
  "outputs",
  "deletes",
]
  .map((t) => `DELETE FROM temp.${t}`).join(";\n");

// A versioned delete takes the job at the version it was planned from: the
// ids it takes are read first, then deleted in one statement, however many
// (an apply may prune thousands).
export const DELETABLE = `SELECT d.id FROM temp.deletes d
  JOIN jobs j ON j.id = d.id AND j.version = d.expected`;
export const DELETE_JOBS = `DELETE FROM jobs USING temp.deletes d
  WHERE jobs.id = d.id AND jobs.version = d.expected`;

/** Runs' output so far, into the rows of those still running (live_output.ts). */
export const WRITE_OUTPUTS = `UPDATE runs_running SET output = o.output
  FROM temp.outputs o WHERE runs_running.id = o.id`;

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

/**
 * The runs of a key ($1) that hold a slot, or are queued ahead of the
 * queued run $2 (store.ts `startQueued`).
 */
export const KEY_AHEAD = `SELECT count(*)::DOUBLE AS n FROM runs_running r
  JOIN jobs j ON j.key = r.job_key,
  (SELECT started_at AS t FROM runs_running WHERE id = $2) me
  WHERE j.concurrency_key = $1 AND (r.status = 'running' OR (r.status = 'queued'
    AND (r.started_at < me.t OR (r.started_at = me.t AND r.id < $2))))`;

/** A queued run ($1) with its job's key and that key's limit (null: none). */
export const QUEUED_RUN = `SELECT j.concurrency_key AS key,
  l.max_runs::DOUBLE AS max_runs
  FROM runs_running r JOIN jobs j ON j.key = r.job_key
  LEFT JOIN concurrency_limits l ON l.key = j.concurrency_key
  WHERE r.id = $1 AND r.status = 'queued'`;

/** Every key's limit with its runs in flight. */
export const KEY_USAGE = `SELECT l.key, l.max_runs::DOUBLE AS max_runs,
  (SELECT count(*) FROM runs_running r JOIN jobs j ON j.key = r.job_key
    WHERE j.concurrency_key = l.key AND r.status = 'running')::DOUBLE AS running,
  (SELECT count(*) FROM runs_running r JOIN jobs j ON j.key = r.job_key
    WHERE j.concurrency_key = l.key AND r.status = 'queued')::DOUBLE AS queued
  FROM concurrency_limits l ORDER BY l.key`;

/** A chain trigger's columns as the engine reads them (rows.ts `toChainTrigger`). */
export const CHAIN_FIELDS = `parent_run_id::DOUBLE AS parent_run_id, job_id,
  parent_job_id, outcome, epoch_ms(created_at)::DOUBLE AS created_at`;

/** A trigger still pending ($1: parent run, $2: child job). */
export const CHAIN_PENDING = `SELECT parent_run_id FROM chain_triggers
  WHERE parent_run_id = $1 AND job_id = $2 AND consumed_at IS NULL`;

/** Consumes a pending trigger ($3: when, $4: the run it started, $5: why none). */
export const CHAIN_CONSUME = `UPDATE chain_triggers SET consumed_at = $3,
  run_id = $4, note = $5 WHERE parent_run_id = $1 AND job_id = $2
  AND consumed_at IS NULL`;

/** New triggers, `n` rows of 5 parameters; a key stored already is kept. */
export const insertTriggers = (n: number) =>
  `INSERT INTO chain_triggers (parent_run_id, job_id, parent_job_id, outcome,
  created_at) VALUES ${
    Array.from({ length: n }, (_, i) =>
      `(${
        [1, 2, 3, 4, 5].map((k) => `$${i * 5 + k}`).join(", ")
      })`).join(", ")
  } ON CONFLICT DO NOTHING`;
