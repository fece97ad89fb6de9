/**
 * Server-Sent Events against a real `Deno.serve` server on port 0 and a
 * real streaming `fetch` client.
 */
import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  formatComment,
  formatEvent,
  sse,
  type SseOptions,
  type SseStream,
} from "@/lib/web/sse.ts";
import { waitFor as poll } from "../helpers.ts";

const waitFor = <T>(check: () => T, timeoutMs: number, what: string) =>
  poll(check, { timeoutMs, intervalMs: 10, what });

Deno.test("sse: event framing, multi-line data, JSON data and comments", () => {
  assertEquals(formatEvent({ data: "hi" }), "data: hi\n\n");
  assertEquals(
    formatEvent({ event: "job", id: 7, retry: 1500, data: "a\nb\r\nc\rd" }),
    "event: job\nid: 7\nretry: 1500\ndata: a\ndata: b\ndata: c\ndata: d\n\n",
  );
  assertEquals(
    formatEvent({ data: { n: 1, s: "x\ny" } }),
    'data: {"n":1,"s":"x\\ny"}\n\n',
  );
  assertEquals(formatEvent({ data: "" }), "data: \n\n");
  assertEquals(formatComment("ping"), ": ping\n\n");
  assertThrows(
    () => formatEvent({ id: "a\nb", data: "" }),
    TypeError,
    "id must not contain",
  );
  assertThrows(
    () => formatEvent({ event: "x\ry", data: "" }),
    TypeError,
    "event must not contain",
  );
  assertThrows(() => formatEvent({ retry: -1, data: "" }), TypeError, "retry");
});

interface Harness {
  url: string;
  streams: SseStream[];
  closed: string[];
  stop(): Promise<void>;
}

/** A real server whose one route opens an event stream and runs `onOpen`. */
function serve(
  onOpen: (stream: SseStream) => void,
  options?: SseOptions,
): Harness {
  const streams: SseStream[] = [];
  const closed: string[] = [];
  const controller = new AbortController();
  const server = Deno.serve(
    {
      port: 0,
      hostname: "127.0.0.1",
      signal: controller.signal,
      onListen() {},
    },
    (req) =>
      sse(req, (stream) => {
        streams.push(stream);
        onOpen(stream);
        return () => closed.push(String(stream.signal.reason));
      }, options),
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    streams,
    closed,
    async stop() {
      controller.abort();
      await server.finished;
    },
  };
}

/** Reads frames (text between blank lines) from a streaming response. */
function frames(
  res: Response,
): { next(): Promise<string | null>; cancel(): Promise<void> } {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  return {
    async next() {
      for (;;) {
        const end = buffer.indexOf("\n\n");
        if (end >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          return frame;
        }
        const { value, done } = await reader.read();
        if (done) return null;
        buffer += value;
      }
    },
    cancel: () => reader.cancel(),
  };
}

Deno.test("sse: a streaming client receives events, headers and its Last-Event-ID", async () => {
  const harness = serve((stream) => {
    stream.send({
      event: "resume",
      id: "42",
      data: `after ${stream.lastEventId}`,
    });
    stream.send({ data: "line 1\nline 2" });
  }, { heartbeatMs: 0 });
  try {
    const res = await fetch(harness.url, {
      headers: { "last-event-id": "41" },
    });
    assertEquals(
      res.headers.get("content-type"),
      "text/event-stream; charset=utf-8",
    );
    assertEquals(res.headers.get("cache-control"), "no-cache");
    const stream = frames(res);
    assertEquals(await stream.next(), "event: resume\nid: 42\ndata: after 41");
    assertEquals(await stream.next(), "data: line 1\ndata: line 2");
    harness.streams[0].close();
    assertEquals(await stream.next(), null);
    assertEquals(harness.closed, ["closed by server"]);
  } finally {
    await harness.stop();
  }
});

Deno.test("sse: heartbeat comments arrive at the configured interval", async () => {
  const harness = serve(() => {}, { heartbeatMs: 20 });
  try {
    const stream = frames(await fetch(harness.url));
    assertEquals(await stream.next(), ": ping");
    assertEquals(await stream.next(), ": ping");
    await stream.cancel();
    await waitFor(
      () => harness.closed.length === 1,
      5_000,
      "cleanup after cancel",
    );
  } finally {
    await harness.stop();
  }
});

Deno.test("sse: cleanup runs once when the client disconnects", async () => {
  const harness = serve((stream) => stream.send({ data: "hello" }), {
    heartbeatMs: 0,
  });
  try {
    const abort = new AbortController();
    const res = await fetch(harness.url, { signal: abort.signal });
    const stream = frames(res);
    assertEquals(await stream.next(), "data: hello");
    abort.abort();
    await stream.cancel().catch(() => {});
    await waitFor(
      () => harness.closed.length === 1,
      5_000,
      "cleanup after disconnect",
    );
    assertEquals(harness.closed, ["client disconnected"]);
    assert(harness.streams[0].closed);
    assertEquals(harness.streams[0].send({ data: "late" }), false);
  } finally {
    await harness.stop();
  }
});

Deno.test("sse: a client that stops reading is dropped at the buffer limit", async () => {
  const harness = serve(() => {}, {
    heartbeatMs: 0,
    maxBufferedBytes: 64 * 1024,
  });
  try {
    const res = await fetch(harness.url); // headers read, body never read
    const stream = await waitFor(
      () => harness.streams[0],
      5_000,
      "stream open",
    );
    const chunk = "x".repeat(16 * 1024);
    let sent = 0;
    // Bounded: kernel socket buffers absorb a few MiB before the app buffer fills.
    while (stream.send({ data: chunk }) && sent < 512 * 1024 * 1024) {
      sent += chunk.length;
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    assert(stream.closed, `still open after ${sent} bytes`);
    assertEquals(harness.closed, ["client too slow"]);
    await res.body!.cancel().catch(() => {});
  } finally {
    await harness.stop();
  }
});

Deno.test("sse: a client that keeps reading is never dropped, whatever the total", async () => {
  const harness = serve(() => {}, {
    heartbeatMs: 0,
    maxBufferedBytes: 64 * 1024,
  });
  try {
    const stream = frames(await fetch(harness.url));
    const server = await waitFor(
      () => harness.streams[0],
      5_000,
      "stream open",
    );
    const chunk = "y".repeat(16 * 1024);
    for (let i = 0; i < 128; i++) { // 2 MiB in all, 32 times the limit
      assert(server.send({ id: i, data: chunk }), `dropped at event ${i}`);
      assertEquals(await stream.next(), `id: ${i}\ndata: ${chunk}`);
    }
    server.close();
    assertEquals(await stream.next(), null);
    assertEquals(harness.closed, ["closed by server"]);
  } finally {
    await harness.stop();
  }
});

Deno.test("sse: an async start may return its cleanup; a failing start ends the stream", async () => {
  let cleaned = 0;
  const controller = new AbortController();
  const server = Deno.serve({
    port: 0,
    hostname: "127.0.0.1",
    signal: controller.signal,
    onListen() {},
  }, (req) =>
    sse(req, async (stream) => {
      await Promise.resolve();
      if (new URL(req.url).pathname === "/fail") {
        throw new Error("no events today");
      }
      stream.send({ data: "async ok" });
      return () => cleaned++;
    }, { heartbeatMs: 0 }));
  const errors: unknown[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => errors.push(args);
  try {
    const ok = frames(await fetch(`http://127.0.0.1:${server.addr.port}/ok`));
    assertEquals(await ok.next(), "data: async ok");
    await ok.cancel();
    await waitFor(() => cleaned === 1, 5_000, "async cleanup");
    const failed = await fetch(`http://127.0.0.1:${server.addr.port}/fail`);
    const text = await failed.text().catch((err) => `errored: ${err}`);
    assert(!text.includes("data:"), text);
    assertEquals(errors.length, 1);
  } finally {
    console.error = original;
    controller.abort();
    await server.finished;
  }
});
