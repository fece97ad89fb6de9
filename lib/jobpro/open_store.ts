/**
 * The server's store, wherever JOBPRO_DB puts it: a DuckDB file (the
 * embedded default) or a PostgreSQL database, which one jobpro holds alone
 * (its schema's lock, postgres_lock.ts) until several can share one.
 *
 * @example
 * ```ts
 * const store = await openStore({ kind: "duckdb", path: "./jobs.duckdb" });
 * ```
 * @module
 */
import { openDuckDBStore } from "./duckdb_store.ts";
import { openPostgresStore } from "./postgres_store.ts";
import type { Store } from "./store.ts";

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
  | { kind: "postgres"; url: string; schema: string };

/**
 * Opens the store at `at`: a PostgreSQL one exclusively (refused, saying
 * who holds it, while another jobpro uses that schema).
 *
 * @example
 * ```ts
 * const store = await openStore({ kind: "postgres", url, schema: "jobpro" });
 * ```
 */
export function openStore(at: StoreLocation): Promise<Store> {
  return at.kind === "postgres"
    ? openPostgresStore(at.url, { schema: at.schema, exclusive: true })
    : openDuckDBStore(at.path);
}
