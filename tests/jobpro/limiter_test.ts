import { assertEquals, assertRejects } from "@std/assert";
import { createLimiter } from "@/lib/jobpro/limiter.ts";

Deno.test("limiter: at most max holders; the rest get their turn in order", async () => {
  const limiter = createLimiter(2);
  const order: number[] = [];
  const releases = await Promise.all([limiter.acquire(), limiter.acquire()]);
  const waiting = [3, 4, 5].map((n) =>
    limiter.acquire().then((release) => {
      order.push(n);
      return release;
    })
  );
  assertEquals([limiter.active, limiter.waiting], [2, 3]);
  releases[0]();
  releases[0](); // a second release of the same slot does nothing
  const r3 = await waiting[0];
  assertEquals([limiter.active, limiter.waiting], [2, 2]);
  releases[1]();
  r3();
  const [r4, r5] = await Promise.all([waiting[1], waiting[2]]);
  assertEquals(order, [3, 4, 5]);
  r4();
  r5();
  assertEquals([limiter.active, limiter.waiting], [0, 0]);
});

Deno.test("limiter: a waiter whose signal aborts leaves the queue with the signal's reason", async () => {
  const limiter = createLimiter(1);
  const held = await limiter.acquire();
  const ac = new AbortController();
  const waiting = limiter.acquire(ac.signal);
  const next = limiter.acquire();
  ac.abort(new Error("cancelled"));
  await assertRejects(() => waiting, Error, "cancelled");
  assertEquals(limiter.waiting, 1);
  held();
  (await next)();
  assertEquals(limiter.active, 0);
  await assertRejects(() => limiter.acquire(ac.signal), Error, "cancelled");
});
