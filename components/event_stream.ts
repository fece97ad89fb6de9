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
import { createSseParser, type SseEvent } from "@/lib/client/sse.ts";
import type { WireEvent } from "@/lib/dashboard/job_events.ts";

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

  const take = (e: SseEvent) => {
    if (e.event === "hello") {
      // The server's newest id is older than ours: it restarted, and what
      // happened meanwhile cannot be replayed.
      if (e.id !== null && lastId !== null && Number(e.id) < Number(lastId)) {
        reset();
      }
    } else if (e.event === "reset") {
      reset();
    } else {
      pending.push({ type: e.event, data: e.data });
      flushTimer ??= setTimeout(flush, batchMs);
    }
    if (e.id !== null) lastId = e.id;
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
      const parser = createSseParser();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        for (const e of parser.push(value)) take(e);
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
