/**
 * Queued runs on the embedded store (queue.ts, concurrency.ts): a real
 * engine on a real DuckDB file, with a function whose runs the test lets
 * end one by one, so which run goes when is decided by the test, not by
 * timing.
 */
import { assert, assertEquals, assertRejects } from "@std/assert";
import {
  createManager,
  type Manager,
  openDuckDBStore,
} from "@/lib/jobpro/mod.ts";
import { createRegistry } from "@/lib/jobs/registry.ts";
import { tempDb, waitFor } from "../helpers.ts";

/** A function whose calls wait until the test releases them, by the job they run for. */
function gates() {
  const started: string[] = [];
  const open = new Map<string, () => void>();
  const functions = createRegistry();
  functions.register("gate", (params, signal) => {
    const job = String(params.job);
    started.push(job);
    return new Promise<string>((resolve, reject) => {
      open.set(job, () => resolve(`released ${job}`));
      signal.addEventListener("abort", () => reject(signal.reason));
    });
  });
  return {
    functions,
    started,
    release(job: string) {
      const r = open.get(job);
      assert(r, `${job} is not running`);
      open.delete(job);
      r();
    },
  };
}

const gateJob = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  name: id,
  schedule: "",
  autoStart: false,
  action: { type: "function", name: "gate", params: { job: id } },
  ...extra,
});

const quiet = (l: string, m: string) => l === "error" && console.error(m);

async function statusOf(m: Manager, id: string) {
  const { runs } = await m.runs(id);
  return runs[0]?.status;
}

Deno.test("a cap of 1: of three runs due, one runs, two wait queued, then they run in order", async () => {
  const db = await tempDb();
  const g = gates();
  const m = await createManager({
    store: await openDuckDBStore(db.path),
    functions: g.functions,
    maxConcurrentRuns: 1,
    log: quiet,
  });
  try {
    for (const id of ["a", "b", "c"]) {
      await m.create(gateJob(id, id === "c" ? { timeoutMs: 300 } : {}));
    }
    // Each is due when started (a manual one-time job): a, then b, then c.
    for (const id of ["a", "b", "c"]) await m.start(id);
    await waitFor(() => g.started.length === 1, { what: "a to start" });
    assertEquals(g.started, ["a"]);
    await waitFor(async () =>
      await statusOf(m, "b") === "queued" && await statusOf(m, "c") === "queued"
    );
    const { runs: queued, total } = await m.runs("b", { status: "queued" });
    assertEquals(total, 1);
    assertEquals(queued[0].status, "queued");
    assertEquals(m.get("b").queuedRuns, 1);
    assertEquals(m.get("b").activeRuns, 1);
    assertEquals((await m.concurrency()).queuedRuns, 2);
    // c has waited longer than its timeout: it counts from its real start.
    const queuedAt = Date.parse((await m.runs("c")).runs[0].startedAt);
    await waitFor(() => Date.now() > queuedAt + 400, { what: "time to pass" });

    g.release("a");
    await waitFor(() => g.started.length === 2, { what: "b to start" });
    assertEquals(g.started, ["a", "b"]);
    assertEquals(await statusOf(m, "c"), "queued");
    g.release("b");
    await waitFor(() => g.started.length === 3, { what: "c to start" });
    assertEquals(g.started, ["a", "b", "c"]);
    const c = (await m.runs("c")).runs[0];
    assertEquals(c.status, "running");
    const b = (await m.runs("b")).runs[0];
    assertEquals(b.status, "complete");
    assert(
      Date.parse(c.startedAt) >= Date.parse(b.endedAt!),
      "c started after b ended",
    );
    // Not timed out at once: its 300 ms run from its start (it ends by timeout later, failed).
    const ended = await waitFor(async () => {
      const r = (await m.runs("c")).runs[0];
      return r.status !== "running" && r;
    });
    assertEquals(ended.error, "timed out after 300 ms");
    assert(ended.durationMs! >= 300, `ran ${ended.durationMs} ms`);
  } finally {
    await m.shutdown({ graceMs: 0 });
    await db.cleanup();
  }
});

Deno.test("a queued run counts toward overlap, can be cancelled, and a key's limit holds runs back", async () => {
  const db = await tempDb();
  const g = gates();
  const m = await createManager({
    store: await openDuckDBStore(db.path),
    functions: g.functions,
    concurrency: { backups: 1 },
    log: quiet,
  });
  try {
    await m.create(gateJob("one", { concurrencyKey: "backups" }));
    await m.create(gateJob("two", { concurrencyKey: "backups" }));
    assertEquals(m.get("one").concurrencyKey, "backups");
    const first = await m.runNow("one");
    assertEquals(first.status, "queued"); // a key with a limit: through the store
    await waitFor(() => g.started.includes("one"));
    const second = await m.runNow("two");
    assertEquals(second.status, "queued");
    const usage = await waitFor(async () => {
      const v = await m.concurrency();
      return v.keys[0]?.queued === 1 && v;
    });
    assertEquals(usage.keys, [{
      key: "backups",
      limit: 1,
      running: 1,
      queued: 1,
    }]);
    // Cancelled while queued: it ends cancelled at once, and never runs.
    const { run, ended } = await m.cancelRun("two", second.id, "test");
    assert(ended);
    assertEquals(run.status, "cancelled");
    assertEquals(run.error, "cancelled by test");
    const third = await m.runNow("two");
    assertEquals(third.status, "queued");
    // Raising the limit frees a slot: it starts without waiting for "one".
    await m.setConcurrency({ limits: { backups: 2 } });
    await waitFor(() => g.started.includes("two"), { what: "two to start" });
    assertEquals(g.started, ["one", "two"]);
    await assertRejects(
      () => m.setConcurrency({ limits: { "Bad Key": 1 } }),
      Error,
      'limits.Bad Key: the key "Bad Key" must be 1-64 lowercase',
    );
    await assertRejects(
      () => m.setConcurrency({ limits: { backups: 0 } }),
      Error,
      "limits.backups: must be a whole number of runs from 1 to 10000, got 0",
    );
    assertEquals((await m.concurrency()).keys[0].limit, 2);
    g.release("one");
    g.release("two");
  } finally {
    await m.shutdown({ graceMs: 2000 });
    await db.cleanup();
  }
});

Deno.test("overlap skip passes over a tick while a run waits queued", async () => {
  const db = await tempDb();
  const g = gates();
  const m = await createManager({
    store: await openDuckDBStore(db.path),
    functions: g.functions,
    maxConcurrentRuns: 1,
    log: quiet,
  });
  try {
    await m.create(gateJob("hog"));
    // "hog" holds the one slot; tick's first run waits, and its next ticks are skipped.
    await m.runNow("hog");
    await waitFor(() => g.started.includes("hog"));
    await m.create({
      ...gateJob("tick"),
      schedule: "* * * * * *",
      autoStart: true,
      overlap: "skip",
    });
    await waitFor(() => m.get("tick").queuedRuns === 1, {
      what: "a queued tick",
    });
    await waitFor(() => m.get("tick").skippedRuns >= 1, {
      what: "a skipped tick",
    });
    assertEquals(m.get("tick").activeRuns, 1);
    assertEquals((await m.runs("tick")).total, 1);
    g.release("hog");
    await waitFor(() => g.started.includes("tick"));
    g.release("tick");
  } finally {
    await m.shutdown({ graceMs: 0 });
    await db.cleanup();
  }
});

Deno.test("a queued run survives a restart, still queued, and then runs (not interrupted)", async () => {
  const db = await tempDb();
  const g1 = gates();
  const m1 = await createManager({
    store: await openDuckDBStore(db.path),
    functions: g1.functions,
    maxConcurrentRuns: 1,
    log: quiet,
  });
  let waitingId: number;
  try {
    await m1.create(gateJob("first"));
    await m1.create(gateJob("waits"));
    await m1.runNow("first");
    await waitFor(() => g1.started.length === 1);
    waitingId = (await m1.runNow("waits")).id;
    assertEquals(await statusOf(m1, "waits"), "queued");
  } finally {
    await m1.shutdown({ graceMs: 0 }); // "first" ends cancelled; "waits" stays queued
  }
  // Still queued in the file, as the shutdown left it.
  const store = await openDuckDBStore(db.path);
  assertEquals((await store.queuedRuns()).map((r) => r.id), [waitingId]);
  await store.close();

  const g2 = gates();
  const m2 = await createManager({
    store: await openDuckDBStore(db.path),
    functions: g2.functions,
    maxConcurrentRuns: 1,
    log: quiet,
  });
  try {
    await waitFor(() => g2.started.includes("waits"), {
      what: "the queued run to start",
    });
    const run = await m2.run("waits", waitingId);
    assertEquals(run.status, "running");
    g2.release("waits");
    const done = await waitFor(async () => {
      const r = await m2.run("waits", waitingId);
      return r.status !== "running" && r;
    });
    assertEquals(done.status, "complete");
    assertEquals(done.error, null);
    assertEquals((await m2.runs("first")).runs[0].status, "cancelled");
  } finally {
    await m2.shutdown({ graceMs: 0 });
    await db.cleanup();
  }
});

Deno.test("a chained run over the cap waits queued behind the runs queued before it", async () => {
  const db = await tempDb();
  const g = gates();
  const m = await createManager({
    store: await openDuckDBStore(db.path),
    functions: g.functions,
    maxConcurrentRuns: 1,
    log: quiet,
  });
  try {
    await m.create(gateJob("child"));
    await m.create(gateJob("parent", { onSuccess: ["child"] }));
    await m.create(gateJob("hog"));
    await m.runNow("parent");
    await waitFor(() => g.started.includes("parent"));
    assertEquals((await m.runNow("hog")).status, "queued");
    g.release("parent"); // the slot goes to hog (queued first); child's run waits
    await waitFor(() => g.started.includes("hog"), { what: "hog to start" });
    const chained = await waitFor(async () => (await m.runs("child")).runs[0]);
    assertEquals([chained.trigger, chained.status], ["chain", "queued"]);
    g.release("hog");
    await waitFor(() => g.started.includes("child"), {
      what: "child to start",
    });
    assertEquals(g.started, ["parent", "hog", "child"]);
    g.release("child");
  } finally {
    await m.shutdown({ graceMs: 1000 });
    await db.cleanup();
  }
});

Deno.test("a one-time job whose run waits queued is running: cancelled, it ends cancelled (also after a restart)", async () => {
  const db = await tempDb();
  const g = gates();
  const open = async () =>
    await createManager({
      store: await openDuckDBStore(db.path),
      functions: g.functions,
      concurrency: { k: 1 },
      log: quiet,
    });
  let m = await open();
  try {
    await m.create(gateJob("hog", { concurrencyKey: "k" }));
    await m.create(gateJob("once", { concurrencyKey: "k" }));
    await m.runNow("hog");
    await waitFor(() => g.started.includes("hog"), { what: "hog running" });
    await m.start("once"); // a manual one-time job: due at once, and queued
    await waitFor(() => m.get("once").queuedRuns === 1, { what: "queued" });
    assertEquals(m.get("once").status, "running");
    const queued = await waitFor(async () => (await m.runs("once")).runs[0]);
    assertEquals(queued.status, "queued");
    const { run, ended } = await m.cancelRun("once", queued.id, "test");
    assert(ended);
    assertEquals(run.status, "cancelled");
    assertEquals(m.get("once").status, "cancelled");
    assertEquals(m.get("once").nextRunAt, null);
    g.release("hog");
    await m.shutdown({ graceMs: 1000 });
    m = await open();
    assertEquals(m.get("once").status, "cancelled");
    assertEquals((await m.runs("once")).runs.map((r) => r.status), [
      "cancelled",
    ]);
    assertEquals(g.started, ["hog"], "the cancelled run never ran");
  } finally {
    await m.shutdown({ graceMs: 0 });
    await db.cleanup();
  }
});

Deno.test("a one-time job whose run waits queued cannot be paused: its run runs and the job ends complete", async () => {
  const db = await tempDb();
  const g = gates();
  const m = await createManager({
    store: await openDuckDBStore(db.path),
    functions: g.functions,
    concurrency: { k: 1 },
    log: quiet,
  });
  try {
    await m.create(gateJob("hog", { concurrencyKey: "k" }));
    await m.create(gateJob("once", { concurrencyKey: "k" }));
    await m.runNow("hog");
    await waitFor(() => g.started.includes("hog"), { what: "hog running" });
    await m.start("once");
    await waitFor(() => m.get("once").queuedRuns === 1, { what: "queued" });
    await assertRejects(
      () => m.pause("once"),
      Error,
      "a running one-time job cannot be paused",
    );
    assertEquals(m.get("once").status, "running");
    g.release("hog");
    await waitFor(() => g.started.includes("once"), { what: "once running" });
    g.release("once");
    await waitFor(() => m.get("once").status === "complete", {
      what: "once complete",
    });
    assertEquals((await m.runs("once")).runs[0].status, "complete");
  } finally {
    await m.shutdown({ graceMs: 0 });
    await db.cleanup();
  }
});

Deno.test("a one-time job whose run is queued at a restart stays running, runs it, and ends complete", async () => {
  const db = await tempDb();
  const g1 = gates();
  const m1 = await createManager({
    store: await openDuckDBStore(db.path),
    functions: g1.functions,
    concurrency: { k: 1 },
    log: quiet,
  });
  try {
    await m1.create(gateJob("hog", { concurrencyKey: "k" }));
    await m1.create(gateJob("once", { concurrencyKey: "k" }));
    await m1.runNow("hog");
    await waitFor(() => g1.started.includes("hog"), { what: "hog running" });
    await m1.start("once");
    await waitFor(async () => await statusOf(m1, "once") === "queued", {
      what: "queued, in the file",
    });
    assertEquals(m1.get("once").status, "running");
  } finally {
    await m1.shutdown({ graceMs: 0 }); // hog ends cancelled; once stays queued
  }
  const g2 = gates();
  const m2 = await createManager({
    store: await openDuckDBStore(db.path),
    functions: g2.functions,
    concurrency: { k: 1 },
    log: quiet,
  });
  try {
    await waitFor(() => g2.started.includes("once"), { what: "once running" });
    assertEquals(m2.get("once").status, "running");
    g2.release("once");
    await waitFor(() => m2.get("once").status === "complete", {
      what: "once complete",
    });
  } finally {
    await m2.shutdown({ graceMs: 0 });
    await db.cleanup();
  }
});

Deno.test("a start of the queue that fails is tried again: the queued run still starts", async () => {
  const db = await tempDb();
  const g = gates();
  const store = await openDuckDBStore(db.path);
  let fails = 0; // starts of queued runs to fail, from now on
  const startQueued = store.startQueued.bind(store);
  store.startQueued = (runs) => {
    if (fails > 0) {
      fails--;
      return Promise.reject(new Error("connection reset"));
    }
    return startQueued(runs);
  };
  const m = await createManager({
    store,
    functions: g.functions,
    concurrency: { k: 1 },
    log: quiet,
  });
  try {
    await m.create(gateJob("hog", { concurrencyKey: "k" }));
    await m.create(gateJob("waits", { concurrencyKey: "k" }));
    await m.runNow("hog");
    await waitFor(() => g.started.includes("hog"), { what: "hog running" });
    const queued = await m.runNow("waits");
    await waitFor(async () =>
      (await m.concurrency()).keys[0].queued === 1 &&
      !g.started.includes("waits")
    );
    fails = 2; // the store fails when the slot frees, and once more
    g.release("hog");
    await waitFor(() => g.started.includes("waits"), {
      what: "the queued run to start",
    });
    assertEquals(fails, 0);
    g.release("waits");
    const run = await waitFor(async () => {
      const r = await m.run("waits", queued.id);
      return r.status === "complete" && r;
    });
    assertEquals(run.error, null);
  } finally {
    await m.shutdown({ graceMs: 0 });
    await db.cleanup();
  }
});

Deno.test("a cap of 1 holds for runs now asked at once and for a chain's fan-out: one runs, the rest wait queued", async () => {
  const db = await tempDb();
  const g = gates();
  const m = await createManager({
    store: await openDuckDBStore(db.path),
    functions: g.functions,
    maxConcurrentRuns: 1,
    log: quiet,
  });
  try {
    for (const id of ["a", "b", "c"]) await m.create(gateJob(id));
    // Decided together, before any of their starts is committed.
    const runs = await Promise.all(["a", "b", "c"].map((id) => m.runNow(id)));
    assertEquals(runs.map((r) => r.status), ["running", "queued", "queued"]);
    for (const id of ["a", "b", "c"]) {
      await waitFor(() => g.started.includes(id), { what: `${id} to start` });
      assertEquals(g.started, ["a", "b", "c"].slice(0, g.started.length));
      g.release(id);
    }
    // A parent's chained runs, triggered together when it ends.
    const kids = ["x", "y", "z"];
    for (const id of kids) await m.create(gateJob(id));
    await m.create(gateJob("parent", { onSuccess: kids }));
    await m.runNow("parent");
    await waitFor(() => g.started.includes("parent"));
    g.release("parent");
    const chained = await waitFor(async () => {
      const all = await Promise.all(
        kids.map(async (id) => (await m.runs(id)).runs[0]?.status),
      );
      return all.every((s) => s) && all;
    }, { what: "the chained runs" });
    // None is let go yet: as decided, one running and two waiting.
    assertEquals(chained.sort(), ["queued", "queued", "running"]);
    await waitFor(() => g.started.some((id) => kids.includes(id)), {
      what: "a chained run to start",
    });
    for (let i = 0; i < kids.length; i++) {
      const going = g.started.filter((id) => kids.includes(id));
      assertEquals(going.length, i + 1, "one at a time");
      g.release(going[i]);
      if (i + 1 < kids.length) {
        await waitFor(
          () => g.started.filter((id) => kids.includes(id)).length === i + 2,
          { what: "the next chained run" },
        );
      }
    }
  } finally {
    await m.shutdown({ graceMs: 0 });
    await db.cleanup();
  }
});
