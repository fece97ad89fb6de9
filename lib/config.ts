/**
 * Configuration from the environment, read once at start. Every variable is
 * in the README's configuration table.
 *
 * @example
 * ```ts
 * const config = readConfig(Deno.env.toObject());
 * ```
 * @module
 */

/** Settings for one jobpro process. */
export interface Config {
  port: number;
  host: string;
  /** DuckDB file, or ":memory:". */
  db: string;
  jobsFile: string | null;
  jobsUrl: string | null;
  /** Base URL for the seed's TriggerEndpoint paths. */
  backendUrl: string;
  allowShell: boolean;
  retentionDays: number;
  maxRunsPerJob: number;
  shutdownGraceMs: number;
}

function int(
  env: Record<string, string | undefined>,
  name: string,
  fallback: number,
  min = 0,
): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    throw new Error(`${name} must be an integer >= ${min}, got "${raw}"`);
  }
  return n;
}

const flag = (v: string | undefined) =>
  v === "1" || v === "true" || v === "yes";

/**
 * Reads the configuration; throws naming the variable that is wrong.
 *
 * @example
 * ```ts
 * readConfig({ PORT: "9000" }).port; // 9000
 * ```
 */
export function readConfig(env: Record<string, string | undefined>): Config {
  const port = int(env, "PORT", 8000);
  if (port > 65535) throw new Error(`PORT must be at most 65535, got ${port}`);
  return {
    port,
    host: env.HOST || "127.0.0.1",
    db: env.JOBPRO_DB || "./jobs.duckdb",
    jobsFile: env.JOBPRO_JOBS_FILE || null,
    jobsUrl: env.JOBPRO_JOBS_URL || null,
    backendUrl: env.JOBPRO_BACKEND_URL || "http://localhost:8080",
    allowShell: flag(env.JOBPRO_ALLOW_SHELL),
    retentionDays: int(env, "JOBPRO_RETENTION_DAYS", 7, 1),
    maxRunsPerJob: int(env, "JOBPRO_MAX_RUNS_PER_JOB", 1000, 1),
    shutdownGraceMs: int(env, "JOBPRO_SHUTDOWN_GRACE_MS", 10_000),
  };
}
