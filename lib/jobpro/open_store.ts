/**
 * The server's store, wherever JOBPRO_DB puts it: a DuckDB file (the
 * embedded default, one process), or a PostgreSQL schema that any number of
 * jobpro nodes share as a cluster, each with its lease (lease.ts).
 *
 * @example
 * ```ts
 * const { store } = await openDatabase({ kind: "duckdb", path: "./jobs.duckdb" });
 * ```
 * @module
 */
import { openDuckDBStore } from "./duckdb_store.ts";
import { openPostgresStore } from "./postgres_store.ts";
import type { Store } from "./store.ts";
import { DEFAULT_LEASE_MS, NodeLease } from "./lease.ts";
import { openPostgresMembership } from "./postgres_nodes.ts";

/**
 * Where the store is.
 *
 * @example
 * ```ts
 * const at: StoreLocation = { kind: "postgres", url: "postgres://jobpro@db:5432/jobpro", schema: "jobpro" };
 * ```
 */
export type StoreLocation =
  | { kind: "duckdb"; path: string }
  | {
    kind: "postgres";
    url: string;
    schema: string;
    /** This node's lease (JOBPRO_LEASE_MS). */
    leaseMs?: number;
    /** This node's name (JOBPRO_NODE_NAME). */
    node?: string;
  };

/** A store, and on a database several nodes share, this node's lease on it. */
export interface Database {
  store: Store;
  lease?: NodeLease;
}

/**
 * Opens the database at `at`: a DuckDB file for this process alone, or a
 * PostgreSQL schema as one node of the cluster that shares it (its lease is
 * not started yet: the engine starts it).
 *
 * @example
 * ```ts
 * const { store, lease } = await openDatabase({ kind: "postgres", url, schema: "jobpro" });
 * ```
 */
export async function openDatabase(at: StoreLocation): Promise<Database> {
  if (at.kind === "duckdb") return { store: await openDuckDBStore(at.path) };
  const leaseMs = at.leaseMs ?? DEFAULT_LEASE_MS;
  const store = await openPostgresStore(at.url, { schema: at.schema, leaseMs });
  const membership = openPostgresMembership(at.url, {
    schema: at.schema,
    leaseMs,
  });
  const lease = new NodeLease(membership, {
    name: at.node ?? `${hostname()}:${Deno.pid}`,
    leaseMs,
    ownsMembership: true,
    log: (level, msg) => console.log(`[jobpro] ${level}: ${msg}`),
  });
  return { store, lease };
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "jobpro";
  }
}
