/**
 * The engine's events as Server-Sent Events. Every event carries its bus
 * sequence number as `id`; a client that reconnects with `Last-Event-ID` gets
 * what it missed from the engine's bounded replay log, or a `reset` event
 * when it is too far behind and must refetch. Each client has its own short
 * queue where bursts of `job-update`s for the same job collapse into the
 * newest; `run-*` events are all kept (a `run-output` chunk is never
 * coalesced away: a reader that falls behind is dropped and reconnects, or
 * reads the run's output so far again). Events wait in that queue while the
 * client's stream buffer is full, and a client whose buffer stays full is
 * dropped, so memory stays bounded.
 *
 * @example
 * ```ts
 * export const handler = { GET: (ctx) => jobEvents(ctx.req, ctx.state.manager) };
 * ```
 * @module
 */
import { formatEvent, sse, type SseStream } from "./sse.ts";
import type { Config } from "../config.ts";
import type { Delivered, Manager } from "../jobpro/mod.ts";
import { concat } from "./bytes.ts";

/** How one client's stream behaves. */
export interface LiveOptions {
  /**
   * Event types to forward; all by default but `run-output`, which goes
   * only to a stream that names it here or asks for a job's with `output`.
   */
  only?: Delivered["type"][];
  /** Also forward the `run-output` events of this job's runs (its live output). */
  output?: string;
  /** Sends every event under this name instead of its type (the seed's `job-update`). */
  rename?: string;
  /** Interval of `: ping` comments, ms (default 15 000). */
  heartbeatMs?: number;
  /** Bytes the stream may buffer for a client (default 1 MiB); events wait in the queue past half of it. */
  maxBufferedBytes?: number;
  /** A client whose buffer stays full this long, ms, is dropped (default 10 000). */
  stallMs?: number;
  /** How long events wait in the client's queue to be coalesced, ms (default 0: the same tick). */
  coalesceMs?: number;
  /** A client more than this many queued events behind is dropped (default 10 000). */
  maxPending?: number;
}

/**
 * The stream settings from the configuration.
 *
 * @example
 * ```ts
 * jobEvents(ctx.req, ctx.state.manager, liveOptions(ctx.state.config));
 * ```
 */
export function liveOptions(
  config: Pick<Config, "sseHeartbeatMs" | "sseBufferBytes" | "sseStallMs">,
): LiveOptions {
  return {
    heartbeatMs: config.sseHeartbeatMs,
    maxBufferedBytes: config.sseBufferBytes,
    stallMs: config.sseStallMs,
  };
}

/** Open streams per manager, for the SSE-clients gauge and for shutdown. */
const open = new WeakMap<Manager, Set<SseStream>>();

function streamsOf(manager: Manager): Set<SseStream> {
  let set = open.get(manager);
  if (!set) open.set(manager, set = new Set());
  return set;
}

/**
 * How many event streams are open on this manager.
 *
 * @example
 * ```ts
 * sseClients(manager); // 0
 * ```
 */
export function sseClients(manager: Manager): number {
  return open.get(manager)?.size ?? 0;
}

/**
 * Ends every open event stream of this manager (before a server shutdown,
 * which would otherwise wait for them forever).
 *
 * @example
 * ```ts
 * closeStreams(manager);
 * await server.shutdown();
 * ```
 */
export function closeStreams(manager: Manager): void {
  for (const stream of open.get(manager) ?? []) stream.close();
}

/** The data an event carries on the wire. */
function payload(e: Delivered, renamed: boolean): unknown {
  switch (e.type) {
    case "job-update":
      return e.job;
    case "job-deleted":
      return renamed ? { id: e.id, deleted: true } : { id: e.id };
    case "run-started":
    case "run-finished":
      return e.run;
    case "run-output":
      return e.output;
  }
}

const encoder = new TextEncoder();
const framedCache = new WeakMap<Delivered, Uint8Array>();
const renamedCache = new WeakMap<Delivered, Uint8Array>();

/**
 * An event framed and encoded once, however many clients receive it (500
 * clients would otherwise mean 500 JSON.stringify calls per event).
 */
function framed(e: Delivered, rename?: string): Uint8Array {
  const cache = rename === undefined ? framedCache : renamedCache;
  let bytes = cache.get(e);
  if (!bytes) {
    bytes = encoder.encode(formatEvent({
      event: rename ?? e.type,
      id: e.seq,
      data: payload(e, rename !== undefined),
    }));
    cache.set(e, bytes);
  }
  return bytes;
}

/** An event's bytes, or none if it cannot be framed: a timer must not throw. */
function safeFrame(e: Delivered, rename?: string): Uint8Array[] {
  try {
    return [framed(e, rename)];
  } catch (err) {
    console.error(`sse: event ${e.seq} (${e.type}) could not be sent: ${err}`);
    return [];
  }
}

/** How often a client with a full buffer is looked at again, ms. */
const RETRY_MS = 10;

/** Job-level events replace an older pending update of the same job. */
function keyOf(e: Delivered): string {
  return e.type === "job-update" ? `job:${e.job.id}` : `seq:${e.seq}`;
}

/** What a client's queue needs from its stream and options. */
interface QueueSetup {
  stream: SseStream;
  /** Sends these events, in order, as one write. */
  send: (events: Delivered[]) => void;
  /** Bytes an event takes on the wire. */
  size: (e: Delivered) => number;
  delayMs: number;
  maxPending: number;
  /** Bytes in the stream's buffer above which events wait in the queue. */
  roomBytes: number;
  stallMs: number;
}

/**
 * A client's queue. Events wait up to `delayMs`, and longer while the
 * client's stream buffer is full; meanwhile a newer `job-update` (or
 * `job-deleted`) replaces an older pending `job-update` of the same job, so a
 * slow client gets fewer, newer events. Map insertion order keeps ids
 * increasing on the wire. A client whose buffer stays full for `stallMs`, or
 * that falls `maxPending` events behind, is dropped (it may reconnect with
 * Last-Event-ID).
 */
function createQueue(q: QueueSetup) {
  let pending = new Map<string, Delivered>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** Since when nothing could be sent, or null while the client keeps up. */
  let stuckSince: number | null = null;
  const schedule = (ms: number) => void (timer ??= setTimeout(flush, ms));
  function flush() {
    clearTimeout(timer);
    timer = undefined;
    // Everything that fits goes out as one chunk: one socket write per flush,
    // not one per event (200 events x 500 clients would be 100,000 writes).
    const batch: Delivered[] = [];
    let room = q.roomBytes - q.stream.buffered;
    for (const [key, e] of pending) {
      if (room <= 0) break;
      pending.delete(key);
      batch.push(e);
      room -= q.size(e);
    }
    const sent = batch.length;
    if (sent) q.send(batch);
    if (sent > 0 || pending.size === 0) stuckSince = null;
    if (pending.size === 0) return;
    stuckSince ??= Date.now();
    if (Date.now() - stuckSince >= q.stallMs) {
      return drop(`its buffer stayed full for ${q.stallMs} ms`);
    }
    schedule(RETRY_MS); // the buffer drains as the server writes to the socket
  }
  function drop(reason: string) {
    pending = new Map();
    q.stream.drop(reason);
  }
  return {
    push(e: Delivered) {
      if (e.type === "job-deleted") pending.delete(`job:${e.id}`);
      const key = keyOf(e);
      pending.delete(key);
      pending.set(key, e);
      if (pending.size > q.maxPending) {
        return drop(`it fell more than ${q.maxPending} events behind`);
      }
      schedule(q.delayMs);
    },
    flush,
    /** Whether nothing waits: new events may bypass the queue. */
    idle: () => pending.size === 0,
    stop: () => clearTimeout(timer),
  };
}

/** A connected client, as the fan-out sees it. */
interface Client {
  stream: SseStream;
  queue: ReturnType<typeof createQueue>;
  wanted: (e: Delivered) => boolean;
  rename?: string;
  /** Clients with the same filter and name receive the same bytes. */
  group: string;
  roomBytes: number;
}

/** The clients of one manager, fed by one bus subscription while any is connected. */
interface Hub {
  add(c: Client): void;
  remove(c: Client): void;
}

const hubs = new WeakMap<Manager, Hub>();

/**
 * Events are gathered this long before they go out, so a steady stream costs
 * one write per client every few events, not one per event (200 events a
 * second to 500 clients would be 100,000 socket writes a second). Measured
 * with 500 clients: p99 delivery 201 ms at 16 ms, 93-123 ms at 40 ms. The
 * dashboard applies updates at most ten times a second anyway.
 */
const FAN_OUT_MS = 40;

/** A burst with older job-updates of the same job dropped (as a queue would). */
function coalesce(events: Delivered[]): Delivered[] {
  const kept = new Map<string, Delivered>();
  for (const e of events) {
    if (e.type === "job-deleted") kept.delete(`job:${e.id}`);
    const key = keyOf(e);
    kept.delete(key);
    kept.set(key, e);
  }
  return [...kept.values()];
}

/**
 * The events of a tick are framed once per group of clients and the same
 * bytes are handed to every client that keeps up; a client that lags gets
 * them through its own queue, where they coalesce.
 */
function hubOf(manager: Manager): Hub {
  const existing = hubs.get(manager);
  if (existing) return existing;
  const all = new Set<Client>();
  let tick: Delivered[] = [];
  let unsubscribe: (() => void) | null = null;
  const fan = () => {
    const events = coalesce(tick);
    tick = [];
    const bytesOf = new Map<string, Uint8Array | null>();
    for (const c of all) {
      let bytes = bytesOf.get(c.group);
      if (bytes === undefined) {
        const mine = events.filter(c.wanted);
        bytes = mine.length
          ? concat(mine.flatMap((e) => safeFrame(e, c.rename)))
          : null;
        bytesOf.set(c.group, bytes);
      }
      if (!bytes) continue;
      if (
        c.queue.idle() && c.stream.buffered + bytes.byteLength <= c.roomBytes
      ) {
        c.stream.sendFramed(bytes);
      } else {
        for (const e of events) if (c.wanted(e)) c.queue.push(e);
      }
    }
  };
  const hub: Hub = {
    add(c) {
      all.add(c);
      unsubscribe ??= manager.events.subscribe((e) => {
        if (!tick.length) setTimeout(fan, FAN_OUT_MS);
        tick.push(e);
      });
    },
    remove(c) {
      all.delete(c);
      if (all.size === 0 && unsubscribe) {
        unsubscribe();
        unsubscribe = null;
      }
    },
  };
  hubs.set(manager, hub);
  return hub;
}

/**
 * Streams the manager's events to one client.
 *
 * @example
 * ```ts
 * jobEvents(req, manager, { only: ["job-update", "job-deleted"], rename: "job-update" });
 * ```
 */
export function jobEvents(
  req: Request,
  manager: Manager,
  opts: LiveOptions = {},
): Response {
  const wanted = (e: Delivered) =>
    e.type !== "run-output"
      ? !opts.only || opts.only.includes(e.type)
      : opts.output !== undefined
      ? e.output.jobId === opts.output
      : opts.only?.includes(e.type) === true;
  const bus = manager.events;
  const maxBufferedBytes = opts.maxBufferedBytes ?? 1024 * 1024;
  return sse(req, (stream) => {
    const reset = () =>
      stream.send({
        event: "reset",
        id: bus.lastId,
        data: { reason: "too far behind; refetch" },
      });
    const queue = createQueue({
      stream,
      send: (events) =>
        stream.sendFramed(
          concat(events.flatMap((e) => safeFrame(e, opts.rename))),
        ),
      size: (e) => safeFrame(e, opts.rename)[0]?.byteLength ?? 0,
      delayMs: opts.coalesceMs ?? 0,
      maxPending: opts.maxPending ?? 10_000,
      roomBytes: maxBufferedBytes / 2,
      stallMs: opts.stallMs ?? 10_000,
    });
    const last = parseLastId(stream.lastEventId);
    stream.send({
      retry: 2000,
      event: "hello",
      id: last === null ? bus.lastId : undefined,
      data: "connected",
    });
    if (last !== null) {
      // An id above ours comes from an earlier process: its state is gone.
      const missed = last > bus.lastId ? null : bus.since(last);
      if (missed === null) reset();
      else for (const e of missed) if (wanted(e)) queue.push(e);
      queue.flush();
    }
    const client: Client = {
      stream,
      queue,
      wanted,
      rename: opts.rename,
      group: `${opts.only?.join(",") ?? "*"}|${opts.rename ?? ""}|${
        opts.output ?? ""
      }`,
      roomBytes: maxBufferedBytes / 2,
    };
    const hub = hubOf(manager);
    hub.add(client);
    const streams = streamsOf(manager);
    streams.add(stream);
    return () => {
      hub.remove(client);
      queue.stop();
      streams.delete(stream);
    };
  }, { heartbeatMs: opts.heartbeatMs, maxBufferedBytes });
}

/** A `Last-Event-ID` we issued (a non-negative integer), or null. */
function parseLastId(raw: string | null): number | null {
  const n = Number(raw?.trim());
  return raw !== null && /^\d+$/.test(raw.trim()) && Number.isSafeInteger(n)
    ? n
    : null;
}
