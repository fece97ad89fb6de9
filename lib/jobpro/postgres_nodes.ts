/**
 * Cluster membership on PostgreSQL (the {@link Membership} of lease.ts):
 * the `nodes` table of the store's schema, an epoch per join from a
 * sequence, and leases timed by the database's clock
 * (`clock_timestamp()`). It has a connection of its own, so a renewal never
 * waits behind the store's batches, and no query may take longer than a
 * lease (an answer that late proves nothing).
 *
 * That connection's backend (`pg_backend_pid()`) is recorded in the node's
 * row at the join and at every renewal, so a reaper (postgres_cluster.ts)
 * that finds it gone from `pg_stat_activity` ends the lease at once: the
 * process died (or lost the database). A connection the pool re-established
 * is recorded by the next renewal. The connection is never closed for being
 * idle, which would look like a death.
 *
 * @example
 * ```ts
 * const members = openPostgresMembership(url, { schema: "jobpro", leaseMs: 1500 });
 * const { epoch } = await members.join("node-a", 1500);
 * await members.close();
 * ```
 * @module
 */
import pg from "pg";
import type { Membership, NodeRecord, Stamped } from "./lease.ts";
import { SCHEMA_NAME } from "./postgres_sql.ts";
import { storeError } from "./postgres_store.ts";

/** Settings of {@link openPostgresMembership}. */
export interface MembershipOptions {
  /** The store's schema, where `nodes` lives (migrated by the store). */
  schema?: string;
  /** The lease length: no query may take longer. */
  leaseMs: number;
}

/** Membership with its own connection; close it when the node leaves. */
export interface PostgresMembership extends Membership {
  close(): Promise<void>;
}

const ms = (x: string) => `(extract(epoch FROM ${x}) * 1000)::float8`;

/**
 * Opens membership on the database at `url`; nothing is sent until the
 * first call.
 *
 * @example
 * ```ts
 * const m = openPostgresMembership("postgres://jobpro@db/jobpro", { leaseMs: 1500 });
 * ```
 */
export function openPostgresMembership(
  url: string,
  opts: MembershipOptions,
): PostgresMembership {
  const schema = opts.schema ?? "jobpro";
  if (!SCHEMA_NAME.test(schema)) {
    throw new RangeError(`schema: "${schema}" is not a plain lower-case name`);
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: 1,
    query_timeout: opts.leaseMs,
    connectionTimeoutMillis: opts.leaseMs,
    // Its backend stands for the node: closed only by close().
    idleTimeoutMillis: 0,
    keepAlive: true,
  });
  // A lost connection is a failed renewal, never a crash.
  pool.on("error", () => {});
  pool.on("connect", (c) => c.on("error", () => {}));
  const q = async (sql: string, params: unknown[]) => {
    try {
      return (await pool.query(sql, params)).rows;
    } catch (e) {
      throw storeError(e);
    }
  };
  const S = schema;
  let closing: Promise<void> | undefined;
  return {
    async join(name, leaseMs) {
      const [r] = await q(
        `INSERT INTO ${S}.nodes (epoch, name, joined_at, lease_until, pid)
         VALUES (nextval('${S}.node_epochs'), $1, clock_timestamp(),
           clock_timestamp() + $2 * interval '1 ms', pg_backend_pid())
         RETURNING epoch::float8 AS epoch, ${
          ms("clock_timestamp()")
        } AS db_now`,
        [name, leaseMs],
      );
      return { epoch: r.epoch, dbNow: r.db_now };
    },
    async renew(epoch, leaseMs) {
      const [r] = await q(renewSql(S), [epoch, leaseMs]);
      const live = (r.live as NodeRecord[]).sort((a, b) => a.epoch - b.epoch);
      return { renewed: r.renewed, dbNow: r.db_now, live } as
        & Stamped
        & { renewed: boolean; live: NodeRecord[] };
    },
    async leave(epoch) {
      await q(
        // FOR UPDATE first: a batch of this node still being written (it
        // holds the row FOR KEY SHARE) commits before the node has left.
        `UPDATE ${S}.nodes SET left_at = clock_timestamp(),
           lease_until = least(lease_until, clock_timestamp())
         WHERE epoch IN (SELECT epoch FROM ${S}.nodes
           WHERE epoch = $1 AND left_at IS NULL FOR UPDATE)`,
        [epoch],
      );
    },
    // Twice is once (the lease closes it when it stops, and so may its owner).
    close: () => closing ??= pool.end(),
  };
}

/**
 * One statement: extend the lease if it is still valid (recording this
 * connection's backend, which may be a new one), and list the live members
 * as they are after that (the CTE's update is not visible to the rest of
 * the statement, so the renewed row comes from its RETURNING).
 */
function renewSql(S: string): string {
  return `WITH renewed AS (
      UPDATE ${S}.nodes SET lease_until = clock_timestamp() + $2 * interval '1 ms',
        pid = pg_backend_pid()
      WHERE epoch = $1 AND left_at IS NULL AND lease_until > clock_timestamp()
      RETURNING epoch, name, lease_until),
    live AS (
      SELECT epoch, name, lease_until FROM renewed
      UNION ALL
      SELECT epoch, name, lease_until FROM ${S}.nodes
      WHERE epoch <> $1 AND left_at IS NULL AND lease_until > clock_timestamp())
    SELECT EXISTS (SELECT 1 FROM renewed) AS renewed,
      ${ms("clock_timestamp()")} AS db_now,
      coalesce((SELECT json_agg(json_build_object('epoch', epoch::float8,
        'name', name, 'leaseUntil', ${ms("lease_until")})) FROM live),
        '[]'::json) AS live`;
}
