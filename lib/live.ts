/**
 * The engine's events as Server-Sent Events. A client that reconnects with
 * `Last-Event-ID` gets what it missed from the engine's replay log, or a
 * `reset` event when it is too far behind and must refetch.
 *
 * @example
 * ```ts
 * export const handler = { GET: (ctx) => jobEvents(ctx.req, ctx.state.manager) };
 * ```
 * @module
 */
import { sse, type SseStream } from "fresh";
import type { Delivered, Manager } from "./jobpro/mod.ts";

/** The data an event carries on the wire. */
function payload(e: Delivered): unknown {
  switch (e.type) {
    case "job-update":
      return e.job;
    case "job-deleted":
      return { id: e.id };
    case "run-started":
    case "run-finished":
      return e.run;
  }
}

function send(stream: SseStream, e: Delivered, rename?: string) {
  stream.send({ event: rename ?? e.type, id: e.seq, data: payload(e) });
}

/**
 * Streams the manager's events to one client.
 *
 * @example
 * ```ts
 * jobEvents(req, manager, { only: ["job-update"] });
 * ```
 */
export function jobEvents(
  req: Request,
  manager: Manager,
  opts: { only?: Delivered["type"][] } = {},
): Response {
  const wanted = (e: Delivered) => !opts.only || opts.only.includes(e.type);
  return sse(req, (stream) => {
    stream.send({
      retry: 2000,
      data: "connected",
      event: "hello",
      id: manager.events.lastId,
    });
    const last = Number(stream.lastEventId ?? NaN);
    if (Number.isInteger(last) && last >= 0) {
      const missed = manager.events.since(last);
      if (missed === null) {
        stream.send({
          event: "reset",
          data: { reason: "too far behind; refetch" },
        });
      } else for (const e of missed) if (wanted(e)) send(stream, e);
    }
    return manager.events.subscribe((e) => {
      if (wanted(e)) send(stream, e);
    });
  });
}
