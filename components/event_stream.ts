/**
 * The browser's side of `/jobs/events`: a Server-Sent Events reader on
 * `fetch`, so it can do what `EventSource` cannot — back off exponentially
 * between reconnects, send `Last-Event-ID` itself on every new connection,
 * notice a restarted server, and hand events over in batches so a burst of
 * thousands costs a few renders.
 *
 * @example
 * ```ts
 * useJobEvents({
 *   onEvents: (events) => console.log(events.length),
 *   onReset: () => location.reload(),
 * });
 * ```
 * @module
 */
import { useEffect, useRef, useState } from "preact/hooks";

/** One event off the wire; `data` is still JSON text. */
export interface WireEvent {
  type: string;
  data: string;
}

const JOB_ID = /^\{"id":"([^"\\]*)"/;
const RUN_JOB_ID = /"jobId":"([^"\\]*)"/;

/**
 * The id of the job an event is about, read without parsing its JSON (a
 * job's `id` and a run's `jobId` come first), so events for jobs not shown
 * cost next to nothing; undefined when it cannot tell.
 *
 * @example
 * ```ts
 * jobOf({ type: "job-deleted", data: '{"id":"nightly"}' }); // "nightly"
 * ```
 */
export function jobOf(event: WireEvent): string | undefined {
  const re = event.type.startsWith("run-") ? RUN_JOB_ID : JOB_ID;
  return re.exec(event.data)?.[1];
}

/** What the connection indicator shows. */
export type Connection = "connecting" | "live" | "reconnecting";

/** Handlers of {@link openEventStream}. */
export interface StreamHandlers {
  /** Events in arrival order, at most one call per `batchMs`. */
  onEvents(events: WireEvent[]): void;
  /** The server cannot replay what was missed (a `reset`, or it restarted): refetch. */
  onReset(): void;
  onConnection(state: Connection): void;
}

/** Options of {@link openEventStream}. */
export interface StreamOptions {
  url?: string;
  /** How long events gather before they are handed over. */
  batchMs?: number;
  /** First reconnect delay; doubles per failed attempt up to `maxDelayMs`. */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * Reads the event stream until the returned function is called, reconnecting
 * with exponential backoff (with jitter) and `Last-Event-ID`.
 *
 * @example
 * ```ts
 * const close = openEventStream({ onEvents() {}, onReset() {}, onConnection() {} });
 * ```
 */
export function openEventStream(
  handlers: StreamHandlers,
  {
    url = "/jobs/events",
    batchMs = 100,
    baseDelayMs = 1000,
    maxDelayMs = 30_000,
  }: StreamOptions = {},
): () => void {
  let lastId: string | null = null;
  let failures = 0;
  let closed = false;
  let abort: AbortController | null = null;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let pending: WireEvent[] = [];
  let flushTimer: ReturnType<typeof setTimeout> | undefined;

  const flush = () => {
    flushTimer = undefined;
    const batch = pending;
    pending = [];
    if (batch.length && !closed) handlers.onEvents(batch);
  };

  // What is still queued is older than what the refetch will bring.
  const reset = () => {
    pending = [];
    handlers.onReset();
  };

  const dispatch = (block: string) => {
    let type = "message", data: string | null = null, id: string | null = null;
    for (const line of block.split("\n")) {
      if (line === "" || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") type = value;
      else if (field === "data") {
        data = data === null ? value : `${data}\n${value}`;
      } else if (field === "id" && !value.includes("\0")) id = value;
    }
    if (type === "hello") {
      // The server's newest id is older than ours: it restarted, and what
      // happened meanwhile cannot be replayed.
      if (id !== null && lastId !== null && Number(id) < Number(lastId)) {
        reset();
      }
    } else if (type === "reset") {
      reset();
    } else if (data !== null) {
      pending.push({ type, data });
      flushTimer ??= setTimeout(flush, batchMs);
    }
    if (id !== null) lastId = id;
  };

  const connect = async () => {
    abort = new AbortController();
    try {
      const headers: Record<string, string> = { accept: "text/event-stream" };
      if (lastId !== null) headers["last-event-id"] = lastId;
      const res = await fetch(url, {
        headers,
        signal: abort.signal,
        cache: "no-store",
      });
      if (!res.ok || !res.body) throw new Error(`status ${res.status}`);
      failures = 0;
      handlers.onConnection("live");
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const blocks = (buffer + value.replace(/\r\n?/g, "\n")).split("\n\n");
        buffer = blocks.pop()!;
        for (const block of blocks) dispatch(block);
      }
    } catch {
      // A dropped connection is expected; the indicator says so.
    }
    if (closed) return;
    handlers.onConnection("reconnecting");
    const delay = Math.min(maxDelayMs, baseDelayMs * 2 ** failures++);
    retry = setTimeout(connect, delay * (0.75 + Math.random() / 4));
  };

  connect();
  return () => {
    closed = true;
    clearTimeout(retry);
    clearTimeout(flushTimer);
    abort?.abort();
  };
}

/**
 * Subscribes a component to `/jobs/events` while it is mounted and returns
 * the connection state. The handlers may change between renders; the
 * connection does not.
 *
 * @example
 * ```ts
 * const connection = useJobEvents({ onEvents: apply, onReset: refetch });
 * ```
 */
export function useJobEvents(
  handlers: Omit<StreamHandlers, "onConnection">,
  options?: StreamOptions,
): Connection {
  const [connection, setConnection] = useState<Connection>("connecting");
  const latest = useRef(handlers);
  latest.current = handlers;
  useEffect(
    () =>
      openEventStream({
        onEvents: (events) => latest.current.onEvents(events),
        onReset: () => latest.current.onReset(),
        onConnection: setConnection,
      }, options),
    [],
  );
  return connection;
}
