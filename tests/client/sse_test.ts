/** The SSE parser the dashboard and the CLI share, fed as a network would. */
import { assertEquals } from "@std/assert";
import { createSseParser } from "@/lib/client/sse.ts";

Deno.test("SSE parser: chunks split anywhere, CRLF, multi-line data, comments, ids", () => {
  const p = createSseParser();
  const text =
    'retry: 2000\r\nevent: hello\r\nid: 3\r\ndata: connected\r\n\r\n: ping\n\nevent: job-update\nid: 4\ndata: {"a":\ndata: 1}\n\nid: 9\n\ndata:no space\n\n';
  const events = [];
  for (let i = 0; i < text.length; i += 7) {
    events.push(...p.push(text.slice(i, i + 7)));
  }
  assertEquals(events, [
    { event: "hello", id: "3", data: "connected" },
    { event: "job-update", id: "4", data: '{"a":\n1}' },
    { event: "message", id: null, data: "no space" },
  ]);
  assertEquals([p.lastEventId, p.retryMs], ["9", 2000]);
});

Deno.test("SSE parser: the same events at every split point, CRLF split in two included", () => {
  const text =
    "event: a\r\nid: 1\r\ndata: x\r\n\r\nevent: b\r\ndata: y\r\n\r\n";
  const whole = createSseParser().push(text);
  assertEquals(whole, [
    { event: "a", id: "1", data: "x" },
    { event: "b", id: null, data: "y" },
  ]);
  for (let cut = 1; cut < text.length; cut++) {
    const p = createSseParser();
    const got = [...p.push(text.slice(0, cut)), ...p.push(text.slice(cut))];
    assertEquals(got, whole, `split at ${cut}`);
  }
});

Deno.test("SSE parser: an event with no data is not dispatched, an id with NUL is ignored", () => {
  const p = createSseParser();
  assertEquals(p.push("event: x\n\nid: a\0b\ndata: d\n\n"), [
    { event: "message", id: null, data: "d" },
  ]);
  assertEquals(p.lastEventId, null);
});
