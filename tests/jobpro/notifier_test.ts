/**
 * The notifier (lib/jobpro/notifier.ts) on an assembled engine over an
 * in-memory DuckDB store, with a real local HTTP server as the webhook:
 * a late scheduler's missed ticks raise one "missed" alert per episode (a
 * later late tick of the same episode adds none; a new episode does), sent
 * by the notifier off the tick path. Waits poll with a deadline.
 */
import { assertEquals } from "@std/assert";
import { onDue } from "@/lib/jobpro/planner.ts";
import { startNotifier } from "@/lib/jobpro/notifier.ts";
import type { Delivery } from "@/lib/jobpro/notify.ts";
import { localServer, waitFor } from "../helpers.ts";
import {
  job,
  MIN,
  putJobs,
  runsDone,
  SEC,
  T0,
  withEngine,
  writeStore,
} from "./engine_fixture.ts";

Deno.test("notifier: missed ticks alert once per episode, sent to the webhook", async () => {
  // deno-lint-ignore no-explicit-any
  const got: any[] = [];
  const hook = localServer(async (req) => {
    got.push(await req.json());
    return new Response("ok");
  });
  const notify = [{ on: ["missed" as const], target: { webhook: hook.url } }];
  try {
    await withEngine({
      seed: (store) =>
        putJobs(store, [job("a", {
          nextRunAt: T0 + MIN,
          notify,
          action: { type: "function", name: "count", params: { tag: "a" } },
        })]),
    }, async (engine) => {
      const { state, clock } = engine;
      startNotifier(state, {
        pollMs: 20,
        publicUrl: () => "https://jobs.example",
      });
      clock.set(T0 + 6 * MIN + 30 * SEC); // five ticks late
      await onDue(state, "a", T0 + MIN);
      await runsDone(engine.entry("a"));
      await state.writer.flush();
      await waitFor(() => got.length === 1, { what: "the missed alert" });
      assertEquals(got[0].event, "missed");
      assertEquals(got[0].run, null);
      assertEquals(got[0].missed, {
        since: new Date(T0 + MIN).toISOString(),
        count: 5,
      });
      assertEquals(got[0].url, "https://jobs.example/jobs/a");
      // Still late: the same episode, no second alert.
      clock.set(T0 + 9 * MIN + 30 * SEC);
      await onDue(state, "a", T0 + 7 * MIN);
      await runsDone(engine.entry("a"));
      await state.writer.flush();
      assertEquals((await state.store.listDeliveries("a")).length, 1);
      // On time again, then late again: a new episode, a new alert.
      clock.set(T0 + 10 * MIN);
      await onDue(state, "a", T0 + 10 * MIN);
      await runsDone(engine.entry("a"));
      await state.writer.flush();
      clock.set(T0 + 14 * MIN + 30 * SEC);
      await onDue(state, "a", T0 + 11 * MIN);
      await runsDone(engine.entry("a"));
      await state.writer.flush();
      await waitFor(() => got.length === 2, {
        what: "the second episode's alert",
      });
      assertEquals(got[1].missed.since, new Date(T0 + 11 * MIN).toISOString());
      await waitFor(
        async () =>
          (await state.store.listDeliveries("a")).every((d) =>
            d.status === "sent"
          ),
        { what: "both recorded sent" },
      );
    });
  } finally {
    await hook.close();
  }
});

Deno.test("notifier: stop waits for a claim in flight, and what that claim got is not sent; it lapses and is sent later", async () => {
  // deno-lint-ignore no-explicit-any
  const got: any[] = [];
  const hook = localServer(async (req) => {
    got.push(await req.json());
    return new Response("ok");
  });
  const notify = [{ on: ["failure" as const], target: { webhook: hook.url } }];
  const delivery: Delivery = {
    id: "run:1|failure|webhook:" + hook.url,
    jobId: "a",
    runId: null,
    event: "failure",
    target: "webhook:" + hook.url,
    payload: JSON.stringify({
      event: "failure",
      job: { id: "a", name: "A" },
      run: null,
    }),
    status: "pending",
    attempts: 0,
    error: null,
    createdAt: T0,
    nextAttemptAt: T0,
    sentAt: null,
  };
  try {
    await withEngine({
      seed: async (store) =>
        void await writeStore(store, {
          puts: [{ job: job("a", { notify }), expected: null }],
          deliveries: [delivery],
        }),
    }, async (engine) => {
      const { state, clock } = engine;
      const claim = state.store.claimDeliveries.bind(state.store);
      let release = () => {};
      const gate = new Promise<void>((r) => release = r);
      let claimed = () => {};
      const inFlight = new Promise<void>((r) => claimed = r);
      let held: Delivery[] = [];
      state.store.claimDeliveries = async (now, limit, holdMs) => {
        const due = await claim(now, limit, holdMs);
        held = due;
        claimed();
        await gate;
        return due;
      };
      const notifier = startNotifier(state, { pollMs: 60_000 });
      await inFlight;
      assertEquals(held.length, 1, "the claim got the delivery");
      let stopped = false;
      const stopping = notifier.stop().then(() => stopped = true);
      for (let i = 0; i < 20; i++) await Promise.resolve();
      assertEquals(stopped, false, "stop did not wait for the claim");
      release();
      await stopping;
      const [d] = await state.store.listDeliveries("a");
      assertEquals([d.status, d.attempts, d.sentAt], ["pending", 1, null]);
      assertEquals(got.length, 0);
      // The claim lapses; a notifier started later sends it.
      state.store.claimDeliveries = claim;
      clock.set(T0 + 10 * MIN);
      const next = startNotifier(state, { pollMs: 20 });
      await waitFor(() => got.length === 1, { what: "the lapsed delivery" });
      await waitFor(
        async () =>
          (await state.store.listDeliveries("a"))[0].status === "sent",
        { what: "recorded sent" },
      );
      await next.stop();
      assertEquals(got.length, 1);
    });
  } finally {
    await hook.close();
  }
});
