/**
 * Server-Sent Events: `sse(req, start)` returns a `text/event-stream`
 * response and hands `start` a stream to `send()` events on. It frames
 * `event`/`id`/`retry`/multi-line `data`, sends a `: ping` comment every
 * `heartbeatMs`, exposes the client's `Last-Event-ID`, and closes the stream,
 * running the cleanup `start` returned exactly once, when the client
 * disconnects, when the server calls `close()`, or when the client reads so
 * slowly that more than `maxBufferedBytes` wait in its buffer.
 *
 * @example
 * ```ts
 * import { sse } from "@/lib/web/sse.ts";
 * export const handler = {
 *   GET: (ctx) =>
 *     sse(ctx.req, (stream) => {
 *       const off = events.subscribe((e) => stream.send({ event: e.type, id: e.seq, data: e }));
 *       return off; // runs when the client goes away
 *     }),
 * };
 * ```
 * @module
 */

/** One event. */
export interface SseMessage {
  /** The event type; the browser's default is `message`. */
  event?: string;
  /** Sets the client's last event id, sent back as `Last-Event-ID` on reconnect. */
  id?: string | number;
  /** A string is sent as is (split into `data:` lines); anything else as JSON. */
  data: unknown;
  /** Reconnection delay for the client, in ms. */
  retry?: number;
}

/** The open stream handed to `start`. */
export interface SseStream {
  /** The `Last-Event-ID` request header, or `null`. */
  readonly lastEventId: string | null;
  /** Aborted once the stream is closed, for any reason. */
  readonly signal: AbortSignal;
  /** Whether the stream is closed. */
  readonly closed: boolean;
  /** Bytes queued for the client that the server has not taken yet (for backpressure). */
  readonly buffered: number;
  /** Queues an event; `false` when the stream is closed (or just got closed for overflow). */
  send(message: SseMessage): boolean;
  /**
   * Queues an event already framed with {@linkcode formatEvent} and encoded:
   * one event sent to many clients is then serialized once, not per client.
   */
  sendFramed(bytes: Uint8Array): boolean;
  /** Queues a comment line (`: text`), which clients ignore. */
  comment(text: string): boolean;
  /** Ends the stream after what is queued. */
  close(): void;
  /** Drops the client at once, discarding what is queued (as on overflow). */
  drop(reason: string): void;
}

/** Options of {@linkcode sse}. */
export interface SseOptions {
  /** Interval of `: ping` comments in ms; 0 turns them off. Default 15 000. */
  heartbeatMs?: number;
  /** Bytes allowed to wait for a slow client before it is dropped. Default 1 MiB. */
  maxBufferedBytes?: number;
  /** Extra response headers. */
  headers?: HeadersInit;
}

/** What `start` may return: a cleanup to run when the stream closes. */
export type SseCleanup = void | (() => void);

const encoder = new TextEncoder();

/**
 * Opens an event stream for `req`.
 *
 * @example
 * ```ts
 * return sse(ctx.req, (stream) => {
 *   stream.send({ event: "hello", id: 1, data: "line one\nline two" });
 *   const timer = setInterval(() => stream.send({ data: { now: Date.now() } }), 1000);
 *   return () => clearInterval(timer);
 * }, { heartbeatMs: 15_000 });
 * ```
 */
export function sse(
  req: Request,
  start: (stream: SseStream) => SseCleanup | Promise<SseCleanup>,
  options: SseOptions = {},
): Response {
  const channel = openChannel(req, options);
  begin(channel, start);
  const headers = new Headers(options.headers);
  headers.set("content-type", "text/event-stream; charset=utf-8");
  headers.set("cache-control", "no-cache");
  headers.set("x-accel-buffering", "no");
  return new Response(channel.body, { headers });
}

/**
 * Frames one event in the `text/event-stream` format.
 *
 * @example
 * ```ts
 * formatEvent({ event: "job", id: 7, data: "a\nb" }); // "event: job\nid: 7\ndata: a\ndata: b\n\n"
 * ```
 */
export function formatEvent(message: SseMessage): string {
  let out = "";
  if (message.event !== undefined) {
    out += `event: ${singleLine(message.event, "event")}\n`;
  }
  if (message.id !== undefined) {
    out += `id: ${singleLine(String(message.id), "id")}\n`;
  }
  if (message.retry !== undefined) {
    if (!Number.isInteger(message.retry) || message.retry < 0) {
      throw new TypeError("sse: retry must be a non-negative integer");
    }
    out += `retry: ${message.retry}\n`;
  }
  const data = typeof message.data === "string"
    ? message.data
    : JSON.stringify(message.data);
  for (const line of (data ?? "").split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return `${out}\n`;
}

/**
 * Frames comment lines, which clients ignore (heartbeats use `: ping`).
 *
 * @example
 * ```ts
 * formatComment("hi"); // ": hi\n\n"
 * ```
 */
export function formatComment(text: string): string {
  return text.split(/\r\n|\r|\n/).map((line) => `: ${line}\n`).join("") + "\n";
}

/** A stream, its response body, and the hooks `begin` needs. */
interface Channel {
  stream: SseStream;
  body: ReadableStream<Uint8Array>;
  /** Stores the cleanup to run at close. */
  keep(cleanup: SseCleanup): void;
  /** Ends the stream after `start` failed. */
  fail(err: unknown): void;
}

function openChannel(req: Request, options: SseOptions): Channel {
  const maxBufferedBytes = options.maxBufferedBytes ?? 1024 * 1024;
  const aborter = new AbortController();
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let cleanup: SseCleanup;
  let timer: ReturnType<typeof setInterval> | undefined;
  const closed = () => aborter.signal.aborted;
  const finish = (reason: string) => {
    if (closed()) return;
    clearInterval(timer);
    aborter.abort(reason);
    runCleanup(cleanup);
  };
  const drop = (
    reason: string,
    message = `sse: dropped a client: ${reason}`,
  ) => {
    if (closed()) return;
    finish(reason);
    controller.error(quietError(message));
  };
  const write = (chunk: string | Uint8Array): boolean => {
    if (closed()) return false;
    controller.enqueue(
      typeof chunk === "string" ? encoder.encode(chunk) : chunk,
    );
    if ((controller.desiredSize ?? 0) >= 0) return true;
    // The client isn't reading: drop it instead of buffering without bound.
    drop(
      "client too slow",
      `sse: dropped a client that stopped reading (over ${maxBufferedBytes} bytes waiting)`,
    );
    return false;
  };
  const end = (reason: string) => {
    if (closed()) return;
    finish(reason);
    controller.close();
  };
  const body = new ReadableStream<Uint8Array>(
    {
      start: (c) => void (controller = c),
      cancel: () => finish("client disconnected"),
    },
    { highWaterMark: maxBufferedBytes, size: (chunk) => chunk.byteLength },
  );
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  if (heartbeatMs > 0) {
    timer = setInterval(() => write(": ping\n\n"), heartbeatMs);
  }
  const stream: SseStream = {
    lastEventId: req.headers.get("last-event-id"),
    signal: aborter.signal,
    get closed() {
      return closed();
    },
    get buffered() {
      return closed() ? 0 : maxBufferedBytes - (controller.desiredSize ?? 0);
    },
    send: (message) => write(formatEvent(message)),
    sendFramed: (bytes) => write(bytes),
    comment: (text) => write(formatComment(text)),
    close: () => end("closed by server"),
    drop: (reason) => drop(reason),
  };
  return {
    stream,
    body,
    keep: (fn) => closed() ? runCleanup(fn) : void (cleanup = fn),
    fail: (err) => {
      console.error("sse: start failed; closing the stream", err);
      end("start failed");
    },
  };
}

function begin(
  channel: Channel,
  start: (stream: SseStream) => SseCleanup | Promise<SseCleanup>,
) {
  try {
    const result = start(channel.stream);
    if (result instanceof Promise) result.then(channel.keep, channel.fail);
    else channel.keep(result);
  } catch (err) {
    channel.fail(err);
  }
}

/** An error whose logged form is just its message (a stack would only point here). */
function quietError(message: string): Error {
  const error = new Error(message);
  error.stack = message;
  return error;
}

function runCleanup(cleanup: SseCleanup) {
  try {
    cleanup?.();
  } catch (err) {
    console.error("sse: cleanup failed", err);
  }
}

function singleLine(value: string, field: string): string {
  if (/[\r\n\0]/.test(value)) {
    throw new TypeError(`sse: ${field} must not contain line breaks or NUL`);
  }
  return value;
}
