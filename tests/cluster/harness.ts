/**
 * The cluster test harness: real jobpro node processes on one real
 * PostgreSQL, an external HTTP target that logs every execution, a TCP
 * proxy per node the test can cut, and a checker of the invariants a
 * cluster must keep. It talks HTTP to the nodes and SQL to the runs table
 * only, so it proves cluster mode from the outside and works today on one
 * node.
 *
 * - {@link startTarget}: a local HTTP server (port 0) that records every
 *   request as an {@link Execution} from the run identity headers jobpro
 *   sends with each http action (`X-Jobpro-Job`, `-Run`, `-Attempt`,
 *   `-Trigger`, `-Scheduled-For`; `X-Jobpro-Node` when a node names itself).
 * - {@link startCluster}: a fresh schema (JOBPRO_PG_SCHEMA) on the file's
 *   PostgreSQL (tests/pg/server.ts `sharedPostgres`, or a {@link PgLike} of
 *   the test's own, e.g. one it restarts), then n nodes started with the
 *   `start` task's command line, each reaching PostgreSQL directly or, with
 *   `proxy: true`, through its own {@link startProxy}. A node can be killed
 *   (SIGKILL, SIGTERM), paused (SIGSTOP, SIGCONT) and restarted on its port;
 *   its stdout and stderr are kept across restarts.
 * - {@link startProxy}: a TCP proxy with `cut("refuse")` (connections
 *   dropped, new ones refused), `cut("blackhole")` (new ones accepted and
 *   never forwarded; existing ones dropped, or with `{ existing: "stall" }`
 *   held without a byte forwarded either way, as in a partition, and
 *   resumed by `heal()`), and `heal()`.
 * - {@link createEveryJobs}: every-second jobs whose action POSTs to the target.
 * - {@link checkInvariants}: reads the target's log and the runs table,
 *   waits (with a deadline) for the last runs to settle, and reports plain
 *   data ({@link Report}): doubled executions, missed ticks, runs left
 *   running, executions with no run recorded, lateness and failover
 *   lateness. {@link analyze} is the same check on given data (unit tests
 *   feed it synthetic logs). A fault window is passed explicitly: ticks in
 *   an `excused` window need not run (the catch-up policy skips the ticks of
 *   a downtime); a `fault` instant asks for the lateness of the first ticks
 *   after it.
 *
 * Every wait polls with a deadline.
 *
 * @example
 * ```ts
 * await using target = startTarget();
 * await using cluster = await startCluster({ nodes: 3, proxy: true });
 * const jobs = await createEveryJobs(cluster.nodes[0], 600, target);
 * const from = Date.now();
 * // ... a fault ...
 * const report = await checkInvariants({ target, pg: cluster.pg, schema: cluster.schema, from, to: Date.now(), jobs });
 * assertEquals([report.doubled, report.missed], [[], []]);
 * ```
 * @module
 */
import { query, sharedPostgres } from "../pg/server.ts";
import {
  type Answer,
  pool,
  ROOT,
  startTaskArgs,
  waitFor,
} from "../reliability/helpers.ts";

export type { Answer };

// ---------------------------------------------------------------- target

/** One execution of an action, as the target received it. */
export interface Execution {
  job: string;
  run: number;
  attempt: number;
  trigger: string;
  /** The tick it ran for (epoch ms), or null (a manual run). */
  scheduledFor: number | null;
  /** When the target received it (the target's Date.now()). */
  receivedAt: number;
  /** The node that sent it, when it says (X-Jobpro-Node). */
  node?: string;
}

/** The external HTTP target every job's action calls. */
export interface Target extends AsyncDisposable {
  /** Its base URL (http://127.0.0.1:port). */
  readonly url: string;
  /** Every execution received so far, in arrival order (a copy). */
  executions(): Execution[];
  /** How many executions it holds. */
  readonly size: number;
  /** The executions from the `index`-th on (a copy), to follow the log cheaply. */
  from(index: number): Execution[];
  /** Requests that carried no run identity (not jobpro's). */
  strays(): number;
  /**
   * Forgets the executions received before `before` (epoch ms), so a long
   * run keeps only what it still checks.
   */
  prune(before: number): void;
  /**
   * Polls until `pred` holds over the executions so far; returns them.
   * Throws after `timeoutMs` saying how many it had.
   */
  waitForExecutions(
    pred: (all: Execution[]) => boolean,
    timeoutMs?: number,
  ): Promise<Execution[]>;
  close(): Promise<void>;
}

/** Options of {@link startTarget}. */
export interface TargetOptions {
  /** The answer to each request (default 200 "ok"). */
  respond?: (req: Request, e: Execution | null) => Response | Promise<Response>;
}

/** Reads an execution from a request's run identity headers, or null. */
export function executionOf(
  headers: Headers,
  receivedAt: number,
): Execution | null {
  const job = headers.get("x-jobpro-job");
  if (job === null) return null;
  const at = headers.get("x-jobpro-scheduled-for");
  const node = headers.get("x-jobpro-node");
  return {
    job,
    run: Number(headers.get("x-jobpro-run")),
    attempt: Number(headers.get("x-jobpro-attempt")),
    trigger: headers.get("x-jobpro-trigger") ?? "",
    scheduledFor: at === null ? null : Date.parse(at),
    receivedAt,
    ...(node === null ? {} : { node }),
  };
}

/**
 * Starts the target: a real HTTP server on a random loopback port.
 *
 * @example
 * ```ts
 * await using target = startTarget();
 * await target.waitForExecutions((all) => all.length >= 10, 15_000);
 * ```
 */
export function startTarget(opts: TargetOptions = {}): Target {
  const log: Execution[] = [];
  let strays = 0;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      const e = executionOf(req.headers, Date.now());
      if (e) log.push(e);
      else strays++;
      await req.body?.cancel();
      return opts.respond ? opts.respond(req, e) : new Response("ok");
    },
  );
  let closed: Promise<void> | undefined;
  const target: Target = {
    url: `http://127.0.0.1:${server.addr.port}`,
    executions: () => log.slice(),
    get size() {
      return log.length;
    },
    from: (index) => log.slice(index),
    strays: () => strays,
    prune(before) {
      const keep = log.filter((e) => e.receivedAt >= before);
      log.length = 0;
      log.push(...keep);
    },
    async waitForExecutions(pred, timeoutMs = 15_000) {
      return await waitFor(() => pred(log) && log.slice(), {
        timeoutMs,
        what: `the target's executions (${log.length} so far)`,
      });
    },
    close: () => closed ??= server.shutdown(),
    [Symbol.asyncDispose]: () => target.close(),
  };
  return target;
}

// ----------------------------------------------------------------- proxy

/** How a proxy treats connections while cut. */
export type CutMode = "refuse" | "blackhole";

/** A TCP proxy the test controls. */
export interface Proxy extends AsyncDisposable {
  readonly host: string;
  readonly port: number;
  /** "open", or the mode it is cut in. */
  readonly state: "open" | CutMode;
  /** Connections it holds (forwarding, or held while cut). */
  connections(): number;
  /** Connections it made to the target since it started. */
  forwarded(): number;
  /**
   * Cuts the path. `refuse`: every connection is closed and new ones are
   * refused (the port is closed). `blackhole`: new connections are accepted
   * and never forwarded; existing ones are closed, or with
   * `existing: "stall"` kept with nothing forwarded either way (a
   * partition as TCP sees it), until `heal()` resumes them.
   */
  cut(mode?: CutMode, opts?: { existing?: "drop" | "stall" }): void;
  /** Restores forwarding: the port is open again, held connections go on. */
  heal(): void;
  /**
   * Calls `fn` once, right after forwarding a chunk from a client that
   * holds `pattern` (e.g. the statement that opens a transaction), before
   * anything else is forwarded either way: a fault can strike at that
   * moment. Returns a function that cancels it.
   */
  onForward(pattern: string, fn: () => void): () => void;
  close(): Promise<void>;
}

interface Pair {
  client: Deno.TcpConn;
  upstream: Deno.TcpConn | null;
  closed: boolean;
}

/**
 * Starts a TCP proxy on a random loopback port to `targetHost:targetPort`.
 *
 * @example
 * ```ts
 * const proxy = startProxy("127.0.0.1", 5432);
 * proxy.cut("blackhole", { existing: "stall" }); // a partition
 * proxy.heal();
 * ```
 */
export function startProxy(targetHost: string, targetPort: number): Proxy {
  let listener: Deno.TcpListener | null = Deno.listen({
    hostname: "127.0.0.1",
    port: 0,
  });
  const port = (listener.addr as Deno.NetAddr).port;
  let state: "open" | CutMode = "open";
  let closing = false;
  let forwarded = 0;
  const pairs = new Set<Pair>();
  // Resolved at every change of state, so anything held looks again.
  let change = Promise.withResolvers<void>();
  const changed = () => {
    change.resolve();
    change = Promise.withResolvers<void>();
  };
  const shut = (c: Deno.Conn | null) => {
    try {
      c?.close();
    } catch { /* closed already */ }
  };
  const drop = (p: Pair) => {
    if (p.closed) return;
    p.closed = true;
    shut(p.client);
    shut(p.upstream);
    pairs.delete(p);
  };
  /** Resolves when bytes may flow for `p` (false: it was dropped). */
  const passable = async (p: Pair): Promise<boolean> => {
    while (!p.closed && state === "blackhole") await change.promise;
    return !p.closed;
  };
  let hook: { pattern: string; fn: () => void } | null = null;
  const latin1 = new TextDecoder("latin1");
  const pump = async (
    p: Pair,
    from: Deno.Conn,
    to: Deno.Conn,
    upward = false,
  ) => {
    const buf = new Uint8Array(64 * 1024);
    try {
      while (await passable(p)) {
        const n = await from.read(buf);
        if (n === null || !await passable(p)) break;
        for (let at = 0; at < n;) at += await to.write(buf.subarray(at, n));
        const h = hook;
        if (
          upward && h && latin1.decode(buf.subarray(0, n)).includes(h.pattern)
        ) {
          hook = null;
          h.fn();
        }
      }
    } catch { /* either side went away */ }
    drop(p);
  };
  const handle = async (client: Deno.TcpConn) => {
    const p: Pair = { client, upstream: null, closed: false };
    pairs.add(p);
    try {
      if (!await passable(p)) return; // accepted while blackholed: held
      const upstream = await Deno.connect({
        hostname: targetHost,
        port: targetPort,
      });
      if (p.closed) return shut(upstream);
      p.upstream = upstream;
      forwarded++;
      client.setNoDelay(true);
      upstream.setNoDelay(true);
      await Promise.all([
        pump(p, client, upstream, true),
        pump(p, upstream, client),
      ]);
    } catch { /* the target refused */ }
    drop(p);
  };
  const accept = async (l: Deno.TcpListener) => {
    try {
      for await (const conn of l) void handle(conn);
    } catch { /* the listener was closed */ }
  };
  void accept(listener);
  const proxy: Proxy = {
    host: "127.0.0.1",
    port,
    get state() {
      return state;
    },
    connections: () => pairs.size,
    forwarded: () => forwarded,
    cut(mode = "refuse", opts = {}) {
      const existing = mode === "refuse" ? "drop" : opts.existing ?? "drop";
      state = mode;
      if (existing === "drop") { for (const p of [...pairs]) drop(p); }
      if (mode === "refuse" && listener) {
        listener.close();
        listener = null;
      }
      changed();
    },
    heal() {
      if (closing) throw new Error("the proxy is closed");
      if (!listener) {
        listener = Deno.listen({ hostname: "127.0.0.1", port });
        void accept(listener);
      }
      state = "open";
      changed();
    },
    onForward(pattern, fn) {
      const h = { pattern, fn };
      hook = h;
      return () => {
        if (hook === h) hook = null;
      };
    },
    async close() {
      closing = true;
      listener?.close();
      listener = null;
      for (const p of [...pairs]) drop(p);
      changed();
      await Promise.resolve();
    },
    [Symbol.asyncDispose]: () => proxy.close(),
  };
  return proxy;
}

// --------------------------------------------------------------- cluster

/** A PostgreSQL server: tests/pg/server.ts's shared one, a PgServer, or an existing server. */
export interface PgLike {
  url(database?: string): string;
}

/** A signal the harness sends a node. */
export type NodeSignal = "SIGKILL" | "SIGTERM" | "SIGSTOP" | "SIGCONT";

/** One jobpro node process (and its later incarnations after restarts). */
export interface ClusterNode {
  /** Its place in the cluster (0-based) and a name for reports ("node0"). */
  readonly index: number;
  readonly name: string;
  /** Its base URL; the port stays the same across restarts. */
  readonly url: string;
  readonly port: number;
  /** The current process's pid. */
  readonly pid: number;
  /** Every pid it ran under, oldest first. */
  readonly pids: number[];
  /** The bearer token its API takes. */
  readonly token: string;
  /** Its proxy to PostgreSQL (`proxy: true`), else null. */
  readonly proxy: Proxy | null;
  /** The environment it is started with. */
  readonly env: Record<string, string>;
  /** The current process has exited. */
  readonly dead: boolean;
  /** It was sent SIGSTOP and not SIGCONT since. */
  readonly paused: boolean;
  /** The current process's exit. */
  readonly exited: Promise<Deno.CommandStatus>;
  /** What it wrote to stdout, to stderr, and both interleaved, across restarts. */
  stdout(): string;
  stderr(): string;
  log(): string;
  /**
   * Sends `signal`. SIGKILL and SIGTERM wait for the exit (SIGTERM then
   * SIGKILL after `graceMs`) and return its status; SIGSTOP and SIGCONT
   * return null at once.
   */
  kill(
    signal?: NodeSignal,
    opts?: { graceMs?: number },
  ): Promise<Deno.CommandStatus | null>;
  /** Stops it if it runs (SIGTERM), then starts it again on the same port and waits until healthy. */
  restart(): Promise<void>;
}

/** Options of {@link startCluster}. */
export interface ClusterOptions {
  nodes: number;
  /** Added to every node's environment. */
  env?: Record<string, string>;
  /** JOBPRO_LEASE_MS of every node. */
  leaseMs?: number;
  /** Each node reaches PostgreSQL through a proxy of its own. */
  proxy?: boolean;
  /** The server (default: this file's, from `sharedPostgres`). */
  pg?: PgLike;
  /** The schema (default: a fresh one). */
  schema?: string;
  /** How long a node may take to become healthy (default 60 s). */
  startTimeoutMs?: number;
  /**
   * Keep the log line of every completed run (default true); a long run
   * with hundreds of jobs sets false and keeps the rest.
   */
  logRuns?: boolean;
}

/** Nodes on one schema of one PostgreSQL. */
export interface Cluster extends AsyncDisposable {
  readonly pg: PgLike;
  /** The database URL (direct, not through a proxy). */
  readonly dbUrl: string;
  readonly schema: string;
  readonly token: string;
  readonly nodes: ClusterNode[];
  /** A JSON call to a node with the cluster's token. */
  api(
    node: ClusterNode | number,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<Answer>;
  /** Starts one more node (a node joining). */
  addNode(env?: Record<string, string>): Promise<ClusterNode>;
  /** A statement on the cluster's database. */
  // deno-lint-ignore no-explicit-any
  query(sql: string, params?: unknown[]): Promise<any[]>;
  /** Kills every node, closes the proxies, drops the schema. */
  close(): Promise<void>;
}

let schemaCount = 0;

/** A schema name no other cluster of this process or another uses. */
export function freshSchema(): string {
  return `cluster_${Deno.pid}_${++schemaCount}_${
    Math.random().toString(36).slice(2, 8)
  }`;
}

/** A URL with its host and port replaced. */
function via(url: string, host: string, port: number): string {
  const u = new URL(url);
  u.hostname = host;
  u.port = String(port);
  return u.toString();
}

interface Incarnation {
  child: Deno.ChildProcess;
  client: Deno.HttpClient;
  exited: Promise<Deno.CommandStatus>;
  dead: boolean;
  /** This process's stdout so far (its listening line is read from it). */
  out: string;
}

/** The line main.ts prints once it listens. */
const LISTENING = /\[jobpro\] listening on (http:\/\/\S+?)\/jobs\b/;

/** The line a run that completed logs (dropped by `logRuns: false`). */
const ROUTINE_RUN = /^\[jobpro\] info: job \S+ run \d+: /;

class Node implements ClusterNode {
  readonly pids: number[] = [];
  /** Lines of completed runs not kept (`logRuns: false`). */
  runLines = 0;
  port = 0;
  paused = false;
  #stdout = "";
  #stderr = "";
  #log = "";
  #now: Incarnation | null = null;

  constructor(
    readonly index: number,
    readonly token: string,
    readonly proxy: Proxy | null,
    readonly env: Record<string, string>,
    readonly startTimeoutMs: number,
    readonly logRuns = true,
  ) {}

  get name() {
    return `node${this.index}`;
  }
  get url() {
    return `http://127.0.0.1:${this.port}`;
  }
  get pid() {
    return this.pids[this.pids.length - 1] ?? 0;
  }
  get dead() {
    return this.#now?.dead ?? true;
  }
  get exited(): Promise<Deno.CommandStatus> {
    if (!this.#now) throw new Error(`${this.name} was never started`);
    return this.#now.exited;
  }
  get client(): Deno.HttpClient | undefined {
    return this.#now?.client;
  }
  stdout() {
    return this.#stdout;
  }
  stderr() {
    return this.#stderr;
  }
  log() {
    return this.#log;
  }

  async start(): Promise<void> {
    if (this.#now && !this.#now.dead) {
      throw new Error(`${this.name} is running`);
    }
    const argv = await startTaskArgs();
    const child = new Deno.Command(Deno.execPath(), {
      args: argv,
      cwd: ROOT,
      env: {
        HOST: "127.0.0.1",
        ...this.env,
        PORT: String(this.port), // 0 at first: the node picks, and says
        NO_COLOR: "1",
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.pids.push(child.pid);
    this.paused = false;
    const now: Incarnation = {
      child,
      client: Deno.createHttpClient({}),
      exited: null as unknown as Promise<Deno.CommandStatus>,
      dead: false,
      out: "",
    };
    this.#now = now;
    const mark = `[harness] ${this.name} started, pid ${child.pid}\n`;
    this.#log += mark;
    const pump = async (s: ReadableStream<Uint8Array>, out: boolean) => {
      const decoder = new TextDecoder();
      let carry = "";
      const keep = (text: string) => {
        this.#log += text;
        if (out) this.#stdout += text;
        else this.#stderr += text;
      };
      try {
        for await (const chunk of s) {
          const text = decoder.decode(chunk, { stream: true });
          // Only the start's lines are looked at: the listening line.
          if (out && now.out.length < 64 * 1024) now.out += text;
          if (this.logRuns) {
            keep(text);
            continue;
          }
          // A long run keeps every line but a finished run's own.
          const lines = (carry + text).split("\n");
          carry = lines.pop()!;
          const kept = lines.filter((l) => {
            if (!ROUTINE_RUN.test(l)) return true;
            this.runLines++;
            return false;
          });
          if (kept.length) keep(kept.join("\n") + "\n");
        }
      } catch { /* the process died */ }
      if (carry) keep(carry);
    };
    const pumped = Promise.all([
      pump(child.stdout, true),
      pump(child.stderr, false),
    ]);
    now.exited = child.status.then(async (s) => {
      now.dead = true;
      await pumped;
      now.client.close();
      return s;
    });
    try {
      const listening = await waitFor(() => {
        if (now.dead) {
          throw new Error(`${this.name} exited before it listened`);
        }
        return now.out.match(LISTENING);
      }, {
        timeoutMs: this.startTimeoutMs,
        intervalMs: 20,
        what: `${this.name} to listen`,
      }).catch((e) => {
        throw new Error(`${e.message}:\n${this.#log.slice(-4000)}`);
      });
      this.port = Number(new URL(listening[1]).port);
      await waitFor(async () => {
        if (now.dead) throw new Error(`${this.name} exited`);
        const res = await fetch(`${this.url}/healthz`, {
          client: now.client,
          signal: AbortSignal.timeout(2000),
        } as RequestInit);
        await res.body?.cancel();
        return res.status === 200;
      }, {
        timeoutMs: this.startTimeoutMs,
        intervalMs: 50,
        what: `${this.name} to be healthy`,
      }).catch((e) => {
        throw new Error(`${e.message}:\n${this.#log.slice(-4000)}`);
      });
    } catch (e) {
      await this.kill("SIGKILL");
      throw e;
    }
  }

  async kill(
    signal: NodeSignal = "SIGKILL",
    { graceMs = 30_000 } = {},
  ): Promise<Deno.CommandStatus | null> {
    const now = this.#now;
    if (!now) return null;
    const send = (sig: Deno.Signal) => {
      try {
        now.child.kill(sig);
      } catch { /* gone already */ }
    };
    if (signal === "SIGSTOP" || signal === "SIGCONT") {
      if (!now.dead) send(signal);
      this.paused = signal === "SIGSTOP" && !now.dead;
      return null;
    }
    if (now.dead) return await now.exited;
    send(signal);
    // A paused process hears SIGTERM only once it runs again.
    if (this.paused && signal === "SIGTERM") send("SIGCONT");
    this.paused = false;
    const timer = signal === "SIGTERM"
      ? setTimeout(() => send("SIGKILL"), graceMs)
      : undefined;
    const status = await now.exited;
    clearTimeout(timer);
    return status;
  }

  async restart(): Promise<void> {
    if (!this.dead) await this.kill("SIGTERM");
    await this.start();
  }
}

/** A JSON call to a node with its token (a paused node's call fails after `timeoutMs`). */
export async function api(
  node: ClusterNode,
  method: string,
  path: string,
  body?: unknown,
  { timeoutMs = 15_000 } = {},
): Promise<Answer> {
  const res = await fetch(node.url + path, {
    method,
    headers: {
      accept: "application/json",
      authorization: `Bearer ${node.token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
    client: (node as Node).client,
  } as RequestInit);
  const text = await res.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch { /* not JSON */ }
  return { status: res.status, body: parsed, text, headers: res.headers };
}

/**
 * Starts `nodes` jobpro processes on a fresh schema: the first alone (it
 * creates the schema), the others together.
 *
 * @example
 * ```ts
 * await using cluster = await startCluster({ nodes: 3, proxy: true, leaseMs: 1500 });
 * await cluster.nodes[1].kill("SIGKILL");
 * ```
 */
export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  const pg = opts.pg ?? await sharedPostgres();
  const dbUrl = pg.url();
  const schema = opts.schema ?? freshSchema();
  const token = `harness-${crypto.randomUUID()}`;
  const nodes: Node[] = [];
  const db = new URL(dbUrl);
  const add = async (env: Record<string, string> = {}) => {
    const proxy = opts.proxy
      ? startProxy(db.hostname, Number(db.port || 5432))
      : null;
    const node = new Node(
      nodes.length,
      token,
      proxy,
      {
        // Named after its place, so the runs table says which node ran what.
        JOBPRO_NODE_NAME: `node${nodes.length}`,
        ...opts.env,
        ...env,
        JOBPRO_DB: proxy ? via(dbUrl, proxy.host, proxy.port) : dbUrl,
        JOBPRO_PG_SCHEMA: schema,
        JOBPRO_TOKEN: token,
        ...(opts.leaseMs === undefined
          ? {}
          : { JOBPRO_LEASE_MS: String(opts.leaseMs) }),
      },
      opts.startTimeoutMs ?? 60_000,
      opts.logRuns ?? true,
    );
    nodes.push(node);
    await node.start();
    return node;
  };
  let closed: Promise<void> | undefined;
  const cluster: Cluster = {
    pg,
    dbUrl,
    schema,
    token,
    nodes,
    api: (node, method, path, body) =>
      api(typeof node === "number" ? nodes[node] : node, method, path, body),
    addNode: add,
    query: async (sql, params) => (await query(dbUrl, sql, params)).rows,
    close: () =>
      closed ??= (async () => {
        await Promise.all(nodes.map((n) => n.kill("SIGKILL")));
        await Promise.all(nodes.map((n) => n.proxy?.close()));
        await query(dbUrl, `DROP SCHEMA IF EXISTS ${schema} CASCADE`)
          .catch(() => {});
      })(),
    [Symbol.asyncDispose]: () => cluster.close(),
  };
  try {
    if (opts.nodes > 0) await add();
    await Promise.all(Array.from({ length: opts.nodes - 1 }, () => add()));
  } catch (e) {
    await cluster.close();
    throw e;
  }
  return cluster;
}

/**
 * Creates `count` every-second periodic jobs (`* * * * * *`) whose http
 * action POSTs to the target; returns their ids. A create answered 503
 * (nothing changed) is tried again for up to `retryMs`.
 *
 * @example
 * ```ts
 * const jobs = await createEveryJobs(cluster.nodes[0], 20, target); // ["every-0", ...]
 * ```
 */
export async function createEveryJobs(
  node: ClusterNode,
  count: number,
  target: Pick<Target, "url">,
  { prefix = "every", concurrency = 16, retryMs = 30_000 } = {},
): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  await pool(ids, concurrency, async (id) => {
    // A 503 changed nothing (the node is between leases, say): try again;
    // a 409 after one means an earlier try went through after all.
    const deadline = Date.now() + retryMs;
    for (let tries = 1;; tries++) {
      const r = await api(node, "POST", "/jobs", {
        id,
        name: id,
        schedule: "* * * * * *",
        action: { type: "http", method: "POST", url: `${target.url}/exec` },
      });
      if (r.status === 201 || (r.status === 409 && tries > 1)) return;
      if (r.status !== 503 || Date.now() > deadline) {
        throw new Error(`creating ${id} answered ${r.status}: ${r.text}`);
      }
      await new Promise((res) => setTimeout(res, 100 * Math.min(tries, 10)));
    }
  });
  return ids;
}

// ------------------------------------------------------------ invariants

/** A row of the runs table, as the checker reads it. */
export interface RunRow {
  id: number;
  job: string;
  trigger: string;
  attempt: number;
  scheduledFor: number | null;
  startedAt: number;
  status: string;
  error: string | null;
  running: boolean;
  /** The node that ran it, where the table says (a `node` column). */
  node?: string | null;
}

/** A span of time, [from, to). */
export interface Window {
  from: number;
  to: number;
  label?: string;
}

/** A fault instant whose first ticks after are measured. */
export interface Fault {
  at: number;
  label?: string;
  /** The jobs it concerns (e.g. the dead node's), default all. */
  jobs?: string[];
}

/** Lateness figures in ms. */
export interface Stats {
  count: number;
  min: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/** What the checker found. */
export interface Report {
  /** The expected ticks are the whole periods in [first, last]. */
  first: number;
  last: number;
  jobs: number;
  /** Expected ticks, all jobs. */
  expected: number;
  /** Expected ticks that were executed. */
  executed: number;
  /** (job, scheduledFor or run, attempt) executed more than once. */
  doubled: {
    job: string;
    scheduledFor: number | null;
    attempt: number;
    count: number;
    runs: number[];
    nodes: (string | null)[];
  }[];
  /** Expected ticks with no execution, no interrupted or skipped run, outside every excused window. */
  missed: { job: string; scheduledFor: number; recorded: string | null }[];
  /** Expected ticks not executed but recorded interrupted. */
  interrupted: number;
  /** Expected ticks not executed but recorded skipped, or said skipped by policy (`policySkips`). */
  skipped: number;
  /** Of those, the ones only a node's log tells of (`policySkips`). */
  loggedSkips: number;
  /** Expected ticks not executed inside an excused window. */
  excused: number;
  /** Each excused window: its ticks, and how each was accounted. */
  windows: {
    from: number;
    to: number;
    label: string;
    ticks: number;
    executed: number;
    interrupted: number;
    skipped: number;
    excused: number;
  }[];
  /** Runs still running (started before `to`) after settling. */
  running: RunRow[];
  /** Executions in the window with no run recorded for their (job, tick, attempt). */
  unrecorded: Execution[];
  /** Ticks recorded twice in the runs table (besides executions). */
  doubledRuns: number;
  /**
   * Run ids the target saw for more than one execution that is not a
   * double (another job, tick or attempt): ids handed out again, e.g. after
   * a crash lost the runs that had them.
   */
  runIdClashes: { run: number; executions: number }[];
  /** Lateness of the first execution of each expected tick (receivedAt - scheduledFor). */
  lateness: Stats;
  /** Those latenesses one by one (ms), to pool over several reports. */
  lateValues: number[];
  /** Per fault: the lateness of each job's first tick at or after it (outside excused windows). */
  failover: {
    label: string;
    at: number;
    ticks: number;
    /** Ticks that neither ran nor are accounted for (a miss). */
    missing: number;
    /** Ticks that did not run but are recorded interrupted or were skipped by policy. */
    accounted: number;
    lateness: Stats;
    /** Each measured tick's lateness (ms), to pool over several faults. */
    values: number[];
  }[];
  /** No doubles, no misses, nothing left running. */
  ok: boolean;
}

/** What {@link analyze} checks. */
export interface AnalyzeInput {
  executions: Execution[];
  runs: RunRow[];
  /** The observed span; ticks within `marginMs` of either end are not expected. */
  from: number;
  to: number;
  jobs: string[];
  /** Default 1000. */
  marginMs?: number;
  /** Every job's period (default 1000: every second, on whole seconds). */
  periodMs?: number;
  /** Windows whose ticks need not have run (a downtime the catch-up policy skips). */
  excused?: Window[];
  /**
   * Ticks a node said it skipped by the job's overlap policy (its log:
   * "tick at ... skipped, previous run still going"): not run, not
   * recorded, but skipped by policy, so not missed.
   */
  policySkips?: { job: string; scheduledFor: number }[];
  faults?: Fault[];
}

/**
 * Figures of a list of ms values (nearest rank); all NaN when empty.
 *
 * @example
 * ```ts
 * stats([1, 2, 3]).p50; // 2
 * ```
 */
export function stats(values: number[]): Stats {
  const v = values.slice().sort((a, b) => a - b);
  const rank = (p: number) => v[Math.max(0, Math.ceil(p * v.length) - 1)];
  if (v.length === 0) {
    return { count: 0, min: NaN, p50: NaN, p99: NaN, max: NaN, mean: NaN };
  }
  return {
    count: v.length,
    min: v[0],
    p50: rank(0.5),
    p99: rank(0.99),
    max: v[v.length - 1],
    mean: v.reduce((a, b) => a + b, 0) / v.length,
  };
}

const keyOf = (job: string, at: number | null, attempt: number, run = 0) =>
  `${job}\u0000${at ?? `run:${run}`}\u0000${attempt}`;

const isInterrupted = (r: RunRow) =>
  r.status === "failed" && r.error === "interrupted";
const isSkipped = (r: RunRow) =>
  r.status === "skipped" || /\bskipped\b/i.test(r.error ?? "");

/**
 * The invariants over given data (no I/O): what {@link checkInvariants}
 * reports once the data has settled.
 *
 * @example
 * ```ts
 * const r = analyze({ executions, runs: [], from: 0, to: 10_000, jobs: ["a"] });
 * r.missed; // the ticks of "a" in [1000, 9000] that never ran
 * ```
 */
export function analyze(input: AnalyzeInput): Report {
  const period = input.periodMs ?? 1000;
  const margin = input.marginMs ?? 1000;
  const excused = (input.excused ?? []).map((w, i) => ({
    ...w,
    label: w.label ?? `window ${i + 1}`,
  }));
  const jobs = new Set(input.jobs);
  const first = Math.ceil((input.from + margin) / period) * period;
  const last = Math.ceil((input.to - margin) / period) * period - period;
  const inWindow = (t: number) => t >= first && t <= last;
  const excusing = (t: number) => excused.find((w) => t >= w.from && t < w.to);
  const policy = new Set(
    (input.policySkips ?? []).map((p) => keyOf(p.job, p.scheduledFor, 0)),
  );

  const executions = input.executions.filter((e) => jobs.has(e.job));
  const byKey = new Map<string, Execution[]>();
  for (const e of executions) {
    const k = keyOf(e.job, e.scheduledFor, e.attempt, e.run);
    const list = byKey.get(k);
    if (list) list.push(e);
    else byKey.set(k, [e]);
  }
  const doubled: Report["doubled"] = [];
  for (const list of byKey.values()) {
    if (list.length < 2) continue;
    doubled.push({
      job: list[0].job,
      scheduledFor: list[0].scheduledFor,
      attempt: list[0].attempt,
      count: list.length,
      runs: list.map((e) => e.run),
      nodes: list.map((e) => e.node ?? null),
    });
  }
  // A tick ran when any attempt of it ran; its lateness is its first arrival.
  const ran = new Map<string, number>();
  for (const e of executions) {
    if (e.scheduledFor === null) continue;
    const k = keyOf(e.job, e.scheduledFor, 0);
    const seen = ran.get(k);
    if (seen === undefined || e.receivedAt < seen) ran.set(k, e.receivedAt);
  }
  const runs = input.runs.filter((r) => jobs.has(r.job));
  const recordedTick = new Map<string, RunRow[]>();
  const recordedRun = new Set<string>();
  const rowsPerKey = new Map<string, number>();
  for (const r of runs) {
    if (r.scheduledFor !== null) {
      const k = keyOf(r.job, r.scheduledFor, 0);
      const list = recordedTick.get(k);
      if (list) list.push(r);
      else recordedTick.set(k, [r]);
    }
    const k = keyOf(r.job, r.scheduledFor, r.attempt, r.id);
    recordedRun.add(k);
    rowsPerKey.set(k, (rowsPerKey.get(k) ?? 0) + 1);
  }

  const windows = excused.map((w) => ({
    from: w.from,
    to: w.to,
    label: w.label,
    ticks: 0,
    executed: 0,
    interrupted: 0,
    skipped: 0,
    excused: 0,
  }));
  const missed: Report["missed"] = [];
  const late: number[] = [];
  let expected = 0, executed = 0, interrupted = 0, skipped = 0, excusedN = 0;
  let loggedSkips = 0;
  for (const job of input.jobs) {
    for (let t = first; t <= last; t += period) {
      expected++;
      const k = keyOf(job, t, 0);
      const w = excusing(t);
      const wi = w ? excused.indexOf(w) : -1;
      if (wi >= 0) windows[wi].ticks++;
      const at = ran.get(k);
      if (at !== undefined) {
        executed++;
        late.push(at - t);
        if (wi >= 0) windows[wi].executed++;
        continue;
      }
      const rows = recordedTick.get(k) ?? [];
      if (rows.some(isInterrupted)) {
        interrupted++;
        if (wi >= 0) windows[wi].interrupted++;
      } else if (rows.some(isSkipped) || policy.has(k)) {
        skipped++;
        if (!rows.some(isSkipped)) loggedSkips++;
        if (wi >= 0) windows[wi].skipped++;
      } else if (wi >= 0) {
        excusedN++;
        windows[wi].excused++;
      } else {
        missed.push({
          job,
          scheduledFor: t,
          recorded: rows.length
            ? rows.map((r) =>
              `run ${r.id} ${r.status}${r.error ? ` (${r.error})` : ""}`
            ).join("; ")
            : null,
        });
      }
    }
  }
  const unrecorded = executions.filter((e) =>
    e.scheduledFor !== null && inWindow(e.scheduledFor) &&
    !recordedRun.has(keyOf(e.job, e.scheduledFor, e.attempt))
  );
  const running = runs.filter((r) => r.running && r.startedAt < input.to);
  const idUses = new Map<number, Set<string>>();
  for (const e of executions) {
    const k = keyOf(e.job, e.scheduledFor, e.attempt, e.run);
    const uses = idUses.get(e.run);
    if (uses) uses.add(k);
    else idUses.set(e.run, new Set([k]));
  }
  const runIdClashes = [...idUses].filter(([, uses]) => uses.size > 1)
    .map(([run, uses]) => ({ run, executions: uses.size }));

  const failover: Report["failover"] = (input.faults ?? []).map((f, i) => {
    let missing = 0, accounted = 0;
    const values: number[] = [];
    for (const job of f.jobs ?? input.jobs) {
      let t = Math.ceil(f.at / period) * period;
      while (t <= last && excusing(t)) t += period;
      if (t > last) continue;
      const k = keyOf(job, t, 0);
      const at = ran.get(k);
      const rows = recordedTick.get(k) ?? [];
      if (at !== undefined) values.push(at - t);
      else if (
        rows.some(isInterrupted) || rows.some(isSkipped) || policy.has(k)
      ) accounted++;
      else missing++;
    }
    return {
      label: f.label ?? `fault ${i + 1}`,
      at: f.at,
      ticks: values.length + missing + accounted,
      missing,
      accounted,
      lateness: stats(values),
      values,
    };
  });

  return {
    first,
    last,
    jobs: input.jobs.length,
    expected,
    executed,
    doubled,
    missed,
    interrupted,
    skipped,
    loggedSkips,
    excused: excusedN,
    windows,
    running,
    unrecorded,
    doubledRuns: [...rowsPerKey.values()].filter((n) => n > 1).length,
    runIdClashes,
    lateness: stats(late),
    lateValues: late,
    failover,
    ok: doubled.length === 0 && missed.length === 0 && running.length === 0,
  };
}

/**
 * The runs of `jobs` that are running, or whose tick or start is in
 * [from, to), read straight from the runs table.
 */
export async function readRuns(
  pg: PgLike | string,
  schema: string,
  jobs: string[],
  from: number,
  to: number,
): Promise<RunRow[]> {
  const url = typeof pg === "string" ? pg : pg.url();
  // The node that ran it: its epoch's name, where cluster mode records one.
  const { rows } = await query(
    url,
    `SELECT id::float8 AS id, job_id, trigger, attempt,
       (extract(epoch FROM scheduled_for) * 1000)::float8 AS scheduled_for,
       (extract(epoch FROM started_at) * 1000)::float8 AS started_at,
       status, error, running,
       (SELECT n.name || '#' || n.epoch FROM ${schema}.nodes n
         WHERE n.epoch = (to_jsonb(r) ->> 'node_epoch')::bigint) AS node
     FROM ${schema}.runs r
     WHERE job_id = ANY($1) AND (running
       OR scheduled_for >= to_timestamp($2 / 1000.0) AND scheduled_for < to_timestamp($3 / 1000.0)
       OR started_at >= to_timestamp($2 / 1000.0) AND started_at < to_timestamp($3 / 1000.0))`,
    [jobs, from, to],
  );
  return rows.map((r) => ({
    id: r.id,
    job: r.job_id,
    trigger: r.trigger,
    attempt: r.attempt,
    scheduledFor: r.scheduled_for === null ? null : Math.round(r.scheduled_for),
    startedAt: Math.round(r.started_at),
    status: r.status,
    error: r.error,
    running: r.running,
    node: r.node,
  }));
}

/** What {@link checkInvariants} checks. */
export interface CheckInput extends Omit<AnalyzeInput, "executions" | "runs"> {
  target: Pick<Target, "executions">;
  pg: PgLike | string;
  schema: string;
  /**
   * How long to wait for the last ticks to be received or recorded and for
   * every run to end (default 10 s); the report is then taken as it is.
   */
  settleMs?: number;
}

/**
 * Reads the target's log and the runs table and checks the invariants,
 * polling until nothing is missed or running any more, or
 * `settleMs` passes.
 *
 * @example
 * ```ts
 * const r = await checkInvariants({ target, pg: cluster.pg, schema: cluster.schema, from, to, jobs, excused: [{ from: killAt - 1000, to: upAt }] });
 * assertEquals(r.doubled.length, 0);
 * ```
 */
export async function checkInvariants(input: CheckInput): Promise<Report> {
  const deadline = Date.now() + (input.settleMs ?? 10_000);
  const margin = input.marginMs ?? 1000;
  for (;;) {
    // The target's log first: every execution in it had its start committed
    // before it ran, so the runs read after it have its row (read the other
    // way round, a run started between the two reads looks unrecorded).
    const executions = input.target.executions();
    const runs = await readRuns(
      input.pg,
      input.schema,
      input.jobs,
      input.from - margin,
      input.to + margin,
    );
    const report = analyze({ ...input, executions, runs });
    // Executions in the window are a margin old: recorded by now, or never.
    const settled = report.missed.length === 0 && report.running.length === 0;
    if (settled || Date.now() >= deadline) return report;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * The report in a few lines, for a failing assertion's message or a benchmark.
 *
 * @example
 * ```ts
 * console.log(summary(report));
 * ```
 */
export function summary(r: Report): string {
  const ms = (s: Stats) =>
    s.count
      ? `p50 ${s.p50} ms, p99 ${s.p99} ms, max ${s.max} ms (n ${s.count})`
      : "none";
  const lines = [
    `${r.jobs} jobs, ticks ${new Date(r.first).toISOString()}..${
      new Date(r.last).toISOString()
    }: ${r.expected} expected, ${r.executed} executed, ${r.interrupted} interrupted, ${r.skipped} skipped, ${r.excused} excused`,
    `doubled ${r.doubled.length}, missed ${r.missed.length}, running ${r.running.length}, unrecorded ${r.unrecorded.length}, recorded twice ${r.doubledRuns}, run ids reused ${r.runIdClashes.length}`,
    `lateness ${ms(r.lateness)}`,
    ...r.failover.map((f) =>
      `failover ${f.label}: ${
        ms(f.lateness)
      }, missing ${f.missing}, accounted ${f.accounted}`
    ),
    ...r.doubled.slice(0, 5).map((d) =>
      `  doubled ${d.job} @${d.scheduledFor} #${d.attempt}: runs ${d.runs}`
    ),
    ...r.missed.slice(0, 5).map((m) =>
      `  missed ${m.job} @${new Date(m.scheduledFor).toISOString()}${
        m.recorded ? `: ${m.recorded}` : ""
      }`
    ),
  ];
  return lines.join("\n");
}
