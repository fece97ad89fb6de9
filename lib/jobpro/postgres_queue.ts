/**
 * The PostgreSQL store's part of concurrency (store.ts `startQueued`,
 * `queuedRuns`, `concurrency`, `setLimits`): queued runs are rows of `runs`
 * in flight (`running`) with status `queued`; a key's limits are rows of
 * `concurrency_limits`. A start of queued runs takes a transaction-scoped
 * advisory lock per key (in key order, so two nodes never deadlock on
 * them), counts the key's runs running and queued ahead, and moves the run
 * in the same transaction: two nodes never start more than a key's limit
 * between them. postgres_store.ts lends each function a connection inside
 * its transaction.
 *
 * @example
 * ```ts
 * const { started } = await startQueuedOn(c, "jobpro", runs, epoch);
 * ```
 * @module
 */
import type { PoolClient } from "pg";
import {
  eventParams,
  ms,
  RUN_FIELDS,
  statementsFor,
  ts,
} from "./postgres_sql.ts";
import { toRun } from "./rows.ts";
import type { Run } from "./run.ts";
import type { KeyUsage, LoggedEvent } from "./store.ts";

/** The statements of one schema. */
function queueStatements(s: string) {
  return {
    // The queued runs asked for, with their key, its limit and when each queued.
    candidates: `SELECT r.id::float8 AS id, r.job_id, j.concurrency_key AS key,
        l.max_runs, ${ms("r.started_at")} AS queued_at
      FROM ${s}.runs r JOIN ${s}.jobs j ON j.id = r.job_id
      LEFT JOIN ${s}.concurrency_limits l ON l.key = j.concurrency_key
      WHERE r.id = ANY($1::bigint[]) AND r.running AND r.status = 'queued'`,
    keyLock: `SELECT pg_advisory_xact_lock(hashtext($1))`,
    // The key's runs holding a slot, or queued ahead of ($2 queued at, $3 id).
    ahead: `SELECT count(*)::float8 AS n FROM ${s}.runs r
      JOIN ${s}.jobs j ON j.id = r.job_id
      WHERE j.concurrency_key = $1 AND r.running AND (r.status = 'running'
        OR (r.status = 'queued' AND (r.started_at, r.id) < (${
      ts("$2::bigint")
    }, $3::bigint)))`,
    // Fenced by $3 (null: not fenced): only a run of a job the epoch owns,
    // or a manual one the epoch queued (the node asked runs it).
    start: `UPDATE ${s}.runs r SET status = 'running',
        started_at = ${ts("$2::bigint")},
        node_epoch = coalesce($3::bigint, r.node_epoch)
      WHERE r.id = $1 AND r.running AND r.status = 'queued'
        AND ($3::bigint IS NULL
          OR (r.trigger = 'manual' AND r.node_epoch = $3::bigint)
          OR EXISTS (SELECT 1 FROM ${s}.jobs j
            WHERE j.id = r.job_id AND j.owner_epoch = $3::bigint))
      RETURNING r.id`,
    queued: `SELECT ${RUN_FIELDS}, output FROM ${s}.runs
      WHERE running AND status = 'queued'
        AND ($1::text[] IS NULL OR job_id = ANY($1::text[]))
      ORDER BY started_at, id`,
    usage: `SELECT l.key, l.max_runs,
        (SELECT count(*) FROM ${s}.runs r JOIN ${s}.jobs j ON j.id = r.job_id
          WHERE j.concurrency_key = l.key AND r.running
            AND r.status = 'running')::float8 AS running,
        (SELECT count(*) FROM ${s}.runs r JOIN ${s}.jobs j ON j.id = r.job_id
          WHERE j.concurrency_key = l.key AND r.running
            AND r.status = 'queued')::float8 AS queued
      FROM ${s}.concurrency_limits l ORDER BY l.key`,
    remove: `DELETE FROM ${s}.concurrency_limits WHERE key = $1`,
    upsert: `INSERT INTO ${s}.concurrency_limits (key, max_runs) VALUES ($1, $2)
      ON CONFLICT (key) DO UPDATE SET max_runs = excluded.max_runs`,
    insertMissing: `INSERT INTO ${s}.concurrency_limits (key, max_runs)
      VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`,
  };
}

const cache = new Map<string, ReturnType<typeof queueStatements>>();
const statements = (s: string) => {
  let q = cache.get(s);
  if (!q) cache.set(s, q = queueStatements(s));
  return q;
};

const batchSql = new Map<string, ReturnType<typeof statementsFor>>();

/** Appends events (numbered from the shared counter); the first one's number. */
async function log(
  c: PoolClient,
  schema: string,
  events: LoggedEvent[],
): Promise<number> {
  let sql = batchSql.get(schema);
  if (!sql) batchSql.set(schema, sql = statementsFor(schema));
  const { rows: [seq] } = events.length
    ? await c.query(sql.events, eventParams(events, Date.now()))
    : await c.query(sql.nextSeq);
  return Number(seq.first);
}

/**
 * Moves queued runs to running, in order, while their keys have room (see
 * store.ts `startQueued`), inside the caller's write transaction.
 */
export async function startQueuedOn(
  c: PoolClient,
  schema: string,
  runs: Run[],
  epoch: number | null,
): Promise<{ started: boolean[]; firstSeq: number }> {
  const q = statements(schema);
  const found = new Map(
    (await c.query(q.candidates, [runs.map((r) => r.id)])).rows.map((
      r,
    ) => [Number(r.id), r]),
  );
  const keys = [
    ...new Set(
      [...found.values()].filter((r) => r.key !== null && r.max_runs !== null)
        .map((r) => String(r.key)),
    ),
  ].sort();
  for (const k of keys) await c.query(q.keyLock, [`jobpro key ${schema}:${k}`]);
  const started: boolean[] = [];
  const events: LoggedEvent[] = [];
  for (const run of runs) {
    const row = found.get(run.id);
    let ok = row !== undefined;
    if (row && row.key !== null && row.max_runs !== null) {
      const { rows: [{ n }] } = await c.query(q.ahead, [
        row.key,
        Math.round(Number(row.queued_at)),
        run.id,
      ]);
      ok = Number(n) < Number(row.max_runs);
    }
    if (ok) {
      const { rows } = await c.query(q.start, [
        run.id,
        Math.round(run.startedAt),
        epoch,
      ]);
      ok = rows.length > 0;
    }
    if (ok) {
      events.push({ type: "run-started", jobId: run.jobId, runId: run.id });
    }
    started.push(ok);
  }
  return { started, firstSeq: await log(c, schema, events) };
}

/** The queued runs of these jobs (all when absent), in the order they queued. */
export async function queuedRunsOn(
  c: Pick<PoolClient, "query">,
  schema: string,
  jobIds?: readonly string[],
): Promise<Run[]> {
  const { rows } = await c.query(statements(schema).queued, [
    jobIds ? [...jobIds] : null,
  ]);
  return rows.map(toRun);
}

/** Every key's limit with its runs in flight. */
export async function usageOn(
  c: Pick<PoolClient, "query">,
  schema: string,
): Promise<KeyUsage[]> {
  const { rows } = await c.query(statements(schema).usage);
  return rows.map((r) => ({
    key: String(r.key),
    limit: Number(r.max_runs),
    running: Number(r.running),
    queued: Number(r.queued),
  }));
}

/** Sets (or removes, null) limits, with a `limits-update` event, inside the caller's transaction. */
export async function setLimitsOn(
  c: PoolClient,
  schema: string,
  limits: Record<string, number | null>,
  onlyMissing: boolean,
): Promise<void> {
  const q = statements(schema);
  for (const [key, n] of Object.entries(limits)) {
    if (n === null) {
      if (!onlyMissing) await c.query(q.remove, [key]);
    } else {
      await c.query(onlyMissing ? q.insertMissing : q.upsert, [key, n]);
    }
  }
  await log(c, schema, [{ type: "limits-update", jobId: "" }]);
}
