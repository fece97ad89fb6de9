/**
 * One jobpro per database schema, until several can share one (issue 13):
 * a session-level advisory lock, keyed by the schema, taken on a connection
 * of its own and held for the life of the process. PostgreSQL releases it
 * when that session ends, so a process that dies, however it dies, frees it
 * at once; a second jobpro on the same schema is refused at start, saying
 * who holds it.
 *
 * Holding it is proven, not assumed:
 * - a heartbeat (`SELECT 1` every `heartbeatMs`) on the lock's session; with
 *   no answer within `heartbeatTimeoutMs` the lock counts as not held
 *   (nothing starts) until an answer comes on that same session: the
 *   session never ended, so the lock was held throughout;
 * - the session ending (a restart of PostgreSQL, a cut connection, an
 *   administrator's `pg_terminate_backend`) is not held at once, and the lock
 *   is taken again on a new session, retried with a backoff. Taken again, it
 *   counts as held only once `verify` (the store) finds that nothing was
 *   written meanwhile; taken by another process, or used by one meanwhile,
 *   it is lost for good: this process must stop (its memory may be stale).
 *   Its own old session still lingering on the server is ended first.
 *
 * What it does not do: fence a node cut off from the database by a network
 * partition the server outlives. That node stops starting runs within
 * `heartbeatMs + heartbeatTimeoutMs`; a second node that took the lock in
 * that time (only possible if the server dropped the first one's session)
 * could overlap it by as much. Leases with epochs (issue 13) close that gap.
 *
 * @example
 * ```ts
 * const lock = await acquireDatabaseLock(url, { schema: "jobpro" });
 * lock.held; // true
 * await lock.close(); // released
 * ```
 * @module
 */
import pg from "pg";
import { JobproError } from "./errors.ts";
import type { Hold } from "./store.ts";

/**
 * How the lock is taken and kept.
 *
 * @example
 * ```ts
 * const opts: LockOptions = { schema: "jobpro", heartbeatMs: 500 };
 * ```
 */
export interface LockOptions {
  /** The schema the lock is for (one lock per schema of a database). */
  schema: string;
  /** Between heartbeats (default 500 ms). */
  heartbeatMs?: number;
  /** A heartbeat without an answer this long makes the lock not held (default 1,500 ms). */
  heartbeatTimeoutMs?: number;
  /** Connecting gives up after this long (default 5,000 ms). */
  connectTimeoutMs?: number;
  /** At start, how long a lock held by another session is waited for (default 1,000 ms): it may be a process just gone. */
  waitMs?: number;
  /** Hears each lost connection. */
  onConnectionError?: (e: Error) => void;
  /** For tests: runs before each attempt to take the lock again. */
  beforeRelock?: () => Promise<void>;
}

/**
 * The lock this process holds: a {@link Hold}, plus the SQL that proves it
 * inside a transaction.
 *
 * @example
 * ```ts
 * const held = (await client.query(`SELECT ${lock.fence()} AS held`)).rows[0].held;
 * ```
 */
export interface DatabaseLock extends Hold {
  /**
   * Before a lock taken again counts as held: resolves true when nothing was
   * written by another process meanwhile (false: the lock is lost).
   */
  verify: (c: pg.Client) => Promise<boolean>;
  /** A boolean SQL expression, true while this process's session holds the lock. */
  fence(): string;
  /** Releases the lock (its session ends); it no longer changes or tells. */
  close(): Promise<void>;
}

/** The lock's first key: "jobp". The second is the schema's hash. */
const LOCK_CLASS = 0x6a6f6270;

/**
 * The two keys of the schema's advisory lock (`pg_advisory_lock(int4,
 * int4)`): "jobp", and a 31-bit FNV-1a hash of the schema's name.
 *
 * @example
 * ```ts
 * const [k1, k2] = lockKeys("jobpro");
 * await client.query("SELECT pg_try_advisory_lock($1::int4, $2::int4)", [k1, k2]);
 * ```
 */
export function lockKeys(schema: string): [number, number] {
  let h = 0x811c9dc5;
  for (const ch of new TextEncoder().encode(schema)) {
    h = Math.imul(h ^ ch, 0x01000193) >>> 0;
  }
  return [LOCK_CLASS, h & 0x7fffffff];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const message = (e: unknown) =>
  String((e as Error)?.message || (e as { code?: string })?.code || e);

/** Who this process is, as the lock's session tells it (63 bytes at most). */
function applicationName(): string {
  let host = "";
  try {
    host = ` on ${Deno.hostname()}`;
  } catch { /* no --allow-sys: the pid says enough */ }
  return `jobpro pid ${Deno.pid}${host}`.slice(0, 63);
}

/** The lock's session: a backend of the server, known by pid and start. */
interface Session {
  pid: number;
  since: number;
}

async function connect(url: string, opts: LockOptions): Promise<pg.Client> {
  const c = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
    application_name: applicationName(),
    keepAlive: true,
  });
  c.on("error", () => {}); // the owner listens too; never an unhandled error
  await c.connect();
  return c;
}

const SESSION =
  `SELECT pg_backend_pid() AS pid, (extract(epoch FROM backend_start)
  * 1000)::float8 AS since FROM pg_stat_activity WHERE pid = pg_backend_pid()`;

/** The holder of the schema's lock (another session), if any. */
const HOLDER =
  `SELECT l.pid, a.application_name AS app, host(a.client_addr) AS addr,
    (extract(epoch FROM a.backend_start) * 1000)::float8 AS since
  FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
  WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
    AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  LIMIT 1`;

interface Holder extends Session {
  app: string | null;
  addr: string | null;
}

async function holderOf(c: pg.Client, key: number): Promise<Holder | null> {
  const { rows: [r] } = await c.query(HOLDER, [LOCK_CLASS, key]);
  return r
    ? { pid: r.pid, since: Number(r.since), app: r.app, addr: r.addr }
    : null;
}

function describeHolder(h: Holder | null): string {
  if (!h) return "a session that has just let go of it";
  const since = Number.isFinite(h.since)
    ? `, connected since ${new Date(h.since).toISOString()}`
    : "";
  return `${h.app || "a session"} (server process ${h.pid}${
    h.addr ? ` from ${h.addr}` : ""
  }${since})`;
}

/** Tries for the lock until `waitMs` has passed; whether it was taken. */
async function take(c: pg.Client, key: number, waitMs: number) {
  const until = performance.now() + waitMs;
  for (;;) {
    const { rows: [r] } = await c.query(
      "SELECT pg_try_advisory_lock($1::int4, $2::int4) AS won",
      [LOCK_CLASS, key],
    );
    if (r.won) return true;
    if (performance.now() >= until) return false;
    await sleep(100);
  }
}

async function sessionOf(c: pg.Client): Promise<Session> {
  const { rows: [r] } = await c.query(SESSION);
  return { pid: r.pid, since: Number(r.since) };
}

/**
 * Takes the schema's lock on a session of its own, or fails: `unavailable`
 * naming who holds it, or the connection's error as it is.
 *
 * @example
 * ```ts
 * const lock = await acquireDatabaseLock("postgres://jobpro@db/jobpro", { schema: "jobpro" });
 * ```
 */
export async function acquireDatabaseLock(
  url: string,
  opts: LockOptions,
): Promise<DatabaseLock> {
  const [, key] = lockKeys(opts.schema);
  const c = await connect(url, opts);
  try {
    if (!await take(c, key, opts.waitMs ?? 1_000)) {
      throw new JobproError(
        "unavailable",
        `another jobpro is using schema "${opts.schema}" of this PostgreSQL database: ${
          describeHolder(await holderOf(c, key))
        }. Until several jobpro can share one database, each needs a schema of its own: stop that one, or give this one another schema (JOBPRO_PG_SCHEMA)`,
      );
    }
    return new Lock(url, opts, key, c, await sessionOf(c));
  } catch (e) {
    await c.end().catch(() => {});
    throw e;
  }
}

/** The lock, its heartbeat and its re-taking. */
class Lock implements DatabaseLock {
  // Until the store sets its own, nothing has been read that could be stale.
  verify: (c: pg.Client) => Promise<boolean> = () => Promise.resolve(true);
  readonly #url: string;
  readonly #opts: LockOptions;
  readonly #key: number;
  #client: pg.Client | null;
  /** The session that holds (or last held) the lock. */
  #session: Session;
  #held = true;
  #lost = false;
  #reason: string | null = null;
  #closed = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #backoff = 100;
  readonly #watchers = new Set<() => void>();

  constructor(
    url: string,
    opts: LockOptions,
    key: number,
    c: pg.Client,
    session: Session,
  ) {
    this.#url = url;
    this.#opts = opts;
    this.#key = key;
    this.#client = c;
    this.#session = session;
    this.#adopt(c);
  }

  get held() {
    return this.#held;
  }

  get lost() {
    return this.#lost;
  }

  get reason() {
    return this.#reason;
  }

  watch(fn: () => void): () => void {
    this.#watchers.add(fn);
    return () => this.#watchers.delete(fn);
  }

  fence(): string {
    if (!this.#held) return "false";
    return `EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
      AND granted AND objsubid = 2 AND pid = ${this.#session.pid}
      AND classid = ${LOCK_CLASS}::oid AND objid = ${this.#key}::oid)`;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    const c = this.#client;
    this.#client = null;
    await c?.end().catch(() => {});
  }

  #tell() {
    for (const fn of this.#watchers) {
      try {
        fn();
      } catch { /* a watcher's bug is not the lock's */ }
    }
  }

  #set(held: boolean, reason: string | null) {
    if (this.#lost || this.#closed) return;
    const changed = held !== this.#held;
    this.#held = held;
    this.#reason = reason;
    if (changed) this.#tell();
  }

  #lose(reason: string) {
    if (this.#lost || this.#closed) return;
    this.#lost = true;
    this.#held = false;
    this.#reason = reason;
    clearTimeout(this.#timer);
    this.#tell();
  }

  /** Listens to the session's end and starts its heartbeat. */
  #adopt(c: pg.Client) {
    const broken = (e: Error) => this.#broken(c, e);
    c.on("error", broken);
    c.on("end", () => broken(new Error("the connection was closed")));
    this.#beatLater();
  }

  #beatLater() {
    if (this.#closed || this.#lost) return;
    this.#timer = setTimeout(
      () => void this.#beat(),
      this.#opts.heartbeatMs ?? 500,
    );
  }

  async #beat() {
    const c = this.#client;
    if (!c || this.#closed) return;
    const timeoutMs = this.#opts.heartbeatTimeoutMs ?? 1_500;
    const late = setTimeout(() => {
      if (c === this.#client) {
        this.#set(
          false,
          `the database lock is not proven: PostgreSQL has not answered its heartbeat for ${timeoutMs} ms`,
        );
      }
    }, timeoutMs);
    try {
      await c.query("SELECT 1");
    } catch (e) {
      return this.#broken(c, e as Error);
    } finally {
      clearTimeout(late);
    }
    if (c !== this.#client) return;
    this.#set(true, null); // the same session answered: held throughout
    this.#beatLater();
  }

  #broken(c: pg.Client, e: Error) {
    if (c !== this.#client || this.#closed) return;
    this.#client = null;
    clearTimeout(this.#timer);
    void c.end().catch(() => {});
    this.#opts.onConnectionError?.(e);
    this.#set(
      false,
      `the database lock is not held: its connection was lost (${
        message(e)
      }); taking it again`,
    );
    this.#backoff = 100;
    this.#relockLater();
  }

  #relockLater() {
    if (this.#closed || this.#lost) return;
    this.#timer = setTimeout(() => void this.#relock(), this.#backoff);
    this.#backoff = Math.min(this.#backoff * 2, 2_000);
  }

  /** Takes the lock on a new session; held again once verified, or lost. */
  async #relock() {
    if (this.#closed || this.#lost) return;
    let c: pg.Client | undefined;
    try {
      await this.#opts.beforeRelock?.();
      c = await connect(this.#url, this.#opts);
      let won = await take(c, this.#key, 0);
      const holder = won ? null : await holderOf(c, this.#key);
      if (
        holder && holder.pid === this.#session.pid &&
        holder.since === this.#session.since
      ) {
        // Our own old session, still on the server: end it, then take over.
        await c.query("SELECT pg_terminate_backend($1)", [holder.pid]);
        won = await take(c, this.#key, this.#opts.waitMs ?? 1_000);
      }
      if (!won) {
        await c.end().catch(() => {});
        return this.#lose(
          `another jobpro took the database lock of schema "${this.#opts.schema}" while this one was cut off from the database: ${
            describeHolder(holder)
          }`,
        );
      }
      if (this.#closed || !await this.verify(c)) {
        await c.end().catch(() => {}); // releases the lock
        return this.#lose(
          `another jobpro used schema "${this.#opts.schema}" while this one was cut off from the database: restart this one to load what it changed`,
        );
      }
      this.#session = await sessionOf(c);
      this.#client = c;
      this.#adopt(c);
      this.#set(true, null);
    } catch (e) {
      await c?.end().catch(() => {});
      if (this.#closed || this.#lost) return;
      this.#set(
        false,
        `the database lock is not held: the database cannot be reached to take it again (${
          message(e)
        })`,
      );
      this.#relockLater();
    }
  }
}
