/**
 * Reading `GET /jobs/events`: a Server-Sent Events parser and a loop that
 * keeps the stream open, reconnecting with `Last-Event-ID` so nothing is
 * missed (the server replays what came in between, or sends `reset`).
 *
 * @example
 * ```ts
 * await followEvents(client, {
 *   onEvent: (e) => console.log(e.event, e.data),
 *   onStatus: (s) => console.error(s),
 * });
 * ```
 * @module
 */
import type { Client } from "./client.ts";
import { createSseParser, type SseEvent } from "@/lib/client/sse.ts";
import { CliError, EXIT } from "./errors.ts";

/** What {@link followEvents} reports to its caller. */
export interface FollowOptions {
  /** Called for every event but the server's `hello`. */
  onEvent(e: SseEvent): void;
  /** Connection news for a human ("connected", "reconnecting in 2s"). */
  onStatus(message: string): void;
  /** Stops following when aborted. */
  signal?: AbortSignal;
  /** Reconnect when nothing, not even a heartbeat, arrived for this long. */
  idleMs?: number;
  /** The stream's query (`?output=JOB`), if any. */
  query?: string;
  /** Called once each connection is open (to read what came before it). */
  onOpen?(): void | Promise<void>;
}

/** The server pings every 15 s; three missed pings mean the connection is dead. */
const IDLE_MS = 45_000;
const DEFAULT_RETRY_MS = 2000;

/** Where following the stream has got to, across connections. */
interface Position {
  /** The id to send as `Last-Event-ID`. */
  lastId: string | null;
  retryMs: number;
  /** Whether a connection was ever opened. */
  connected: boolean;
}

/**
 * Follows the event stream until `signal` aborts. The first connection must
 * open (else its CliError is thrown); later drops are retried with
 * `Last-Event-ID`, waiting what the server's `retry:` asked for. An answer
 * of 401, 403 or 404 on a reconnect is thrown too: retrying cannot fix it.
 *
 * @example
 * ```ts
 * const ac = new AbortController();
 * await followEvents(client, { onEvent: console.log, onStatus: console.error, signal: ac.signal });
 * ```
 */
export async function followEvents(
  client: Client,
  opts: FollowOptions,
): Promise<void> {
  const pos: Position = {
    lastId: null,
    retryMs: DEFAULT_RETRY_MS,
    connected: false,
  };
  while (!opts.signal?.aborted) {
    try {
      await readStream(client, pos, opts);
      if (opts.signal?.aborted) return;
      opts.onStatus(`stream ended; reconnecting in ${pos.retryMs} ms`);
    } catch (e) {
      if (opts.signal?.aborted) return;
      if (!pos.connected || !retryable(e)) throw e;
      opts.onStatus(
        `${(e as Error).message}; reconnecting in ${pos.retryMs} ms`,
      );
    }
    await sleep(pos.retryMs, opts.signal);
  }
}

function retryable(e: unknown): boolean {
  return !(e instanceof CliError) || e.exitCode === EXIT.server;
}

/** Reads one connection until it ends, moving `pos` along. */
async function readStream(
  client: Client,
  pos: Position,
  opts: FollowOptions,
): Promise<void> {
  const ac = new AbortController();
  const stop = () => ac.abort("stopped");
  opts.signal?.addEventListener("abort", stop, { once: true });
  const idleMs = opts.idleMs ?? IDLE_MS;
  let idle = setTimeout(() => ac.abort("idle"), idleMs);
  const parser = createSseParser();
  try {
    const res = await client.openEvents(pos.lastId, ac.signal, opts.query);
    opts.onStatus(
      pos.connected
        ? `reconnected to ${client.url}/jobs/events (after event ${pos.lastId})`
        : `connected to ${client.url}/jobs/events`,
    );
    pos.connected = true;
    await opts.onOpen?.();
    const text = res.body!.pipeThrough(new TextDecoderStream());
    for await (const chunk of text) {
      clearTimeout(idle);
      idle = setTimeout(() => ac.abort("idle"), idleMs);
      for (const e of parser.push(chunk)) take(e, pos, opts);
      pos.retryMs = parser.retryMs ?? pos.retryMs;
    }
  } catch (e) {
    if (ac.signal.reason === "idle") {
      throw new CliError(`no data for ${idleMs} ms`, EXIT.server);
    }
    if (ac.signal.aborted) return;
    if (e instanceof CliError) throw e;
    throw new CliError(
      `event stream broke: ${(e as Error).message}`,
      EXIT.server,
    );
  } finally {
    clearTimeout(idle);
    opts.signal?.removeEventListener("abort", stop);
  }
}

/** Hands one event on and records its id. */
function take(e: SseEvent, pos: Position, opts: FollowOptions) {
  // hello carries the server's newest id: our position only on a first connect.
  if (e.event === "hello") {
    pos.lastId = pos.lastId ?? e.id;
    return;
  }
  if (e.id !== null) pos.lastId = e.id;
  opts.onEvent(e);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
