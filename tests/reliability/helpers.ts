/**
 * Helpers for the reliability tests: jobpro as a real child process (the
 * start task's exact command line, so it can be SIGKILLed by pid), its JSON
 * API through a per-process HTTP client, a raw-socket HTTP client for
 * requests fetch would never send, an event-stream recorder, and the scale
 * knob: `JOBPRO_SOAK=1` runs the long versions.
 *
 * @example
 * ```ts
 * await using jp = await startProcess({ JOBPRO_DB: path });
 * const r = await jp.api("GET", "/jobs");
 * ```
 * @module
 */
import { openSse, type SseClient } from "../api/helpers.ts";

export { localServer, tempDb, waitFor } from "../helpers.ts";
export { openSse } from "../api/helpers.ts";
export type { SseClient, SseEvent } from "../api/helpers.ts";

/** Whether the long (soak) scale was asked for. */
export const SOAK = Deno.env.get("JOBPRO_SOAK") === "1";

/**
 * The CI value, or the soak value under `JOBPRO_SOAK=1`; an env variable
 * named `name` overrides both.
 *
 * @example
 * ```ts
 * const kills = scale("JOBPRO_CRASH_KILLS", 5, 20);
 * ```
 */
export function scale(name: string, ci: number, soak: number): number {
  const raw = Deno.env.get(name);
  if (raw !== undefined && raw !== "" && Number.isFinite(Number(raw))) {
    return Number(raw);
  }
  return SOAK ? soak : ci;
}

/** The repository root. */
export const ROOT = new URL("../../", import.meta.url).pathname;

/** A TCP port that was free a moment ago. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** `deno task start`'s command line, without the leading `deno`. */
export async function startTaskArgs(): Promise<string[]> {
  const tasks = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).tasks;
  const words = String(tasks.start).trim().split(/\s+/);
  if (words[0] !== "deno") throw new Error(`unexpected start task: ${words}`);
  return words.slice(1);
}

/** A JSON call's outcome. */
export interface Answer {
  status: number;
  // deno-lint-ignore no-explicit-any
  body: any;
  text: string;
  headers: Headers;
}

/** A jobpro child process. */
export interface Proc {
  url: string;
  port: number;
  pid: number;
  child: Deno.ChildProcess;
  /** When it was spawned (epoch ms). */
  startedAt: number;
  /** Everything it wrote to stdout and stderr so far. */
  log(): string;
  /** Resolves with its exit status. */
  readonly exited: Promise<Deno.CommandStatus>;
  /** Whether it has exited. */
  readonly dead: boolean;
  /** A JSON call through this process's own HTTP client. */
  api(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<Answer>;
  /** fetch through this process's own HTTP client. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Sends SIGKILL and waits for the exit. */
  kill(): Promise<Deno.CommandStatus>;
  /** Sends SIGTERM and waits for the exit (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<Deno.CommandStatus>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options for {@link startProcess}. */
export interface StartOptions {
  /** Wait until /healthz answers 200 (default true). */
  healthy?: boolean;
  timeoutMs?: number;
  port?: number;
  /** Limits to start it under, as `ulimit` arguments (`-n 1024`, `-f 4096`). */
  ulimit?: string;
}

/**
 * Spawns jobpro with the start task's command line and `env` (PORT and HOST
 * are filled in), and waits until it is healthy.
 *
 * @example
 * ```ts
 * const jp = await startProcess({ JOBPRO_DB: "/tmp/x/jobs.duckdb" });
 * await jp.stop();
 * ```
 */
export async function startProcess(
  env: Record<string, string>,
  opts: StartOptions = {},
): Promise<Proc> {
  const port = opts.port ?? freePort();
  const startedAt = Date.now();
  const argv = [Deno.execPath(), ...await startTaskArgs()];
  const quoted = argv.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  const [program, ...args] = opts.ulimit
    ? ["sh", "-c", `ulimit ${opts.ulimit} && exec ${quoted}`]
    : argv;
  const child = new Deno.Command(program, {
    args,
    cwd: ROOT,
    env: { HOST: "127.0.0.1", ...env, PORT: String(port), NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let log = "";
  const pump = async (s: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of s) {
        log += decoder.decode(chunk, { stream: true });
      }
    } catch { /* the process died */ }
  };
  const pumped = Promise.all([pump(child.stdout), pump(child.stderr)]);
  let dead = false;
  const exited = child.status.then(async (s) => {
    dead = true;
    await pumped;
    return s;
  });
  const client = Deno.createHttpClient({});
  const url = `http://127.0.0.1:${port}`;
  const doFetch = (path: string, init: RequestInit = {}) =>
    fetch(url + path, { ...init, client } as RequestInit);
  const proc: Proc = {
    url,
    port,
    pid: child.pid,
    child,
    startedAt,
    log: () => log,
    exited,
    get dead() {
      return dead;
    },
    fetch: doFetch,
    async api(method, path, body, headers = {}) {
      const res = await doFetch(path, {
        method,
        headers: {
          accept: "application/json",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...headers,
        },
        body: body === undefined
          ? undefined
          : typeof body === "string"
          ? body
          : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed = null;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch { /* not JSON */ }
      return { status: res.status, body: parsed, text, headers: res.headers };
    },
    async kill() {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      const s = await exited;
      client.close();
      return s;
    },
    async stop(graceMs = 30_000) {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }, graceMs);
      const s = await exited;
      clearTimeout(timer);
      client.close();
      return s;
    },
    async [Symbol.asyncDispose]() {
      if (!dead) await proc.kill();
      else client.close();
    },
  };
  if (opts.healthy ?? true) {
    try {
      await untilHealthy(proc, opts.timeoutMs ?? 60_000);
    } catch (e) {
      await proc.kill();
      throw e;
    }
  }
  return proc;
}

/** Waits until the process answers /healthz with 200; fails if it exits first. */
export async function untilHealthy(proc: Proc, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.dead) {
      throw new Error(
        `jobpro exited before it was healthy:\n${proc.log().slice(-4000)}`,
      );
    }
    try {
      const res = await proc.fetch("/healthz");
      await res.body?.cancel();
      if (res.status === 200) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `jobpro not healthy after ${timeoutMs} ms:\n${proc.log().slice(-4000)}`,
  );
}

/** Every job, paging through GET /jobs. */
export async function allJobs(
  proc: Proc,
  headers: Record<string, string> = {},
  // deno-lint-ignore no-explicit-any
): Promise<any[]> {
  // deno-lint-ignore no-explicit-any
  const out: any[] = [];
  for (let offset = 0;; offset += 1000) {
    const r = await proc.api(
      "GET",
      `/jobs?limit=1000&offset=${offset}`,
      undefined,
      headers,
    );
    if (r.status !== 200) {
      throw new Error(`GET /jobs answered ${r.status}: ${r.text}`);
    }
    out.push(...r.body.jobs);
    if (offset + 1000 >= r.body.total) return out;
  }
}

/** A run as the API shows it. */
export interface ApiRun {
  id: number;
  jobId: string;
  trigger: "schedule" | "manual" | "retry" | "startup";
  attempt: number;
  scheduledFor: string | null;
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
  status: "running" | "complete" | "failed" | "cancelled";
  message: string | null;
  error: string | null;
}

/** Every run of a job, newest first, paging through GET /jobs/:id/runs. */
export async function allRuns(
  proc: Proc,
  jobId: string,
  headers: Record<string, string> = {},
): Promise<ApiRun[]> {
  const out: ApiRun[] = [];
  for (let offset = 0;; offset += 1000) {
    const r = await proc.api(
      "GET",
      `/jobs/${encodeURIComponent(jobId)}/runs?limit=1000&offset=${offset}`,
      undefined,
      headers,
    );
    if (r.status !== 200) {
      throw new Error(`GET runs of ${jobId} answered ${r.status}: ${r.text}`);
    }
    out.push(...r.body.runs);
    if (offset + 1000 >= r.body.total) return out;
  }
}

/** Runs `fn` over `items` with at most `n` at a time. */
export async function pool<T, R>(
  items: T[],
  n: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

/** What a raw HTTP exchange came back with. */
export interface RawAnswer {
  /** The status code, or null when the server closed without answering. */
  status: number | null;
  head: string;
  body: Uint8Array;
  /** The read deadline passed before the server closed the connection. */
  timedOut: boolean;
}

/**
 * Sends `bytes` as is over a new TCP connection and reads until the server
 * closes it (send `Connection: close`) or the deadline passes.
 *
 * @example
 * ```ts
 * const r = await rawHttp(url, new TextEncoder().encode("GET /../x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
 * ```
 */
export async function rawHttp(
  base: string,
  bytes: Uint8Array,
  timeoutMs = 10_000,
  { headOnly = false } = {},
): Promise<RawAnswer> {
  const url = new URL(base);
  const conn = await Deno.connect({
    hostname: url.hostname,
    port: Number(url.port),
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      conn.close();
    } catch { /* closed */ }
  }, timeoutMs);
  const chunks: Uint8Array[] = [];
  try {
    // Write and read at once: the server may answer (413, 400) before it has
    // read everything, and stop reading.
    const writing = (async () => {
      for (let at = 0; at < bytes.length;) {
        at += await conn.write(bytes.subarray(at, at + 65536));
      }
    })().catch(() => {});
    const buf = new Uint8Array(65536);
    let seen = "";
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
      if (headOnly) {
        seen += new TextDecoder().decode(buf.subarray(0, n));
        if (seen.includes("\r\n\r\n")) break; // an event stream never ends
      }
    }
    if (!headOnly) await writing;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed */ }
  }
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  const text = new TextDecoder().decode(all);
  const end = text.indexOf("\r\n\r\n");
  const head = end === -1 ? text : text.slice(0, end);
  const m = head.match(/^HTTP\/1\.[01] (\d{3})/);
  const headBytes = end === -1 ? all.length : new TextEncoder().encode(
    text.slice(0, end + 4),
  ).length;
  return {
    status: m ? Number(m[1]) : null,
    head,
    body: all.subarray(Math.min(headBytes, all.length)),
    timedOut,
  };
}

/** The resident memory of a process, in MB (Linux). */
export function rssMb(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(status.match(/VmRSS:\s+(\d+) kB/)?.[1] ?? NaN) / 1024;
}

/**
 * An event stream kept open on a process, recording what it sees; ends when
 * the process dies.
 */
export async function recordEvents(
  proc: Proc,
  headers: Record<string, string> = {},
): Promise<SseClient> {
  return await openSse(`${proc.url}/jobs/events`, headers);
}

/** A random integer in [lo, hi]. */
export function randInt(lo: number, hi: number, rand = Math.random): number {
  return lo + Math.floor(rand() * (hi - lo + 1));
}

/**
 * A small seeded generator (mulberry32), so a failing run can be repeated
 * with the seed it printed.
 */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The seed for this run: `JOBPRO_SEED` if set; else a fresh one under
 * JOBPRO_SOAK=1 (to explore); else `ciSeed` (the same inputs on every CI run).
 */
export function testSeed(ciSeed: number): number {
  const raw = Deno.env.get("JOBPRO_SEED");
  if (raw) return Number(raw);
  return SOAK ? Math.floor(Math.random() * 2 ** 31) : ciSeed;
}
