/**
 * The single-node lock of a jobpro schema (lib/jobpro/postgres_lock.ts) as
 * an operator sees it on the server: which session holds it, and how to take
 * it from another session.
 *
 * @example
 * ```ts
 * const pid = await lockHolder(client, "jobpro");
 * await client.query("SELECT pg_terminate_backend($1)", [pid]);
 * ```
 * @module
 */
import { assertEquals } from "@std/assert";
import pg from "pg";
import { lockKeys } from "@/lib/jobpro/postgres_lock.ts";

/**
 * The server process of the one session holding the schema's lock.
 *
 * @example
 * ```ts
 * const pid = await lockHolder(client, "jobpro");
 * ```
 */
export async function lockHolder(
  c: pg.Client,
  schema: string,
): Promise<number> {
  const { rows } = await c.query(
    `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
      AND objsubid = 2 AND classid = $1::bigint::oid AND objid = $2::bigint::oid`,
    lockKeys(schema),
  );
  assertEquals(rows.length, 1, "one session holds the lock");
  return rows[0].pid;
}

/**
 * Takes the schema's lock on `c`, waiting in the server's queue until it is
 * free: the lock is this session's the moment its holder lets go.
 *
 * @example
 * ```ts
 * const stolen = takeLock(thief, "jobpro"); // queued
 * await client.query("SELECT pg_terminate_backend($1)", [pid]);
 * await stolen; // now the thief's
 * ```
 */
export async function takeLock(c: pg.Client, schema: string): Promise<void> {
  await c.query(
    "SELECT pg_advisory_lock($1::int4, $2::int4)",
    lockKeys(schema),
  );
}

/**
 * A client of the server, its errors heard (a terminated session is no crash).
 *
 * @example
 * ```ts
 * const admin = await connected(server.url());
 * ```
 */
export async function connected(url: string): Promise<pg.Client> {
  const c = new pg.Client(url);
  c.on("error", () => {});
  await c.connect();
  return c;
}
