/**
 * Helpers for the REST API tests: a real jobpro on port 0 with a real DuckDB
 * file, JSON calls, a real streaming Server-Sent Events client, raw HTTP over
 * TCP (for bodies a fetch client would not send), and console capture.
 *
 * @example
 * ```ts
 * await withServer(async (jp) => {
 *   const r = await call(jp, "GET", "/jobs");
 * });
 * ```
 * @module
 */
import { assertStringIncludes } from "@std/assert";
import { readConfig } from "@/lib/config.ts";
import { type Jobpro, startJobpro } from "@/main.ts";
import { tempDb } from "../helpers.ts";

export { localServer, tempDb, waitFor } from "../helpers.ts";

/** A token long enough for the configuration. */
export const TOKEN = "test-token-0123456789abcdef";
/** A read-only token. */
export const READ_TOKEN = "read-token-0123456789abcdef";

/** Starts jobpro with `env`, runs `fn`, and always stops it. */
export async function withServer(
  fn: (jp: Jobpro) => Promise<void>,
  env: Record<string, string> = {},
) {
  const db = await tempDb();
  const jp = await startJobpro(
    readConfig({ PORT: "0", JOBPRO_DB: db.path, ...env }),
    { quiet: true },
  );
  try {
    await fn(jp);
  } finally {
    await jp.close();
    await db.cleanup();
  }
}

/** A JSON call's outcome. */
export interface Called {
  res: Response;
  status: number;
  // deno-lint-ignore no-explicit-any
  body: any;
  text: string;
}

/**
 * Calls the API with JSON; the body is sent as is when it is a string.
 *
 * @example
 * ```ts
 * const r = await call(jp, "POST", "/jobs", { name: "x", action });
 * ```
 */
export async function call(
  jp: Jobpro,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Called> {
  const res = await fetch(jp.url + path, {
    method,
    headers: {
      "content-type": "application/json",
      accept: "application/json",
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
  } catch {
    parsed = null;
  }
  return { res, status: res.status, body: parsed, text };
}

/** A manual job definition doing nothing. */
export function manualJob(id: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    name: id.toUpperCase(),
    schedule: "",
    autoStart: false,
    action: { type: "function", name: "noop" },
    ...extra,
  };
}

/** One Server-Sent Event as the client saw it. */
export interface SseEvent {
  event: string;
  id: string | null;
  data: string;
}

/** A real streaming `fetch` client of an event stream. */
export interface SseClient {
  res: Response;
  events: SseEvent[];
  comments: string[];
  /** Bytes received so far. */
  readonly bytes: number;
  /** Whether the server ended (or broke) the stream. */
  readonly ended: boolean;
  /** Reads until `check` holds; rejects at the deadline or if the stream ends first. */
  until(check: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Resolves when the stream has ended, or rejects at the deadline. */
  waitEnded(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens an event stream and parses it as it arrives. With `paused`, nothing is
 * read after the first event until `resume()` — a client that stops reading.
 *
 * @example
 * ```ts
 * const c = await openSse(`${jp.url}/jobs/events`);
 * await c.until(() => c.events.length > 1, "an event");
 * await c.close();
 * ```
 */
export async function openSse(
  url: string,
  headers: Record<string, string> = {},
  opts: { stopAfterFirst?: boolean } = {},
): Promise<SseClient> {
  const ac = new AbortController();
  const res = await fetch(url, { headers, signal: ac.signal });
  assertStringIncludes(
    res.headers.get("content-type") ?? "",
    "text/event-stream",
  );
  const events: SseEvent[] = [];
  const comments: string[] = [];
  let bytes = 0;
  let ended = false;
  let wake = () => {};
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  const parse = () => {
    let i;
    while ((i = buf.indexOf("\n\n")) !== -1) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const lines = block.split("\n");
      const data = lines.filter((l) => l.startsWith("data: ")).map((l) =>
        l.slice(6)
      );
      for (const l of lines) if (l.startsWith(": ")) comments.push(l.slice(2));
      if (data.length === 0) continue;
      events.push({
        event: lines.find((l) => l.startsWith("event: "))?.slice(7) ??
          "message",
        id: lines.find((l) => l.startsWith("id: "))?.slice(4) ?? null,
        data: data.join("\n"),
      });
    }
  };
  const pump = (async () => {
    try {
      for (;;) {
        if (opts.stopAfterFirst && events.length > 0) return;
        const { value, done } = await reader.read();
        if (done) break;
        bytes += value.byteLength;
        buf += decoder.decode(value, { stream: true });
        parse();
        wake();
      }
    } catch {
      // aborted by close(), or broken by the server
    } finally {
      if (!opts.stopAfterFirst || events.length === 0) ended = true;
      wake();
    }
  })();
  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  const client: SseClient = {
    res,
    events,
    comments,
    get bytes() {
      return bytes;
    },
    get ended() {
      return ended;
    },
    async until(check, what, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!check()) {
        if (ended) throw new Error(`stream ended before ${what}`);
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}`,
          );
        }
        await wait(Math.min(left, 200));
      }
    },
    async waitEnded(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!ended) {
        if (Date.now() > deadline) {
          throw new Error(`stream still open after ${timeoutMs} ms`);
        }
        // Drain what the server had sent before it dropped us.
        const { done } = await Promise.race([
          reader.read().then((r) => {
            if (r.value) bytes += r.value.byteLength;
            return r;
          }, () => ({ done: true })),
          new Promise<{ done: false }>((r) =>
            setTimeout(() => r({ done: false }), 200)
          ),
        ]);
        if (done) ended = true;
      }
    },
    async close() {
      ac.abort();
      await reader.cancel().catch(() => {});
      await pump;
    },
  };
  return client;
}

/**
 * Sends raw bytes over TCP and returns the status line and what followed,
 * read until the server answers (or the deadline). For requests a fetch
 * client would not make: a body that never ends, a lying Content-Length.
 *
 * @example
 * ```ts
 * const head = await rawRequest(jp.url, "POST /jobs HTTP/1.1\r\nHost: x\r\n...", []);
 * ```
 */
export async function rawRequest(
  base: string,
  head: string,
  chunks: Uint8Array[],
  timeoutMs = 10_000,
): Promise<string> {
  const url = new URL(base);
  const conn = await Deno.connect({
    hostname: url.hostname,
    port: Number(url.port),
  });
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    await conn.write(new TextEncoder().encode(head));
    for (const c of chunks) await conn.write(c).catch(() => 0);
    const buf = new Uint8Array(4096);
    let got = "";
    while (!got.includes("\r\n\r\n")) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      got += new TextDecoder().decode(buf.subarray(0, n));
    }
    return got;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
}

/**
 * Records console output while `fn` runs.
 *
 * @example
 * ```ts
 * const { logs } = await captureConsole(() => call(jp, "GET", "/boom"));
 * ```
 */
export async function captureConsole<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; logs: string }> {
  const saved = {
    log: console.log,
    error: console.error,
    warn: console.warn,
    info: console.info,
  };
  let logs = "";
  const record = (...args: unknown[]) => {
    logs +=
      args.map((a) =>
        a instanceof Error ? `${a.message}\n${a.stack}` : String(a)
      ).join(" ") + "\n";
  };
  Object.assign(console, {
    log: record,
    error: record,
    warn: record,
    info: record,
  });
  try {
    return { result: await fn(), logs };
  } finally {
    Object.assign(console, saved);
  }
}
