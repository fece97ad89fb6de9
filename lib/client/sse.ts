/**
 * A Server-Sent Events parser for `text/event-stream`, shared by the
 * dashboard and the command line. Incremental: feed it text as it arrives,
 * in any chunking, and get back the events completed so far. Browser-safe.
 *
 * @example
 * ```ts
 * const p = createSseParser();
 * p.push("event: run-finished\nid: 7\ndata: {}\n"); // []
 * p.push("\n"); // [{ event: "run-finished", id: "7", data: "{}" }]
 * ```
 * @module
 */

/** One dispatched event. */
export interface SseEvent {
  /** The event type; `message` when the server named none. */
  event: string;
  /** The event's id, or null when it had none. */
  id: string | null;
  /** The data lines, joined with "\n". */
  data: string;
}

/** An incremental parser: feed it text, get the events completed so far. */
export interface SseParser {
  push(text: string): SseEvent[];
  /** The last `id:` seen, which is what to send as `Last-Event-ID`. */
  readonly lastEventId: string | null;
  /** The last `retry:` seen, in ms. */
  readonly retryMs: number | null;
}

/**
 * Creates a parser following the `text/event-stream` rules: `field: value`
 * lines, a blank line ends an event, `:` lines are comments, an event with
 * no data is not dispatched.
 *
 * @example
 * ```ts
 * const p = createSseParser();
 * p.push("event: a\nid: 1\ndata: x\n\n"); // [{ event: "a", id: "1", data: "x" }]
 * ```
 */
export function createSseParser(): SseParser {
  let buf = "";
  let lastEventId: string | null = null;
  let retryMs: number | null = null;
  let event = "";
  let data: string[] = [];
  let id: string | null = null;
  const field = (name: string, value: string, out: SseEvent[]) => {
    if (name === "event") event = value;
    else if (name === "data") data.push(value);
    else if (name === "id" && !value.includes("\0")) id = lastEventId = value;
    else if (name === "retry" && /^\d+$/.test(value)) retryMs = Number(value);
    else if (name === "") dispatch(out);
  };
  const dispatch = (out: SseEvent[]) => {
    if (data.length) {
      out.push({ event: event || "message", id, data: data.join("\n") });
    }
    event = "";
    data = [];
    id = null;
  };
  return {
    push(text) {
      buf += text;
      // A "\r" at the very end may be the first half of a "\r\n".
      const lines = buf.split(/\r\n|\r(?!$)|\n/);
      buf = lines.pop() ?? "";
      const out: SseEvent[] = [];
      for (const line of lines) {
        if (line.startsWith(":")) continue;
        const i = line.indexOf(":");
        const name = i === -1 ? line : line.slice(0, i);
        const value = i === -1 ? "" : line.slice(i + 1).replace(/^ /, "");
        field(name, value, out);
      }
      return out;
    },
    get lastEventId() {
      return lastEventId;
    },
    get retryMs() {
      return retryMs;
    },
  };
}
