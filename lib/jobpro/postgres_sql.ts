/**
 * The PostgreSQL store's SQL: its versioned schema, the statements a batch
 * runs and their parameters (rows.ts turns result rows into the engine's
 * types). Nothing here holds a connection; postgres_store.ts does, and
 * lends one to {@link migrateSchema}.
 *
 * Every table lives in one schema (default "jobpro"), named in each
 * statement, so several stores (or tests) share a database without meeting.
 * The rows of a batch go as one parameter per statement (a JSON document
 * for runs and puts, an array per column for the small ones), unpacked with
 * `json_to_recordset` or `unnest`: 1,000 runs are one statement. Times are
 * `timestamptz`, sent and read as epoch milliseconds.
 *
 * @example
 * ```ts
 * const sql = statementsFor("jobpro");
 * await client.query(sql.claim, claimParams(batch.claims));
 * ```
 * @module
 */
import { JobproError } from "./errors.ts";
import { eventTypeText, type Row } from "./rows.ts";
import type { Delivery } from "./notify.ts";
import type { ChainStart, ChainTrigger } from "./chains.ts";
import { PINGED_END, type Run, summarize } from "./run.ts";
import type { Claim, Delete, LoggedEvent, Put, StatusChange } from "./store.ts";

/**
 * A schema name that needs no quoting: lower-case letters, digits, underscores.
 *
 * @example
 * ```ts
 * SCHEMA_NAME.test("jobpro"); // true
 * SCHEMA_NAME.test("Jobs; DROP"); // false
 * ```
 */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Epoch milliseconds (a bigint expression) as a timestamptz. */
export const ts = (x: string) =>
  `(timestamptz 'epoch' + (${x}) * interval '1 ms')`;
/** A timestamptz as epoch milliseconds (a JS number). */
export const ms = (x: string) => `(extract(epoch FROM ${x}) * 1000)::float8`;

/**
 * The `run_ids` sequence's increment: one step of it is a block of this
 * many run ids.
 */
export const RUN_ID_BLOCK = 1000;

/**
 * Blocks a node reserves at a time: 10,000 ids, so a node firing thousands
 * of runs a second never runs out while its next reservation is written.
 *
 * @example
 * ```ts
 * const { first, count } = await cluster.reserveRunIds(); // count === RUN_ID_BLOCK * RUN_ID_BLOCKS
 * ```
 */
export const RUN_ID_BLOCKS = 10;

/**
 * The channel `pg_notify` announces a schema's new events on: an
 * identifier of at most 63 bytes (a long schema name is shortened, with a
 * hash of it to keep it apart).
 *
 * @example
 * ```ts
 * channelFor("jobpro"); // "jobpro_events_jobpro"
 * ```
 */
export function channelFor(schema: string): string {
  const name = `jobpro_events_${schema}`;
  if (name.length <= 63) return name;
  let h = 0x811c9dc5;
  for (const ch of new TextEncoder().encode(schema)) {
    h = Math.imul(h ^ ch, 0x01000193) >>> 0;
  }
  return `jobpro_events_${schema.slice(0, 40)}_${h.toString(16)}`;
}

/**
 * The migrations, in order: migration i takes the schema from version i to
 * i + 1. A release that changes the schema appends one; none is ever edited.
 * `$S` stands for the schema.
 */
const MIGRATIONS: string[][] = [
  [
    `CREATE TABLE $S.jobs (
      id text PRIMARY KEY, name text NOT NULL, type text NOT NULL,
      schedule text NOT NULL, timezone text, action text NOT NULL,
      timeout_ms bigint, retries integer NOT NULL, retry_delay_ms bigint NOT NULL,
      overlap text NOT NULL, catch_up text NOT NULL, auto_start boolean NOT NULL,
      status text NOT NULL, next_run_at timestamptz,
      created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,
      version bigint NOT NULL,
      run_count bigint NOT NULL DEFAULT 0, success_count bigint NOT NULL DEFAULT 0,
      last_run text)`,
    // One table for runs in flight (running) and finished ones: a finish is
    // an upsert that moves a row out of running exactly once.
    `CREATE TABLE $S.runs (
      id bigint PRIMARY KEY, job_id text NOT NULL, trigger text NOT NULL,
      attempt integer NOT NULL, scheduled_for timestamptz,
      started_at timestamptz NOT NULL, ended_at timestamptz, duration_ms bigint,
      status text NOT NULL, message text, error text, output text,
      running boolean NOT NULL)`,
    `CREATE INDEX runs_by_job ON $S.runs (job_id, id DESC)`,
    `CREATE INDEX runs_running ON $S.runs (id) WHERE running`,
    `CREATE INDEX runs_by_start ON $S.runs (started_at) WHERE NOT running`,
    `CREATE TABLE $S.events (seq bigint PRIMARY KEY,
      logged_at timestamptz NOT NULL, type text NOT NULL, job_id text NOT NULL,
      run_id bigint)`,
    // The event log's counter: a batch takes its numbers by updating this one
    // row, so numbers are gapless, and (the row lock is held to commit) are
    // committed in order: a reader never sees seq 5 before seq 4.
    `CREATE TABLE $S.event_seq (id integer PRIMARY KEY CHECK (id = 1),
      last_seq bigint NOT NULL)`,
    `INSERT INTO $S.event_seq VALUES (1, 0)`,
    // One row, rewritten to find out whether writing works again.
    `CREATE TABLE $S.write_probe (id integer PRIMARY KEY,
      probed_at timestamptz NOT NULL)`,
  ],
  [
    // The members of a cluster (lease.ts): an epoch per join, never reused;
    // a lease that has ended is never renewed.
    `CREATE SEQUENCE $S.node_epochs`,
    `CREATE TABLE $S.nodes (epoch bigint PRIMARY KEY, name text NOT NULL,
      joined_at timestamptz NOT NULL, lease_until timestamptz NOT NULL,
      left_at timestamptz)`,
  ],
  [
    // Several nodes (postgres_cluster.ts): who owns each job (null: none),
    // which epoch started each run (null: a store no lease fences), and the
    // backend of each node's membership connection (gone: the node is).
    `ALTER TABLE $S.jobs ADD COLUMN owner_epoch bigint`,
    `ALTER TABLE $S.runs ADD COLUMN node_epoch bigint`,
    `ALTER TABLE $S.nodes ADD COLUMN pid integer`,
    `CREATE INDEX jobs_by_owner ON $S.jobs (owner_epoch)`,
    // The backstop: one run per tick. Only runs a fenced node recorded are
    // keyed: an unfenced store never promised it (its history may repeat a
    // key, and the store contract's fixtures do).
    `CREATE UNIQUE INDEX runs_one_per_tick
      ON $S.runs (job_id, trigger, scheduled_for, attempt)
      WHERE scheduled_for IS NOT NULL AND node_epoch IS NOT NULL`,
    // Blocks of run ids for the nodes, starting above every id used so far.
    `CREATE SEQUENCE $S.run_ids INCREMENT BY ${RUN_ID_BLOCK}`,
    `SELECT setval('$S.run_ids',
      (SELECT coalesce(max(id), 0) + 1 FROM $S.runs), false)`,
  ],
  [
    // Tags (tags.ts): every job from before has none. In the job row, so
    // every node's view of a job has them.
    `ALTER TABLE $S.jobs ADD COLUMN tags text[] NOT NULL DEFAULT '{}'`,
  ],
  [
    // Alerts (notify.ts): each job's rules, as JSON text like its action,
    // and the outbox of deliveries (notifier.ts), one row per run, event and
    // target (its id), claimed by one node at a time (claimed_until).
    `ALTER TABLE $S.jobs ADD COLUMN notify text NOT NULL DEFAULT '[]'`,
    `CREATE TABLE $S.deliveries (id text PRIMARY KEY, job_id text NOT NULL,
      run_id bigint, event text NOT NULL, target text NOT NULL,
      payload text NOT NULL, status text NOT NULL, attempts integer NOT NULL,
      error text, created_at timestamptz NOT NULL,
      next_attempt_at timestamptz NOT NULL, claimed_until timestamptz,
      sent_at timestamptz)`,
    `CREATE INDEX deliveries_due ON $S.deliveries (next_attempt_at)
      WHERE status = 'pending'`,
    `CREATE INDEX deliveries_by_job ON $S.deliveries (job_id, created_at DESC)`,
  ],
  [
    // Chains (chains.ts): each job's onSuccess/onFailure (job ids), each
    // chained run's parent, and the outbox of triggers (chainer.ts), one
    // row per parent run and child job, consumed once (consumed_at).
    `ALTER TABLE $S.jobs ADD COLUMN on_success text[] NOT NULL DEFAULT '{}'`,
    `ALTER TABLE $S.jobs ADD COLUMN on_failure text[] NOT NULL DEFAULT '{}'`,
    `ALTER TABLE $S.runs ADD COLUMN parent_job_id text`,
    `ALTER TABLE $S.runs ADD COLUMN parent_run_id bigint`,
    `CREATE TABLE $S.chain_triggers (parent_run_id bigint NOT NULL,
      job_id text NOT NULL, parent_job_id text NOT NULL, outcome text NOT NULL,
      created_at timestamptz NOT NULL, consumed_at timestamptz, run_id bigint,
      note text, PRIMARY KEY (parent_run_id, job_id))`,
    `CREATE INDEX chain_triggers_pending ON $S.chain_triggers (created_at)
      WHERE consumed_at IS NULL`,
  ],
  [
    // Concurrency (concurrency.ts): each job's key (null: none) and the
    // limits by key, shared by every node; the starts of a key are checked
    // against its limit under a lock of the key's (startQueued).
    `ALTER TABLE $S.jobs ADD COLUMN concurrency_key text`,
    `CREATE INDEX jobs_by_concurrency_key ON $S.jobs (concurrency_key)
      WHERE concurrency_key IS NOT NULL`,
    `CREATE TABLE $S.concurrency_limits (key text PRIMARY KEY,
      max_runs integer NOT NULL)`,
  ],
  [
    // Heartbeat checks (heartbeat.ts): each check reads the job's last
    // ping, the newest run a ping recorded.
    `CREATE INDEX runs_pings ON $S.runs (job_id, started_at DESC)
      WHERE trigger = 'ping'`,
  ],
  [
    // Descriptions: what a job is for, in its owner's words (null: none).
    `ALTER TABLE $S.jobs ADD COLUMN description text`,
    // When its last run succeeded and when one last failed (the metrics'
    // last_success/last_failure), moved by each finish; unknown before.
    `ALTER TABLE $S.jobs ADD COLUMN last_success_at timestamptz`,
    `ALTER TABLE $S.jobs ADD COLUMN last_failure_at timestamptz`,
    // ... as far as the runs kept say, for the runs finished before.
    `UPDATE $S.jobs j SET last_success_at = r.ok_at, last_failure_at = r.failed_at
      FROM (SELECT job_id,
          max(ended_at) FILTER (WHERE status = 'complete') AS ok_at,
          max(ended_at) FILTER (WHERE status = 'failed') AS failed_at
        FROM $S.runs WHERE NOT running GROUP BY job_id) r
      WHERE j.id = r.job_id`,
  ],
];

/**
 * The schema version this code creates and knows.
 *
 * @example
 * ```ts
 * if (stored > SCHEMA_VERSION) throw new Error("schema too new");
 * ```
 */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * The statements that create the schema and its version table, before any migration.
 *
 * @example
 * ```ts
 * for (const sql of bootstrap("jobpro")) await client.query(sql);
 * ```
 */
export function bootstrap(schema: string): string[] {
  return [
    `CREATE SCHEMA IF NOT EXISTS ${schema}`,
    `CREATE TABLE IF NOT EXISTS ${schema}.schema_version (
      id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL,
      migrated_at timestamptz NOT NULL DEFAULT now())`,
  ];
}

/**
 * The statements that take the schema from version `from` to {@link SCHEMA_VERSION}.
 *
 * @example
 * ```ts
 * for (const sql of migrationsFrom("jobpro", 0)) await client.query(sql);
 * ```
 */
export function migrationsFrom(
  schema: string,
  from: number,
  to: number = SCHEMA_VERSION,
): string[] {
  return MIGRATIONS.slice(from, to).flat().map((s) =>
    s.replaceAll("$S", schema)
  );
}

/** A connection that runs statements (postgres_store.ts lends one). */
export interface Queryable {
  query(text: string, params?: unknown[]): Promise<{ rows: Row[] }>;
}

/**
 * Creates the schema or migrates it to {@link SCHEMA_VERSION} in one
 * transaction, one process at a time (an advisory lock of the schema's);
 * refuses a server older than 13 and a schema newer than this code knows.
 * On failure the caller rolls the transaction back.
 *
 * @example
 * ```ts
 * await migrateSchema(client, "jobpro");
 * ```
 */
export async function migrateSchema(
  c: Queryable,
  schema: string,
): Promise<void> {
  const sql = statementsFor(schema);
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
}

/** A job's columns as the engine reads them. */
export const JOB_FIELDS = `id, name, type, schedule, timezone, action,
  timeout_ms::float8 AS timeout_ms, retries, retry_delay_ms::float8 AS retry_delay_ms,
  overlap, catch_up, auto_start, status, version::float8 AS version,
  ${ms("next_run_at")} AS next_run_at, ${ms("created_at")} AS created_at,
  ${ms("updated_at")} AS updated_at,
  run_count::float8 AS run_count, success_count::float8 AS success_count, last_run,
  tags, notify, concurrency_key, description,
  ${ms("last_success_at")} AS last_success_at,
  ${ms("last_failure_at")} AS last_failure_at,
  on_success, on_failure`;

/** A run's columns as the engine reads them (output aside). */
export const RUN_FIELDS = `id::float8 AS id, job_id, trigger, attempt,
  ${ms("scheduled_for")} AS scheduled_for, ${ms("started_at")} AS started_at,
  ${ms("ended_at")} AS ended_at, duration_ms::float8 AS duration_ms,
  status, message, error, parent_job_id,
  parent_run_id::float8 AS parent_run_id`;

/** A delivery's columns as the engine reads them (rows.ts `toDelivery`). */
const DELIVERY_FIELDS = `id, job_id, run_id::float8 AS run_id, event, target,
  payload, status, attempts, error, ${ms("created_at")} AS created_at,
  ${ms("next_attempt_at")} AS next_attempt_at, ${ms("sent_at")} AS sent_at`;

/**
 * The rows of the JSON array in parameter $1, as `alias`: limited to the
 * array's length, which tells the planner how many there are (in a custom
 * plan the limit is a constant). `json_to_recordset` alone is planned as
 * 100 rows, and a batch of a few runs then read the whole jobs table, once
 * per join with it (about 1.3 ms per scan with 2,000 jobs, growing with
 * every job), where a nested loop over the jobs' index reads a few pages.
 */
const jsonRows = (alias: string, columns: string) =>
  `(SELECT * FROM json_to_recordset($1::json) AS ${alias}(${columns})
    LIMIT json_array_length($1::json)) AS ${alias}`;

/** A batch's puts, as {@link putsJson} sends them. */
const PUT_INPUT = jsonRows(
  "p",
  `id text, name text,
  type text, schedule text, timezone text, action text, timeout_ms bigint,
  retries integer, retry_delay_ms bigint, overlap text, catch_up text,
  auto_start boolean, status text, next_run_at bigint, created_at bigint,
  updated_at bigint, version bigint, tags text[], notify text,
  concurrency_key text, description text, on_success text[], on_failure text[], expected bigint, owner bigint,
  check_next boolean, expected_next bigint`,
);

/** A batch's runs, as {@link runsJson} sends them. */
const RUN_INPUT = jsonRows(
  "r",
  `id bigint, job_id text,
  trigger text, attempt integer, scheduled_for bigint, started_at bigint,
  ended_at bigint, duration_ms bigint, status text, message text, error text,
  output text, summary text, parent_job_id text, parent_run_id bigint`,
);

const RUN_VALUES = `r.id, r.job_id, r.trigger, r.attempt, ${
  ts("r.scheduled_for")
}, ${ts("r.started_at")}, ${ts("r.ended_at")}, r.duration_ms, r.status,
  r.message, r.error, r.output, r.parent_job_id, r.parent_run_id`;

const RUN_COLUMNS = `id, job_id, trigger, attempt, scheduled_for, started_at,
  ended_at, duration_ms, status, message, error, output, parent_job_id,
  parent_run_id, running`;

/** A batch's alerts, as {@link deliveriesJson} sends them. */
const DELIVERY_INPUT = jsonRows(
  "d",
  `id text, job_id text, run_id bigint,
  event text, target text, payload text, status text, attempts integer,
  error text, created_at bigint, next_attempt_at bigint, sent_at bigint`,
);

/** A batch's chain triggers, as {@link triggersJson} sends them. */
const TRIGGER_INPUT = jsonRows(
  "t",
  `parent_run_id bigint, job_id text,
  parent_job_id text, outcome text, created_at bigint`,
);

/**
 * Whether a status change `x` (its job_id, status, updated_at and version
 * columns) applies to the job row `j`: unfenced (the epoch param null)
 * always; fenced, while the epoch owns the job and the job is still at the
 * version the status was reached from.
 */
const STATUS_APPLIES = (x: string, epoch: string) =>
  `(${epoch}::bigint IS NULL OR (j.owner_epoch = ${epoch}::bigint
    AND (${x}.version IS NULL OR j.version = ${x}.version)))`;

/**
 * The SET of a status change `x` that rides with another write of the job
 * row (a claim, a finish): the row keeps its status where `x` has none (or
 * does not apply).
 */
const STATUS_SET = (x: string, epoch: string) => {
  const applies = `${x}.status IS NOT NULL AND ${STATUS_APPLIES(x, epoch)}`;
  return `status = CASE WHEN ${applies} THEN ${x}.status ELSE j.status END,
    updated_at = CASE WHEN ${applies} THEN ${
    ts(`${x}.updated_at`)
  } ELSE j.updated_at END`;
};

/**
 * A finish leaves `running` once (a run already finished, or recovered
 * as interrupted, is not counted again), and its job's counters move by
 * what this statement finished: deltas, whatever the process remembers;
 * a finish that changed nothing leaves the job's last run alone too.
 * Fenced by epoch $2, a run whose start was never recorded gets the
 * epoch, unless another run holds its tick's key (then it stays unkeyed
 * rather than fail the batch). A finish of a job deleted meanwhile (in
 * an earlier batch: no row) records nothing, or a job created again
 * under the id would show the run. The job's last run is the summary
 * its newest run carries, joined on the run id (a scan of the input
 * per job was quadratic: 0.3 s for a batch of 1,000). A status ($3-$6)
 * of a job a run ended is set in the same row write, as {@link statuses}
 * would set it; the jobs written are returned.
 */
const finishedStatement = (s: string) =>
  `WITH input AS (SELECT * FROM ${RUN_INPUT}),
    ended AS (
      INSERT INTO ${s}.runs AS x (${RUN_COLUMNS}, node_epoch)
      SELECT ${RUN_VALUES}, false, CASE WHEN $2::bigint IS NULL THEN NULL
        WHEN r.scheduled_for IS NOT NULL AND EXISTS (SELECT 1 FROM ${s}.runs y
          WHERE y.job_id = r.job_id AND y.trigger = r.trigger
            AND y.scheduled_for = ${ts("r.scheduled_for")}
            AND y.attempt = r.attempt AND y.node_epoch IS NOT NULL
            AND y.id <> r.id) THEN NULL
        ELSE $2::bigint END
      FROM input AS r
      WHERE EXISTS (SELECT 1 FROM ${s}.jobs j WHERE j.id = r.job_id)
      ON CONFLICT (id) DO UPDATE SET trigger = excluded.trigger,
        attempt = excluded.attempt, scheduled_for = excluded.scheduled_for,
        started_at = excluded.started_at, ended_at = excluded.ended_at,
        duration_ms = excluded.duration_ms, status = excluded.status,
        message = excluded.message, error = excluded.error,
        output = excluded.output, running = false
      WHERE x.running AND x.job_id = excluded.job_id
      RETURNING x.id, x.job_id, x.status, x.ended_at),
    counts AS (SELECT e.job_id, count(*) AS n,
        count(*) FILTER (WHERE e.status = 'complete') AS ok,
        max(e.ended_at) FILTER (WHERE e.status = 'complete') AS ok_at,
        max(e.ended_at) FILTER (WHERE e.status = 'failed') AS failed_at,
        max(i.summary) AS summary
      FROM ended e JOIN input i ON i.id = e.id GROUP BY e.job_id)
    UPDATE ${s}.jobs j SET run_count = j.run_count + c.n,
      success_count = j.success_count + c.ok,
      last_success_at = greatest(j.last_success_at, c.ok_at),
      last_failure_at = greatest(j.last_failure_at, c.failed_at),
      last_run = coalesce(c.summary, j.last_run), ${STATUS_SET("x", "$2")}
    FROM counts c LEFT JOIN unnest($3::text[], $4::text[], $5::bigint[],
      $6::bigint[]) AS x(job_id, status, updated_at, version)
      ON x.job_id = c.job_id
    WHERE j.id = c.job_id RETURNING j.id`;

/**
 * The statements a batch writes with (see {@link statementsFor}).
 *
 * @example
 * ```ts
 * const { claim } = batchStatements("jobpro");
 * ```
 */
export function batchStatements(s: string) {
  return {
    // Every job row a batch will change, locked in id order first: two
    // batches touching the same jobs then queue, and never deadlock (which
    // would cost a second of deadlock_timeout and a retry).
    lockJobs: `SELECT id FROM ${s}.jobs WHERE id = ANY($1::text[])
      ORDER BY id FOR UPDATE`,
    // Versioned deletes, with all the deleted jobs' runs.
    deleteJobs: `WITH d AS (
        DELETE FROM ${s}.jobs j USING unnest($1::text[], $2::bigint[]) AS x(id, expected)
        WHERE j.id = x.id AND j.version = x.expected RETURNING j.id),
      r AS (DELETE FROM ${s}.runs WHERE job_id IN (SELECT id FROM d)),
      t AS (DELETE FROM ${s}.chain_triggers WHERE job_id IN (SELECT id FROM d)),
      n AS (DELETE FROM ${s}.deliveries WHERE job_id IN (SELECT id FROM d))
      SELECT id FROM d`,
    // The compare-and-set of next_run_at. Under READ COMMITTED a claimant
    // that waited for another's row lock re-checks the condition on the row
    // the other committed, so of two claimants of one tick exactly one wins.
    // Fenced by an epoch ($4; null: not fenced), only the owner's claim can win.
    // A claimed job's status ($5-$7, null: none) is set in the same row
    // write when its claim wins, as {@link statuses} would set it.
    claim: `UPDATE ${s}.jobs j SET next_run_at = ${ts("c.next")},
        ${STATUS_SET("c", "$4")}
      FROM unnest($1::text[], $2::bigint[], $3::bigint[], $5::text[],
        $6::bigint[], $7::bigint[]) AS c(job_id, tick, next, status, updated_at, version)
      WHERE j.id = c.job_id AND j.next_run_at IS NOT DISTINCT FROM ${
      ts("c.tick")
    }
        AND ($4::bigint IS NULL OR j.owner_epoch = $4::bigint)
      RETURNING j.id`,
    statuses: `UPDATE ${s}.jobs j SET status = x.status, updated_at = ${
      ts("x.updated_at")
    }
      FROM unnest($1::text[], $2::text[], $3::bigint[], $5::bigint[])
        AS x(job_id, status, updated_at, version)
      WHERE j.id = x.job_id AND ${STATUS_APPLIES("x", "$4")}`,
    // A create where no job has the id; counters start at zero.
    createJobs:
      `INSERT INTO ${s}.jobs (id, on_success, on_failure, name, type, schedule, timezone, action,
        timeout_ms, retries, retry_delay_ms, overlap, catch_up, auto_start, status,
        next_run_at, created_at, updated_at, version, owner_epoch, tags, notify,
        concurrency_key, description)
      SELECT p.id, coalesce(p.on_success, '{}'), coalesce(p.on_failure, '{}'),
        p.name, p.type, p.schedule, p.timezone, p.action, p.timeout_ms,
        p.retries, p.retry_delay_ms, p.overlap, p.catch_up, p.auto_start, p.status,
        ${ts("p.next_run_at")}, ${ts("p.created_at")}, ${ts("p.updated_at")},
        p.version, p.owner, p.tags, coalesce(p.notify, '[]'), p.concurrency_key,
        p.description
      FROM ${PUT_INPUT} WHERE p.expected IS NULL
      ON CONFLICT (id) DO NOTHING RETURNING id`,
    // An update where the stored version is the one planned from (and,
    // fenced, next_run_at the one planned from: another node's claim may
    // have moved it); the counters are the database's, never overwritten.
    updateJobs: `UPDATE ${s}.jobs j SET
        on_success = coalesce(p.on_success, '{}'),
        on_failure = coalesce(p.on_failure, '{}'), name = p.name, type = p.type,
        schedule = p.schedule, timezone = p.timezone, action = p.action,
        timeout_ms = p.timeout_ms, retries = p.retries,
        retry_delay_ms = p.retry_delay_ms, overlap = p.overlap,
        catch_up = p.catch_up, auto_start = p.auto_start, status = p.status,
        next_run_at = ${ts("p.next_run_at")}, updated_at = ${
      ts("p.updated_at")
    },
        version = p.version, tags = p.tags, notify = coalesce(p.notify, '[]'),
        concurrency_key = p.concurrency_key, description = p.description
      FROM ${PUT_INPUT}
      WHERE j.id = p.id AND p.expected IS NOT NULL AND j.version = p.expected
        AND (p.check_next IS NOT TRUE
          OR j.next_run_at IS NOT DISTINCT FROM ${ts("p.expected_next")})
      RETURNING j.id`,
    // Only of a job still stored (one deleted in an earlier batch keeps none).
    started: `INSERT INTO ${s}.runs (${RUN_COLUMNS})
      SELECT ${RUN_VALUES}, true FROM ${RUN_INPUT}
      WHERE EXISTS (SELECT 1 FROM ${s}.jobs j WHERE j.id = r.job_id)
      ON CONFLICT (id) DO NOTHING`,
    // Fenced by epoch $2: a run is recorded only for a job the epoch owns
    // (a manual run or a ping's: any job), with its epoch (a ping's: none, it
    // goes on elsewhere and no reaper ends it), never twice for a tick or id.
    startedFenced: `INSERT INTO ${s}.runs (${RUN_COLUMNS}, node_epoch)
      SELECT ${RUN_VALUES}, true, CASE r.trigger WHEN 'ping' THEN NULL ELSE $2::bigint END FROM ${RUN_INPUT}
      WHERE EXISTS (SELECT 1 FROM ${s}.jobs j WHERE j.id = r.job_id
        AND (r.trigger IN ('manual', 'ping') OR j.owner_epoch = $2::bigint))
      ON CONFLICT DO NOTHING RETURNING id`,
    finished: finishedStatement(s),
    // A batch's alerts: an id stored already stays as it is (dedupe), and
    // a job deleted meanwhile (no row) gets none.
    deliveries: `INSERT INTO ${s}.deliveries (id, job_id, run_id, event, target,
        payload, status, attempts, error, created_at, next_attempt_at, sent_at)
      SELECT d.id, d.job_id, d.run_id, d.event, d.target, d.payload, d.status,
        d.attempts, d.error, ${ts("d.created_at")}, ${ts("d.next_attempt_at")},
        ${ts("d.sent_at")}
      FROM ${DELIVERY_INPUT}
      WHERE EXISTS (SELECT 1 FROM ${s}.jobs j WHERE j.id = d.job_id)
      ON CONFLICT (id) DO NOTHING`,
    // The batch's event numbers, taken from the counter row (locked to
    // commit), announced to every listener at commit with the last of them.
    events: `WITH n AS (
        UPDATE ${s}.event_seq SET last_seq = last_seq + $4::bigint WHERE id = 1
        RETURNING last_seq - $4::bigint AS base),
      ins AS (INSERT INTO ${s}.events (seq, logged_at, type, job_id, run_id)
        SELECT n.base + e.ord, ${ts("$5::bigint")}, e.type, e.job_id, e.run_id
        FROM n, unnest($1::text[], $2::text[], $3::bigint[]) WITH ORDINALITY
          AS e(type, job_id, run_id, ord))
      SELECT (base + 1)::float8 AS first,
        pg_notify('${channelFor(s)}', (base + $4::bigint)::text) FROM n`,
  };
}

/**
 * Runs' output so far (live_output.ts), into the rows still running; fenced
 * by epoch $3, only those of runs this node started.
 *
 * @example
 * ```ts
 * await client.query(writeOutputs("jobpro"), [ids, texts, epoch]);
 * ```
 */
export const writeOutputs = (s: string) =>
  `UPDATE ${s}.runs r SET output = x.output
  FROM unnest($1::bigint[], $2::text[]) AS x(id, output)
  WHERE r.id = x.id AND r.running
    AND ($3::bigint IS NULL OR r.node_epoch = $3::bigint)`;

/**
 * The statements of job chains (chains.ts): a batch's triggers and their
 * consumption, the pending ones, and the pruning of consumed ones.
 *
 * @example
 * ```ts
 * const { chainConsume } = chainStatements("jobpro");
 * ```
 */
export function chainStatements(s: string) {
  return {
    // A batch's chain triggers: a key stored already stays as it is, and a
    // child or parent deleted meanwhile (no row) gets none.
    chainTriggers: `INSERT INTO ${s}.chain_triggers (parent_run_id, job_id,
        parent_job_id, outcome, created_at)
      SELECT t.parent_run_id, t.job_id, t.parent_job_id, t.outcome,
        ${ts("t.created_at")}
      FROM ${TRIGGER_INPUT}
      WHERE EXISTS (SELECT 1 FROM ${s}.jobs j WHERE j.id = t.job_id)
        AND EXISTS (SELECT 1 FROM ${s}.jobs j WHERE j.id = t.parent_job_id)
      ON CONFLICT DO NOTHING`,
    // Consumes pending triggers (a compare-and-set: of two nodes, the second
    // finds it consumed); fenced by epoch $6, only those of jobs it owns
    // (or of none left).
    chainConsume: `UPDATE ${s}.chain_triggers t
      SET consumed_at = ${ts("c.at")}, run_id = c.run_id, note = c.note
      FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[],
        $5::text[]) AS c(parent_run_id, job_id, at, run_id, note)
      WHERE t.parent_run_id = c.parent_run_id AND t.job_id = c.job_id
        AND t.consumed_at IS NULL
        AND ($6::bigint IS NULL OR NOT EXISTS (SELECT 1 FROM ${s}.jobs j
          WHERE j.id = t.job_id AND j.owner_epoch IS DISTINCT FROM $6::bigint))
      RETURNING t.parent_run_id::float8 AS parent_run_id, t.job_id`,
    pendingTriggers: `SELECT parent_run_id::float8 AS parent_run_id, job_id,
        parent_job_id, outcome, ${ms("created_at")} AS created_at
      FROM ${s}.chain_triggers WHERE consumed_at IS NULL
      ORDER BY created_at, parent_run_id, job_id LIMIT $1`,
    pruneTriggers: `DELETE FROM ${s}.chain_triggers
      WHERE consumed_at IS NOT NULL AND created_at < ${ts("$1::bigint")}`,
  };
}

/**
 * Every statement the store runs, with the schema filled in.
 *
 * @example
 * ```ts
 * const sql = statementsFor("jobpro");
 * ```
 */
export function statementsFor(s: string) {
  return {
    version: `SELECT version FROM ${s}.schema_version WHERE id = 1`,
    setVersion: `INSERT INTO ${s}.schema_version (id, version) VALUES (1, $1)
      ON CONFLICT (id) DO UPDATE SET version = $1, migrated_at = now()`,
    ...batchStatements(s),
    ...chainStatements(s),
    outputs: writeOutputs(s),
    nextSeq: `SELECT (last_seq + 1)::float8 AS first FROM ${s}.event_seq`,
    lastSeq: `SELECT last_seq::float8 AS seq FROM ${s}.event_seq`,
    // $1 (a fenced store): only runs no node started; the others are the reaper's.
    // Queued runs are not going: they wait on (queuedRuns). A ping's run
    // goes on elsewhere while its job is a heartbeat job (ping.ts).
    running: `SELECT ${RUN_FIELDS}, output FROM ${s}.runs
      WHERE running AND status <> 'queued'
        AND (trigger <> 'ping' OR NOT EXISTS (SELECT 1 FROM ${s}.jobs j
          WHERE j.id = runs.job_id AND j.action::jsonb ->> 'type' = 'heartbeat'))
        AND (NOT $1::boolean OR node_epoch IS NULL)
      ORDER BY id FOR UPDATE`,
    loadJobs: `SELECT ${JOB_FIELDS}, created_at::text AS page_key FROM ${s}.jobs
      WHERE $1::timestamptz IS NULL OR (created_at, id) > ($1::timestamptz, $2::text)
      ORDER BY created_at, id LIMIT $3`,
    // Above the blocks the nodes reserved too, used or not.
    maxRunId: `SELECT greatest((SELECT coalesce(max(id), 0) FROM ${s}.runs),
        (SELECT CASE WHEN is_called THEN last_value + ${
      RUN_ID_BLOCK - 1
    } ELSE 0 END
          FROM ${s}.run_ids))::float8 AS m`,
    // One statement: the page and its total come from one snapshot.
    listRuns: `SELECT (SELECT count(*) FROM ${s}.runs
        WHERE job_id = $1 AND ($2::text IS NULL OR status = $2))::float8 AS total, p.*
      FROM (SELECT 1) AS one LEFT JOIN LATERAL (
        SELECT ${RUN_FIELDS}, n.name AS node FROM ${s}.runs r
          LEFT JOIN ${s}.nodes n ON n.epoch = r.node_epoch
        WHERE r.job_id = $1 AND ($2::text IS NULL OR r.status = $2)
        ORDER BY r.id DESC LIMIT $3 OFFSET $4) AS p ON true`,
    // The node that started each run by its epoch (null: none fenced it).
    getRun: `SELECT ${RUN_FIELDS}, output, n.name AS node FROM ${s}.runs r
        LEFT JOIN ${s}.nodes n ON n.epoch = r.node_epoch
      WHERE r.job_id = $1 AND r.id = $2`,
    stats: `SELECT count(*)::float8 AS runs,
        (100.0 * count(*) FILTER (WHERE status = 'complete')
          / nullif(count(*), 0))::float8 AS success_rate,
        avg(duration_ms)::float8 AS avg_ms,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50,
        percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95,
        ${ms("max(started_at)")} AS last_run,
        ${
      ms("max(started_at) FILTER (WHERE status = 'failed')")
    } AS last_failure
      FROM ${s}.runs WHERE job_id = $1 AND NOT running`,
    // One statement, one snapshot: the counter, the oldest kept, the page.
    eventsSince: `SELECT (SELECT last_seq FROM ${s}.event_seq)::float8 AS last,
        (SELECT min(seq) FROM ${s}.events)::float8 AS oldest, e.*
      FROM (SELECT 1) AS one LEFT JOIN LATERAL (
        SELECT seq::float8 AS seq, ${ms("logged_at")} AS at, type, job_id,
          run_id::float8 AS run_id
        FROM ${s}.events WHERE seq > $1 ORDER BY seq LIMIT $2) AS e ON true`,
    pruneEvents: `DELETE FROM ${s}.events
      WHERE seq <= (SELECT last_seq FROM ${s}.event_seq) - $1`,
    pruneOld: `DELETE FROM ${s}.runs WHERE id IN (
      SELECT id FROM ${s}.runs WHERE NOT running AND started_at < ${
      ts("$1::bigint")
    }
      LIMIT $2)`,
    overfull: `SELECT job_id FROM ${s}.runs WHERE NOT running
      GROUP BY job_id HAVING count(*) > $1`,
    pruneJob:
      `DELETE FROM ${s}.runs WHERE job_id = $1 AND NOT running AND id < (
      SELECT id FROM ${s}.runs WHERE job_id = $1 AND NOT running
      ORDER BY id DESC LIMIT 1 OFFSET $2)`,
    // Due deliveries whose claim lapsed ($1: now), claimed until $2 by one
    // node: rows another node is claiming are skipped, not waited for.
    claimDeliveries: `UPDATE ${s}.deliveries d
      SET attempts = d.attempts + 1, claimed_until = ${ts("$2::bigint")}
      WHERE d.id IN (SELECT id FROM ${s}.deliveries
        WHERE status = 'pending' AND next_attempt_at <= ${ts("$1::bigint")}
          AND (claimed_until IS NULL OR claimed_until <= ${ts("$1::bigint")})
        ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
      RETURNING ${DELIVERY_FIELDS}`,
    // An attempt's outcome, only while no one claimed the delivery since.
    settleDelivery: `UPDATE ${s}.deliveries SET status = $3, error = $4,
        next_attempt_at = coalesce(${ts("$5::bigint")}, next_attempt_at),
        sent_at = ${ts("$6::bigint")}, claimed_until = NULL
      WHERE id = $1 AND attempts = $2 RETURNING id`,
    // A heartbeat job's last ping (heartbeat.ts), among its runs a ping
    // recorded (runs_pings finds them): a start, or a success or fail ping
    // ending one (an expired start's end is no ping; ping.ts's messages).
    lastPing: `SELECT ${
      ms(`max(greatest(started_at, CASE WHEN ${PINGED_END} THEN ended_at END))`)
    } AS at FROM ${s}.runs WHERE job_id = $1 AND trigger = 'ping'`,
    listDeliveries: `SELECT ${DELIVERY_FIELDS} FROM ${s}.deliveries
      WHERE job_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`,
    pruneDeliveries: `DELETE FROM ${s}.deliveries
      WHERE status <> 'pending' AND created_at < ${ts("$1::bigint")}`,
    // Nodes that left before the runs' retention and that no run or job
    // names any more (a run's page shows its node's name while it is kept).
    pruneNodes: `DELETE FROM ${s}.nodes n
      WHERE n.left_at < ${ts("$1::bigint")}
        AND NOT EXISTS (SELECT 1 FROM ${s}.runs r WHERE r.node_epoch = n.epoch)
        AND NOT EXISTS (SELECT 1 FROM ${s}.jobs j WHERE j.owner_epoch = n.epoch)`,
    probe: `INSERT INTO ${s}.write_probe VALUES (1, now())
      ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at`,
  };
}

/**
 * The statements of one schema.
 *
 * @example
 * ```ts
 * const sql: Statements = statementsFor("jobpro");
 * ```
 */
export type Statements = ReturnType<typeof statementsFor>;

/**
 * A time as sent: whole milliseconds (a NaN stays NaN, so the database
 * refuses it and the batch fails whole).
 */
const t = (v: number | null) => v === null ? null : Math.round(v);

/**
 * Parameters of {@link Statements.deleteJobs}.
 *
 * @example
 * ```ts
 * await client.query(sql.deleteJobs, deleteParams([{ id: "a", expected: 3 }]));
 * ```
 */
export const deleteParams = (ds: Delete[]) => [
  ds.map((d) => d.id),
  ds.map((d) => d.expected),
];

/**
 * Parameters of {@link Statements.claim}; `statuses`: the claimed jobs'
 * status changes, by job id, set with their claims.
 *
 * @example
 * ```ts
 * await client.query(sql.claim, claimParams([{ jobId: "a", tick: 60_000, next: 120_000 }]));
 * ```
 */
export const claimParams = (
  cs: Claim[],
  epoch: number | null = null,
  statuses: ReadonlyMap<string, StatusChange> = new Map(),
) => {
  const of = cs.map((c) => statuses.get(c.jobId));
  return [
    cs.map((c) => c.jobId),
    cs.map((c) => t(c.tick)),
    cs.map((c) => t(c.next)),
    epoch,
    ...riders(of),
  ];
};

/** The status columns of changes riding with another write (null where a row has none). */
const riders = (of: (StatusChange | undefined)[]) => [
  of.map((s) => s?.status ?? null),
  of.map((s) => s ? t(s.updatedAt) : null),
  of.map((s) => s?.version ?? null),
];

/**
 * Parameters of {@link Statements.finished}; `statuses`: changes of the
 * finishing runs' jobs, set with their counters.
 *
 * @example
 * ```ts
 * await client.query(sql.finished, finishedParams(batch.finished, null));
 * ```
 */
export const finishedParams = (
  runs: Run[],
  epoch: number | null,
  statuses: StatusChange[] = [],
) => [
  runsJson(runs),
  epoch,
  statuses.map((s) => s.jobId),
  ...riders(statuses),
];

/**
 * Parameters of {@link Statements.statuses}.
 *
 * @example
 * ```ts
 * await client.query(sql.statuses, statusParams([{ jobId: "a", status: "running", updatedAt: Date.now() }]));
 * ```
 */
export const statusParams = (
  ss: StatusChange[],
  epoch: number | null = null,
) => [
  ss.map((s) => s.jobId),
  ss.map((s) => s.status),
  ss.map((s) => t(s.updatedAt)),
  epoch,
  // Fenced, a status reached from an older version than stored (another
  // node's operation came in between) is not applied.
  ss.map((s) => s.version ?? null),
];

/**
 * Rows of a batch travel as one JSON document per statement: cheaper to
 * make and to read than an array per column. JSON has no NaN (it would
 * become null), so a time that is no time is refused here, failing the batch.
 */
function time(v: number | null, what: string): number | null {
  if (v === null) return null;
  if (!Number.isFinite(v)) throw new Error(`${what} is not a time: ${v}`);
  return Math.round(v);
}

/**
 * The parameter of the puts' statements; `fenced`: an update's
 * `expectedNext`, when given, is checked too.
 *
 * @example
 * ```ts
 * await client.query(sql.createJobs, [putsJson([{ job, expected: null }])]);
 * ```
 */
export function putsJson(puts: Put[], fenced = false): string {
  return JSON.stringify(
    puts.map(({ job: j, expected, owner, expectedNext }) => ({
      id: j.id,
      name: j.name,
      type: j.type,
      schedule: j.schedule,
      timezone: j.timezone,
      action: JSON.stringify(j.action),
      timeout_ms: j.timeoutMs,
      retries: j.retries,
      retry_delay_ms: j.retryDelayMs,
      overlap: j.overlap,
      catch_up: j.catchUp,
      auto_start: j.autoStart,
      status: j.status,
      next_run_at: time(j.nextRunAt, `job ${j.id}: nextRunAt`),
      created_at: time(j.createdAt, `job ${j.id}: createdAt`),
      updated_at: time(j.updatedAt, `job ${j.id}: updatedAt`),
      version: j.version,
      tags: j.tags,
      notify: JSON.stringify(j.notify ?? []),
      on_success: j.onSuccess ?? [],
      on_failure: j.onFailure ?? [],
      concurrency_key: j.concurrencyKey ?? null,
      description: j.description ?? null,
      expected,
      owner: owner ?? null,
      check_next: fenced && expectedNext !== undefined,
      expected_next: expectedNext === undefined
        ? null
        : time(expectedNext, `job ${j.id}: expectedNext`),
    })),
  );
}

/**
 * The parameter of the runs' statements; each job's newest run carries its
 * summary (the job's `last_run` once it is finished).
 *
 * @example
 * ```ts
 * await client.query(sql.finished, [runsJson(batch.finished)]);
 * ```
 */
export function runsJson(runs: Run[]): string {
  const newest = new Map<string, Run>();
  for (const r of runs) {
    if ((newest.get(r.jobId)?.id ?? -Infinity) < r.id) newest.set(r.jobId, r);
  }
  return JSON.stringify(runs.map((r) => ({
    id: r.id,
    job_id: r.jobId,
    trigger: r.trigger,
    attempt: r.attempt,
    scheduled_for: time(r.scheduledFor, `run ${r.id}: scheduledFor`),
    started_at: time(r.startedAt, `run ${r.id}: startedAt`),
    ended_at: time(r.endedAt, `run ${r.id}: endedAt`),
    duration_ms: time(r.durationMs, `run ${r.id}: durationMs`),
    status: r.status,
    message: r.message,
    error: r.error,
    output: r.output,
    summary: newest.get(r.jobId) === r ? JSON.stringify(summarize(r)) : null,
    parent_job_id: r.parentJobId ?? null,
    parent_run_id: r.parentRunId ?? null,
  })));
}

/**
 * Parameters of {@link Statements.events}.
 *
 * @example
 * ```ts
 * await client.query(sql.events, eventParams([{ type: "job-update", jobId: "a" }], Date.now()));
 * ```
 */
export const eventParams = (events: LoggedEvent[], at: number) => [
  events.map(eventTypeText),
  events.map((e) => e.jobId),
  events.map((e) => "runId" in e ? e.runId : null),
  events.length,
  t(at),
];

/**
 * The parameter of {@link Statements.deliveries}.
 *
 * @example
 * ```ts
 * await client.query(sql.deliveries, [deliveriesJson(batch.deliveries)]);
 * ```
 */
export function deliveriesJson(ds: Delivery[]): string {
  return JSON.stringify(ds.map((d) => ({
    id: d.id,
    job_id: d.jobId,
    run_id: d.runId,
    event: d.event,
    target: d.target,
    payload: d.payload,
    status: d.status,
    attempts: d.attempts,
    error: d.error,
    created_at: time(d.createdAt, `delivery ${d.id}: createdAt`),
    next_attempt_at: time(d.nextAttemptAt, `delivery ${d.id}: nextAttemptAt`),
    sent_at: time(d.sentAt, `delivery ${d.id}: sentAt`),
  })));
}

/**
 * The parameter of {@link Statements.chainTriggers}.
 *
 * @example
 * ```ts
 * await client.query(sql.chainTriggers, [triggersJson(batch.triggers)]);
 * ```
 */
export function triggersJson(ts: ChainTrigger[]): string {
  return JSON.stringify(ts.map((t) => ({
    parent_run_id: t.parentRunId,
    job_id: t.jobId,
    parent_job_id: t.parentJobId,
    outcome: t.on,
    created_at: time(t.createdAt, `trigger ${t.parentRunId}: createdAt`),
  })));
}

/**
 * Parameters of {@link Statements.chainConsume}.
 *
 * @example
 * ```ts
 * await client.query(sql.chainConsume, chainParams(batch.chained, epoch));
 * ```
 */
export const chainParams = (cs: ChainStart[], epoch: number | null) => [
  cs.map((c) => c.parentRunId),
  cs.map((c) => c.jobId),
  cs.map((c) => t(c.at)),
  cs.map((c) => c.runId),
  cs.map((c) => c.note),
  epoch,
];
