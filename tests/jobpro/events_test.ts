import { assertEquals } from "@std/assert";
import { createEventBus } from "@/lib/jobpro/events.ts";

Deno.test("event log: replay after an id, null when the log no longer reaches back", () => {
  const bus = createEventBus({ logSize: 3 });
  const base = bus.lastId;
  assertEquals(bus.since(base), []);
  for (let i = 0; i < 5; i++) bus.publish({ type: "job-deleted", id: `j${i}` });
  assertEquals(bus.lastId, base + 5);
  assertEquals(bus.since(base + 5), []);
  assertEquals(bus.since(base + 4)!.map((e) => e.seq - base), [5]);
  assertEquals(bus.since(base + 2)!.map((e) => e.seq - base), [3, 4, 5]);
  assertEquals(bus.since(base + 1), null, "too far behind");
  assertEquals(bus.since(0), null, "an id from long ago");
  assertEquals(
    bus.since(base + 99),
    null,
    "an id from a process we never knew",
  );
  const seen: number[] = [];
  const stop = bus.subscribe((e) => seen.push(e.seq - base));
  bus.publish({ type: "job-deleted", id: "x" });
  stop();
  bus.publish({ type: "job-deleted", id: "y" });
  assertEquals(seen, [6]);
  assertEquals(bus.subscribers, 0);
});

Deno.test("event ids go on from where the log is; what came before the bus is a reset", () => {
  const first = createEventBus({ lastId: 41 });
  const e = first.publish({ type: "job-deleted", id: "a" });
  assertEquals(e.seq, 42);
  assertEquals(first.publish({ type: "job-deleted", id: "b" }, 45).seq, 45);
  assertEquals(
    first.since(42)?.map((x) => x.seq),
    [45],
    "43 and 44 hold nothing",
  );
  assertEquals(first.since(41)?.map((x) => x.seq), [42, 45]);
  assertEquals(first.since(40), null, "before this bus: reset");
  assertEquals(first.since(46), null, "from another log: reset");
});
