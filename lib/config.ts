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
import type { StoreLocation } from "./jobpro/open_store.ts";
import { SCHEMA_NAME } from "./jobpro/postgres_sql.ts";
import { parseSmtpUrl, type SmtpSettings } from "./jobpro/smtp.ts";
import { validateTimezone } from "./jobpro/zones.ts";
import {
  type Limits,
  parseLimitsText,
  parseMaxRuns,
} from "./jobpro/concurrency.ts";

/** Settings for one jobpro process. */
export interface Config {
  port: number;
  host: string;
  /** JOBPRO_DB as given: a DuckDB file, ":memory:", or a PostgreSQL URL. */
  db: string;
  /** The store it names: a DuckDB file, or a PostgreSQL database and schema. */
  database: StoreLocation;
  jobsFile: string | null;
  jobsUrl: string | null;
  /** Base URL for the seed's TriggerEndpoint paths. */
  backendUrl: string;
  allowShell: boolean;
  retentionDays: number;
  maxRunsPerJob: number;
  shutdownGraceMs: number;
  /** Bearer token for every /jobs route; null leaves them open (loopback only, unless insecure). */
  token: string | null;
  /** Bearer token for GET routes and event streams only. */
  readToken: string | null;
  /** Allow listening on a non-loopback address without a token. */
  insecure: boolean;
  /** Largest request body read, in bytes; larger ones are a 413. */
  maxBodyBytes: number;
  /** Largest document `POST /jobs/apply` and a crontab import read, in bytes (JOBPRO_MAX_APPLY_BYTES). */
  maxApplyBytes: number;
  /** Interval of the `: ping` comment on event streams, in ms. */
  sseHeartbeatMs: number;
  /** Bytes an event stream may buffer for a client; past half, events wait and coalesce. */
  sseBufferBytes: number;
  /** A client whose event-stream buffer stays full this long (ms) is dropped. */
  sseStallMs: number;
  /** Open connections at most; null: what the descriptor limit allows. */
  maxConnections: number | null;
  /** A request's headers must arrive within this (ms). */
  headersTimeoutMs: number;
  /** A kept-alive connection without a request is closed after this (ms). */
  idleTimeoutMs: number;
  /** Outbound calls of http actions going at once, at most; more wait their turn. */
  httpMaxConcurrent: number;
  /** Shell actions going at once, at most; more wait their turn. */
  shellMaxConcurrent: number;
  /** An http action's request is abandoned after this (ms), or the job's timeout if shorter. */
  httpTimeoutMs: number;
  /** Host names (besides loopback ones) requests may be addressed to. */
  allowedHosts: string[];
  /** Names of server environment variables shell actions also get. */
  shellEnvPass: string[];
  /** /healthz says unavailable once a commit has been pending this long (ms). */
  healthCommitMs: number;
  /** Alerts (notify.ts): a webhook for every job's failures (JOBPRO_NOTIFY_URL). */
  notifyUrl: string | null;
  /** The SMTP server alert emails go through (JOBPRO_SMTP_URL), with the sender. */
  smtp: SmtpSettings | null;
  /** The base of links in alerts (JOBPRO_PUBLIC_URL); null: the server's own address. */
  publicUrl: string | null;
  /** Waits between an alert's attempts (JOBPRO_NOTIFY_BACKOFF_MS); null: the default. */
  notifyBackoffMs: number[] | null;
  /** How often each node looks for alerts due (JOBPRO_NOTIFY_POLL_MS). */
  notifyPollMs: number;
  /** The IANA zone a job without its own is scheduled in (JOBPRO_TIMEZONE, default "UTC"). */
  timezone: string;
  /** The most runs going at once on this node (JOBPRO_MAX_CONCURRENT_RUNS); null: no cap. */
  maxConcurrentRuns: number | null;
  /** Concurrency limits by key written at start where none is stored (JOBPRO_CONCURRENCY="backups=1,reports=2"). */
  concurrency: Limits;
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min = 0): number {
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

/** Shortest token accepted: shorter ones are guessable. */
export const MIN_TOKEN_LENGTH = 16;

function token(env: Env, name: string): string | null {
  const raw = env[name];
  if (raw === undefined || raw === "") return null;
  if (raw.length < MIN_TOKEN_LENGTH || /\s/.test(raw)) {
    // The value itself is never echoed: it may be a real secret.
    throw new Error(
      `${name} must be at least ${MIN_TOKEN_LENGTH} characters without spaces`,
    );
  }
  return raw;
}

function tokens(env: Env): { token: string | null; readToken: string | null } {
  const full = token(env, "JOBPRO_TOKEN");
  const read = token(env, "JOBPRO_READ_TOKEN");
  if (read && !full) {
    throw new Error(
      "JOBPRO_READ_TOKEN needs JOBPRO_TOKEN too, or writes would be open",
    );
  }
  if (read && read === full) {
    throw new Error("JOBPRO_READ_TOKEN must differ from JOBPRO_TOKEN");
  }
  return { token: full, readToken: read };
}

const POSTGRES = /^postgres(ql)?:/i;

/**
 * The store JOBPRO_DB names: a `postgres://` or `postgresql://` URL is a
 * PostgreSQL database (its tables in the schema JOBPRO_PG_SCHEMA, default
 * "jobpro"); anything else is a DuckDB file. A URL's password is never
 * echoed.
 */
function database(env: Env, db: string): StoreLocation {
  if (!POSTGRES.test(db)) return { kind: "duckdb", path: db };
  const wrong = (why: string) =>
    new Error(
      `JOBPRO_DB is not a usable PostgreSQL URL: ${why}; write it as postgres://user:password@host:5432/database`,
    );
  let url: URL;
  try {
    url = new URL(db);
  } catch {
    throw wrong("it does not parse as a URL");
  }
  if (!/^postgres(ql)?:\/\//i.test(db) || !url.hostname) {
    throw wrong("it names no host");
  }
  if (url.port && !(Number(url.port) >= 1 && Number(url.port) <= 65535)) {
    throw wrong(`port ${url.port} is out of range`);
  }
  if (url.pathname.length <= 1) throw wrong("it names no database");
  const schema = env.JOBPRO_PG_SCHEMA || "jobpro";
  if (!SCHEMA_NAME.test(schema)) {
    throw new Error(
      `JOBPRO_PG_SCHEMA must be a plain schema name (lower-case letters, digits and _, not starting with a digit), got "${schema}"`,
    );
  }
  return {
    kind: "postgres",
    url: db,
    schema,
    leaseMs: int(env, "JOBPRO_LEASE_MS", 1500, 300),
    node: env.JOBPRO_NODE_NAME || undefined,
  };
}

/**
 * The store as a line of the log: the DuckDB file, or the PostgreSQL
 * server, database and schema (never the user or the password).
 *
 * @example
 * ```ts
 * describeDatabase({ kind: "postgres", url: "postgres://u:secret@db:5432/jobs", schema: "jobpro" });
 * // "PostgreSQL db:5432/jobs, schema jobpro"
 * ```
 */
export function describeDatabase(at: StoreLocation): string {
  if (at.kind === "duckdb") return at.path;
  const u = new URL(at.url);
  return `PostgreSQL ${u.hostname}${
    u.port ? `:${u.port}` : ""
  }${u.pathname}, schema ${at.schema}`;
}

/**
 * Reads the configuration; throws naming the variable that is wrong.
 *
 * @example
 * ```ts
 * readConfig({ PORT: "9000" }).port; // 9000
 * ```
 */
export function readConfig(env: Env): Config {
  const port = int(env, "PORT", 8000);
  if (port > 65535) throw new Error(`PORT must be at most 65535, got ${port}`);
  const db = env.JOBPRO_DB || "./jobs.duckdb";
  return {
    port,
    host: env.HOST || "127.0.0.1",
    db,
    database: database(env, db),
    jobsFile: env.JOBPRO_JOBS_FILE || null,
    jobsUrl: env.JOBPRO_JOBS_URL || null,
    backendUrl: env.JOBPRO_BACKEND_URL || "http://localhost:8080",
    allowShell: flag(env.JOBPRO_ALLOW_SHELL),
    retentionDays: int(env, "JOBPRO_RETENTION_DAYS", 7, 1),
    maxRunsPerJob: int(env, "JOBPRO_MAX_RUNS_PER_JOB", 1000, 1),
    shutdownGraceMs: int(env, "JOBPRO_SHUTDOWN_GRACE_MS", 10_000),
    ...tokens(env),
    insecure: flag(env.JOBPRO_INSECURE),
    maxBodyBytes: int(env, "JOBPRO_MAX_BODY_BYTES", 64 * 1024, 1),
    maxApplyBytes: int(env, "JOBPRO_MAX_APPLY_BYTES", 8 * 1024 * 1024, 1),
    sseHeartbeatMs: int(env, "JOBPRO_SSE_HEARTBEAT_MS", 15_000, 1),
    sseBufferBytes: int(env, "JOBPRO_SSE_BUFFER_BYTES", 1024 * 1024, 1024),
    sseStallMs: int(env, "JOBPRO_SSE_STALL_MS", 10_000, 1),
    maxConnections: env.JOBPRO_MAX_CONNECTIONS
      ? int(env, "JOBPRO_MAX_CONNECTIONS", 0, 16)
      : null,
    headersTimeoutMs: int(env, "JOBPRO_HEADERS_TIMEOUT_MS", 10_000, 100),
    idleTimeoutMs: int(env, "JOBPRO_IDLE_TIMEOUT_MS", 10_000, 100),
    httpMaxConcurrent: int(env, "JOBPRO_HTTP_MAX_CONCURRENT", 256, 1),
    httpTimeoutMs: int(env, "JOBPRO_HTTP_TIMEOUT_MS", 300_000, 1),
    shellMaxConcurrent: int(env, "JOBPRO_SHELL_MAX_CONCURRENT", 64, 1),
    allowedHosts: list(env.JOBPRO_ALLOWED_HOSTS).map((h) => h.toLowerCase()),
    shellEnvPass: list(env.JOBPRO_SHELL_ENV_PASS),
    healthCommitMs: int(env, "JOBPRO_HEALTH_COMMIT_MS", 5000, 1),
    ...alerts(env),
    timezone: timezone(env.JOBPRO_TIMEZONE),
    ...concurrencyOf(env),
  };
}

/** JOBPRO_MAX_CONCURRENT_RUNS and JOBPRO_CONCURRENCY checked (concurrency.ts). */
function concurrencyOf(env: Env) {
  return {
    maxConcurrentRuns: parseMaxRuns(env.JOBPRO_MAX_CONCURRENT_RUNS),
    concurrency: parseLimitsText(env.JOBPRO_CONCURRENCY ?? ""),
  };
}

/** JOBPRO_TIMEZONE checked: a zone the schedules know, or a clear refusal. */
function timezone(raw: string | undefined): string {
  if (raw === undefined || raw.trim() === "") return "UTC";
  try {
    return validateTimezone(raw.trim());
  } catch (e) {
    throw new Error(
      `JOBPRO_TIMEZONE must be an IANA time zone such as UTC, Europe/Berlin or America/New_York: ${
        (e as Error).message.replace(/^timezone: /, "")
      }`,
    );
  }
}

/** The alert settings: JOBPRO_NOTIFY_URL, JOBPRO_SMTP_URL and the rest. */
function alerts(env: Env) {
  const notifyUrl = env.JOBPRO_NOTIFY_URL || null;
  if (notifyUrl && !/^https?:\/\/[^/]/i.test(notifyUrl)) {
    throw new Error("JOBPRO_NOTIFY_URL must be an http(s) URL");
  }
  const publicUrl = env.JOBPRO_PUBLIC_URL?.replace(/\/+$/, "") || null;
  if (publicUrl && !/^https?:\/\/[^/]/i.test(publicUrl)) {
    throw new Error("JOBPRO_PUBLIC_URL must be an http(s) URL");
  }
  let smtp: SmtpSettings | null = null;
  if (env.JOBPRO_SMTP_URL) {
    const from = env.JOBPRO_NOTIFY_FROM || "jobpro@localhost";
    smtp = parseSmtpUrl(env.JOBPRO_SMTP_URL, from);
    if (env.JOBPRO_SMTP_CA_FILE) {
      smtp.caCerts = [Deno.readTextFileSync(env.JOBPRO_SMTP_CA_FILE)];
    }
  }
  const backoff = list(env.JOBPRO_NOTIFY_BACKOFF_MS).map(Number);
  if (backoff.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new Error(
      "JOBPRO_NOTIFY_BACKOFF_MS must be comma-separated whole milliseconds",
    );
  }
  return {
    notifyUrl,
    smtp,
    publicUrl,
    notifyBackoffMs: backoff.length ? backoff : null,
    notifyPollMs: int(env, "JOBPRO_NOTIFY_POLL_MS", 5000, 10),
  };
}

/** A comma-separated list, blanks dropped. */
function list(raw: string | undefined): string[] {
  return (raw ?? "").split(",").map((s) => s.trim()).filter(Boolean);
}
