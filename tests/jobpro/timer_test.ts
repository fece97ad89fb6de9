import { assertEquals } from "@std/assert";
import { createTimerQueue } from "@/lib/jobpro/timer.ts";
import { waitFor } from "../helpers.ts";

Deno.test("timer queue: fires in time order, never early; set replaces, delete forgets", async () => {
  const fired: [string, number, number][] = [];
  const q = createTimerQueue((key, at) => fired.push([key, at, Date.now()]));
  try {
    const t = Date.now();
    q.set("c", t + 60);
    q.set("a", t + 20);
    q.set("b", t + 40);
    q.set("gone", t + 30);
    q.delete("gone");
    q.set("moved", t + 10);
    q.set("moved", t + 50); // replaces the earlier time
    assertEquals(q.size, 4);
    assertEquals(q.get("moved"), t + 50);
    await waitFor(() => fired.length === 4, { what: "four timers" });
    assertEquals(fired.map(([key]) => key), ["a", "b", "moved", "c"]);
    for (const [key, at, now] of fired) {
      assertEquals(now >= at, true, `${key} fired early`);
    }
    assertEquals(q.size, 0);
  } finally {
    q.close();
  }
});

Deno.test("timer queue: many timers due together all fire, each once", async () => {
  const fired = new Map<string, number>();
  const q = createTimerQueue((key) =>
    fired.set(key, (fired.get(key) ?? 0) + 1)
  );
  try {
    const at = Date.now() + 20;
    for (let i = 0; i < 5000; i++) q.set(`k${i}`, at);
    await waitFor(() => fired.size === 5000, { what: "5,000 timers" });
    assertEquals([...fired.values()].every((n) => n === 1), true);
  } finally {
    q.close();
  }
});

Deno.test("timer queue: paused, nothing fires (timers still set); resumed, what came due fires at once with its own time", async () => {
  const fired: [string, number][] = [];
  const q = createTimerQueue((key, at) => fired.push([key, at]));
  const reference: string[] = [];
  const r = createTimerQueue((key) => reference.push(key));
  try {
    const t = Date.now();
    q.set("a", t + 10);
    q.pause();
    q.set("b", t + 20);
    assertEquals([q.paused, q.size], [true, 2]);
    r.set("after-both", t + 40);
    await waitFor(() => reference.length === 1, { what: "the reference" });
    assertEquals(fired, [], "nothing fires while paused");
    q.resume();
    assertEquals(q.paused, false);
    await waitFor(() => fired.length === 2, { what: "both, once resumed" });
    assertEquals(fired, [["a", t + 10], ["b", t + 20]]);
  } finally {
    q.close();
    r.close();
  }
});
