/**
 * The store contract (lib/jobpro/store.ts) as tests: every guarantee, run on
 * any store a factory opens. `storeContract("DuckDB", openDuckDB)` registers
 * them; a store shared by several processes runs the same suite unchanged.
 *
 * @example
 * ```ts
 * storeContract("DuckDB", async () => { const db = await tempDb(); ... });
 * ```
 * @module
 */
import { assert, assertEquals, assertRejects } from "@std/assert";
import type { Job } from "@/lib/jobpro/job.ts";
import type { JobStatus } from "@/lib/jobpro/status.ts";
import { newRun, type Run } from "@/lib/jobpro/run.ts";
import { type Batch, emptyBatch, type Store } from "@/lib/jobpro/store.ts";
import type { Delivery } from "@/lib/jobpro/notify.ts";
import { chainsContract } from "./chains_contract.ts";
import { heartbeatContract } from "./heartbeat_contract.ts";
import { outputContract } from "./output_contract.ts";

/** A store to test, and how to open it again (after a restart) and throw it away. */
export interface OpenedStore {
  store: Store;
  /** Closes this handle and opens the same database again. */
  reopen(): Promise<Store>;
  cleanup(): Promise<void>;
}

/** The fixtures' time: jobs are created at it. */
export const T0 = Date.UTC(2024, 0, 1);
const MIN = 60_000;

/** A periodic job as stored, created at T0, due a minute later. */
export function job(id: string, extra: Partial<Job> = {}): Job {
  return {
    id,
    name: id,
    description: null,
    type: "periodic",
    schedule: "* * * * *",
    timezone: null,
    action: { type: "function", name: "noop" },
    timeoutMs: null,
    retries: 0,
    retryDelayMs: 1000,
    overlap: "skip",
    catchUp: "skip",
    autoStart: true,
    tags: [],
    notify: [],
    status: "scheduled",
    nextRunAt: T0 + MIN,
    createdAt: T0,
    updatedAt: T0,
    version: 1,
    onSuccess: [],
    onFailure: [],
    concurrencyKey: null,
    ...extra,
  };
}

function run(id: number, jobId: string, extra: Partial<Run> = {}): Run {
  const r = newRun({
    id,
    jobId,
    trigger: "schedule",
    attempt: 1,
    scheduledFor: T0 + MIN,
    now: T0 + MIN,
  });
  return { ...r, ...extra };
}

const ended = (r: Run, status: "complete" | "failed" = "complete"): Run => ({
  ...r,
  status,
  endedAt: r.startedAt + 5,
  durationMs: 5,
  message: status === "complete" ? "ok" : null,
  error: status === "failed" ? "boom" : null,
});

const batch = (b: Partial<Batch>): Batch => ({ ...emptyBatch(), ...b });

async function stored(store: Store, id: string) {
  return (await store.loadJobs()).find((s) => s.job.id === id);
}

/**
 * Registers the contract's tests for a store.
 *
 * @example
 * ```ts
 * storeContract("DuckDB", openTemp);
 * ```
 */
export function storeContract(
  name: string,
  open: () => Promise<OpenedStore>,
): void {
  const test = (title: string, fn: (o: OpenedStore) => Promise<void>) =>
    Deno.test({
      name: `store contract (${name}): ${title}`,
      sanitizeOps: false,
      sanitizeResources: false,
      async fn() {
        const o = await open();
        try {
          await fn(o);
        } finally {
          await o.store.close().catch(() => {});
          await o.cleanup();
        }
      },
    });
  chainsContract(test);
  heartbeatContract(test);
  outputContract(test);

  test("a create expects no such job; a second create of the id is refused and changes nothing", async ({ store }) => {
    const w = await store.write(
      batch({ puts: [{ job: job("a"), expected: null }] }),
    );
    assertEquals(w.puts, [true]);
    const again = await store.write(batch({
      puts: [{ job: job("a", { name: "other" }), expected: null }],
    }));
    assertEquals(again.puts, [false]);
    const a = await stored(store, "a");
    assertEquals([a?.job.name, a?.job.version], ["a", 1]);
  });

  test("a put planned from an older version is refused, never applied over a newer one", async ({ store }) => {
    await store.write(batch({ puts: [{ job: job("a"), expected: null }] }));
    const v2 = await store.write(batch({
      puts: [{ job: job("a", { name: "two", version: 2 }), expected: 1 }],
    }));
    assertEquals(v2.puts, [true]);
    const stale = await store.write(batch({
      puts: [{ job: job("a", { name: "stale", version: 2 }), expected: 1 }],
    }));
    assertEquals(stale.puts, [false]);
    const a = await stored(store, "a");
    assertEquals([a?.job.name, a?.job.version], ["two", 2]);
  });

  test("tags round-trip through a create, an update and a reopen, in order; none is []", async (o) => {
    await o.store.write(batch({
      puts: [
        {
          job: job("a", { tags: ["nightly", "billing", "team.data-1"] }),
          expected: null,
        },
        { job: job("b"), expected: null },
      ],
    }));
    assertEquals((await stored(o.store, "a"))?.job.tags, [
      "nightly",
      "billing",
      "team.data-1",
    ]);
    assertEquals((await stored(o.store, "b"))?.job.tags, []);
    const w = await o.store.write(batch({
      puts: [
        { job: job("a", { tags: ["billing"], version: 2 }), expected: 1 },
        { job: job("b", { tags: ["x"], version: 2 }), expected: 1 },
      ],
    }));
    assertEquals(w.puts, [true, true]);
    const again = await o.reopen();
    const all = await again.loadJobs();
    assertEquals(all.map((s) => [s.job.id, s.job.tags]), [
      ["a", ["billing"]],
      ["b", ["x"]],
    ]);
    await again.write(batch({
      puts: [{ job: job("a", { tags: [], version: 3 }), expected: 2 }],
    }));
    assertEquals((await stored(again, "a"))?.job.tags, []);
  });

  test("a delete at the stored version takes the job and all its runs; a stale one changes nothing", async ({ store }) => {
    await store.write(batch({
      puts: [{ job: job("a"), expected: null }, {
        job: job("b"),
        expected: null,
      }],
    }));
    await store.write(batch({
      started: [run(1, "a")],
      finished: [ended(run(2, "a")), ended(run(3, "b"))],
    }));
    const stale = await store.write(
      batch({ deletes: [{ id: "a", expected: 7 }] }),
    );
    assertEquals(stale.deletes, [false]);
    assert(await stored(store, "a"));
    const done = await store.write(
      batch({ deletes: [{ id: "a", expected: 1 }] }),
    );
    assertEquals(done.deletes, [true]);
    assertEquals(await stored(store, "a"), undefined);
    assertEquals((await store.listRuns("a")).total, 0);
    assertEquals(
      (await store.listRuns("b")).total,
      1,
      "other jobs keep theirs",
    );
    assertEquals(
      await store.recoverInterrupted(T0),
      [],
      "its running run went too",
    );
    // The id can be taken again, with a history of its own.
    await store.write(batch({ puts: [{ job: job("a"), expected: null }] }));
    assertEquals((await store.listRuns("a")).total, 0);
  });

  test("a claim is a compare-and-set of next_run_at: it wins only while the time is still the tick", async ({ store }) => {
    await store.write(batch({ puts: [{ job: job("a"), expected: null }] }));
    const first = await store.write(batch({
      claims: [{ jobId: "a", tick: T0 + MIN, next: T0 + 2 * MIN }],
    }));
    assertEquals(first.claims, [true]);
    const again = await store.write(batch({
      claims: [{ jobId: "a", tick: T0 + MIN, next: T0 + 3 * MIN }],
    }));
    assertEquals(again.claims, [false], "the tick was claimed already");
    assertEquals((await stored(store, "a"))?.job.nextRunAt, T0 + 2 * MIN);
    const toNone = await store.write(batch({
      claims: [{ jobId: "a", tick: T0 + 2 * MIN, next: null }],
    }));
    assertEquals(toNone.claims, [true]);
    const fromNone = await store.write(batch({
      claims: [{ jobId: "a", tick: null, next: T0 + 9 * MIN }],
    }));
    assertEquals(fromNone.claims, [true], "null is a value to compare too");
    assertEquals((await stored(store, "a"))?.job.nextRunAt, T0 + 9 * MIN);
    const missing = await store.write(batch({
      claims: [{ jobId: "nope", tick: null, next: T0 }],
    }));
    assertEquals(missing.claims, [false]);
  });

  test("one batch finishing 200 runs over 40 jobs counts each, and each job's last run is its newest", async ({ store }) => {
    const ids = Array.from({ length: 40 }, (_, i) => `j${i}`);
    await store.write(batch({
      puts: ids.map((id) => ({ job: job(id), expected: null })),
    }));
    const runs: Run[] = [];
    for (let n = 1; n <= 200; n++) {
      const r = run(n, ids[n % 40], { scheduledFor: T0 + n * MIN });
      runs.push(ended(r, n % 3 === 0 ? "failed" : "complete"));
    }
    // Not in id order: a job's newest run is anywhere in the batch.
    const shuffled = runs.map((r, i) => ({ r, k: (i * 7919) % 200 }))
      .sort((a, b) => a.k - b.k).map((x) => x.r);
    await store.write(batch({ finished: shuffled }));
    for (const id of ids) {
      const mine = runs.filter((r) => r.jobId === id);
      const a = await stored(store, id);
      assertEquals(
        [a?.counts.runs, a?.counts.successes, a?.counts.lastRun?.id],
        [
          mine.length,
          mine.filter((r) => r.status === "complete").length,
          Math.max(...mine.map((r) => r.id)),
        ],
        id,
      );
    }
  });

  test("two claimants of one tick, at once: exactly one wins, and the stored time is the winner's", async ({ store }) => {
    await store.write(batch({ puts: [{ job: job("a"), expected: null }] }));
    for (let round = 0; round < 20; round++) {
      const tick = (await stored(store, "a"))!.job.nextRunAt;
      const nexts = [
        T0 + (round + 2) * 2 * MIN,
        T0 + (round + 2) * 2 * MIN + 1,
      ];
      const [x, y] = await Promise.all(
        nexts.map((next) =>
          store.write(batch({ claims: [{ jobId: "a", tick, next }] }))
        ),
      );
      const won = [x.claims[0], y.claims[0]];
      assertEquals(won.filter(Boolean).length, 1, `round ${round}: ${won}`);
      const winner = won[0] ? nexts[0] : nexts[1];
      assertEquals((await stored(store, "a"))?.job.nextRunAt, winner);
    }
  });

  test("status changes are written as they are and never touch the definition or version", async ({ store }) => {
    await store.write(batch({ puts: [{ job: job("a"), expected: null }] }));
    await store.write(batch({
      statuses: [{ jobId: "a", status: "running", updatedAt: T0 + 5 }],
    }));
    const a = await stored(store, "a");
    assertEquals(
      [a?.job.status, a?.job.updatedAt, a?.job.version, a?.job.name],
      [
        "running",
        T0 + 5,
        1,
        "a",
      ],
    );
  });

  test("a status is written whether its job's claim wins or loses, with its run's end, and a put in its batch wins over it", async ({ store }) => {
    await store.write(batch({
      puts: ["a", "b", "c"].map((id) => ({ job: job(id), expected: null })),
    }));
    const at = (jobId: string, status: JobStatus, updatedAt: number) => ({
      jobId,
      status,
      updatedAt,
    });
    const lost = await store.write(batch({
      // a's claim is of a tick it does not have.
      claims: [{ jobId: "a", tick: T0 + 2 * MIN, next: T0 + 3 * MIN }],
      statuses: [at("a", "running", T0 + 5), at("c", "running", T0 + 7)],
      puts: [{ job: job("c", { status: "paused", version: 2 }), expected: 1 }],
    }));
    assertEquals(lost.claims, [false]);
    const view = async (id: string) => {
      const s = await stored(store, id);
      return [
        s?.job.status,
        s?.job.updatedAt,
        s?.job.nextRunAt,
        s?.counts.runs,
      ];
    };
    assertEquals(await view("a"), ["running", T0 + 5, T0 + MIN, 0]);
    assertEquals(await view("c"), ["paused", T0, T0 + MIN, 0]);
    const won = await store.write(batch({
      claims: [{ jobId: "a", tick: T0 + MIN, next: T0 + 2 * MIN }],
      finished: [ended(run(1, "b"))],
      statuses: [at("a", "scheduled", T0 + 8), at("b", "scheduled", T0 + 9)],
    }));
    assertEquals(won.claims, [true]);
    assertEquals(await view("a"), ["scheduled", T0 + 8, T0 + 2 * MIN, 0]);
    assertEquals(await view("b"), ["scheduled", T0 + 9, T0 + MIN, 1]);
  });

  test("finished runs move the job's counters by deltas, which no put overwrites", async ({ store }) => {
    await store.write(batch({ puts: [{ job: job("a"), expected: null }] }));
    await store.write(batch({
      finished: [ended(run(1, "a")), ended(run(2, "a"), "failed")],
    }));
    await store.write(batch({
      finished: [ended(run(3, "a"))],
      puts: [{ job: job("a", { name: "renamed", version: 2 }), expected: 1 }],
    }));
    await store.write(batch({
      puts: [{ job: job("a", { name: "again", version: 3 }), expected: 2 }],
    }));
    const a = await stored(store, "a");
    assertEquals([a?.counts.runs, a?.counts.successes], [3, 2]);
    assertEquals(a?.counts.lastRun?.id, 3);
    assertEquals(a?.job.name, "again");
  });

  test("a description round-trips through a create, an update and a reopen; none is null", async (o) => {
    const text = "Sends the report.\nTwo lines, «quotes» and 'apostrophes'";
    await o.store.write(batch({
      puts: [
        { job: job("a", { description: text }), expected: null },
        { job: job("b"), expected: null },
      ],
    }));
    assertEquals((await stored(o.store, "a"))?.job.description, text);
    assertEquals((await stored(o.store, "b"))?.job.description, null);
    await o.store.write(batch({
      puts: [
        { job: job("a", { description: null, version: 2 }), expected: 1 },
        { job: job("b", { description: "now one", version: 2 }), expected: 1 },
      ],
    }));
    const again = await o.reopen();
    assertEquals(
      (await again.loadJobs()).map((s) => [s.job.id, s.job.description]),
      [["a", null], ["b", "now one"]],
    );
  });

  test("each finish moves a job's last success and last failure forward only, and no put overwrites them", async (o) => {
    await o.store.write(batch({ puts: [{ job: job("a"), expected: null }] }));
    const none = await stored(o.store, "a");
    assertEquals(
      [none?.counts.lastSuccessAt, none?.counts.lastFailureAt],
      [null, null],
    );
    const ok = ended(run(1, "a"));
    const bad = { ...ended(run(2, "a"), "failed"), endedAt: ok.endedAt! + 10 };
    await o.store.write(batch({ finished: [ok, bad] }));
    // A success that ended earlier, written later, moves nothing back.
    const older = { ...ended(run(3, "a")), endedAt: ok.endedAt! - 1000 };
    await o.store.write(batch({
      finished: [older],
      puts: [{ job: job("a", { name: "renamed", version: 2 }), expected: 1 }],
    }));
    const again = await o.reopen();
    const a = (await again.loadJobs()).find((s) => s.job.id === "a");
    assertEquals(
      [a?.counts.lastSuccessAt, a?.counts.lastFailureAt],
      [ok.endedAt, bad.endedAt],
    );
  });

  test("started runs are recorded until they end; those a dead process left are recovered as interrupted, counted once", async (o) => {
    await o.store.write(batch({ puts: [{ job: job("a"), expected: null }] }));
    await o.store.write(batch({ started: [run(1, "a"), run(2, "a")] }));
    await o.store.write(batch({ finished: [ended(run(1, "a"))] }));
    const store = await o.reopen();
    o.store = store;
    const recovered = await store.recoverInterrupted(T0 + 10 * MIN);
    assertEquals(
      recovered.map((r) => [r.id, r.status, r.error]),
      [[2, "failed", "interrupted"]],
    );
    assertEquals(await store.recoverInterrupted(T0 + 11 * MIN), [], "once");
    const a = await stored(store, "a");
    assertEquals([a?.counts.runs, a?.counts.successes], [2, 1]);
    assertEquals((await store.getRun("a", 2))?.status, "failed");
    assertEquals(await store.maxRunId(), 2);
  });

  test("a batch is one transaction: when any part fails, nothing of it is written", async ({ store }) => {
    await store.write(batch({ puts: [{ job: job("a"), expected: null }] }));
    await assertRejects(() =>
      store.write(batch({
        puts: [{ job: job("a", { name: "x", version: 2 }), expected: 1 }],
        claims: [{ jobId: "a", tick: T0 + MIN, next: T0 + 5 * MIN }],
        finished: [ended(run(1, "a"))],
        // A time that is no time at all cannot be stored.
        started: [run(2, "a", { startedAt: Number.NaN })],
        events: [{ type: "job-update", jobId: "a" }],
      }))
    );
    const a = await stored(store, "a");
    assertEquals(
      [a?.job.name, a?.job.version, a?.job.nextRunAt, a?.counts.runs],
      ["a", 1, T0 + MIN, 0],
    );
    assertEquals((await store.listRuns("a")).total, 0);
    assertEquals(await store.eventsSince(0), []);
    // And the store goes on working.
    const w = await store.write(batch({ finished: [ended(run(3, "a"))] }));
    assertEquals(w.firstSeq, 1);
  });

  test("events are appended in order with increasing sequence numbers, read back by sequence, across reopening", async (o) => {
    await o.store.write(batch({ puts: [{ job: job("a"), expected: null }] }));
    const w1 = await o.store.write(batch({
      events: [{ type: "job-update", jobId: "a" }, {
        type: "run-started",
        jobId: "a",
        runId: 1,
      }],
    }));
    const w2 = await o.store.write(batch({
      events: [{ type: "job-deleted", jobId: "a" }],
    }));
    assertEquals([w1.firstSeq, w2.firstSeq], [1, 3]);
    assertEquals(await o.store.lastEventSeq(), 3);
    const all = await o.store.eventsSince(0);
    assertEquals(all?.map((e) => [e.seq, e.type, e.jobId]), [
      [1, "job-update", "a"],
      [2, "run-started", "a"],
      [3, "job-deleted", "a"],
    ]);
    assertEquals(all?.[1].type === "run-started" && all[1].runId, 1);
    assertEquals((await o.store.eventsSince(1, 1))?.map((e) => e.seq), [2]);
    assertEquals(await o.store.eventsSince(3), []);
    assertEquals(
      await o.store.eventsSince(4),
      null,
      "from a log it never wrote",
    );
    o.store = await o.reopen();
    assertEquals(await o.store.lastEventSeq(), 3);
    const w3 = await o.store.write(
      batch({ events: [{ type: "job-update", jobId: "b" }] }),
    );
    assertEquals(w3.firstSeq, 4, "numbers go on after a restart");
  });

  test("the event log is bounded: pruned to its newest events, a reader from before them is told to start over", async ({ store }) => {
    for (let i = 0; i < 5; i++) {
      await store.write(
        batch({ events: [{ type: "job-update", jobId: `j${i}` }] }),
      );
    }
    await store.prune({ before: 0, maxPerJob: 1000, maxEvents: 2 });
    assertEquals((await store.eventsSince(3))?.map((e) => e.seq), [4, 5]);
    assertEquals(await store.eventsSince(1), null);
  });

  test("a run-cancel event reads back with its run and who asked", async ({ store }) => {
    const by = "dashboard: a name with spaces, colons";
    await store.write(batch({
      events: [{ type: "run-cancel", jobId: "a", runId: 7, by }],
    }));
    const [e] = (await store.eventsSince(0))!;
    assertEquals(
      e.type === "run-cancel" && [e.jobId, e.runId, e.by],
      ["a", 7, by],
    );
  });

  test("runs read back newest first, filtered and paged, with stats and pruning by age and count", async ({ store }) => {
    await store.write(batch({ puts: [{ job: job("a"), expected: null }] }));
    const runs = Array.from(
      { length: 6 },
      (_, i) =>
        ended(
          run(i + 1, "a", { startedAt: T0 + i * MIN }),
          i % 3 === 0 ? "failed" : "complete",
        ),
    );
    await store.write(batch({ finished: runs }));
    const page = await store.listRuns("a", { limit: 2, offset: 1 });
    assertEquals([page.total, page.runs.map((r) => r.id)], [6, [5, 4]]);
    const failed = await store.listRuns("a", { status: "failed" });
    assertEquals(failed.runs.map((r) => r.id), [4, 1]);
    const stats = await store.stats("a");
    assertEquals([stats.runs, stats.successRate], [6, 66.7]);
    assertEquals(
      await store.prune({ before: T0 + 2 * MIN, maxPerJob: 1000 }),
      2,
    );
    assertEquals(await store.prune({ before: 0, maxPerJob: 3 }), 1);
    assertEquals((await store.listRuns("a")).runs.map((r) => r.id), [6, 5, 4]);
  });

  test("ping answers and probe commits a tiny write", async ({ store }) => {
    await store.ping();
    await store.probe();
    await store.probe();
  });

  test("a job's notify rules are stored with it and kept across a reopen", async (o) => {
    const notify: Job["notify"] = [
      {
        on: ["failure", "recovery"],
        target: { webhook: "https://h.example/x" },
      },
      { on: ["missed"], target: { email: "ops@example.com" } },
    ];
    await o.store.write(batch({
      puts: [{ job: job("a", { notify }), expected: null }, {
        job: job("b"),
        expected: null,
      }],
    }));
    const store = await o.reopen();
    o.store = store;
    assertEquals((await stored(store, "a"))?.job.notify, notify);
    assertEquals((await stored(store, "b"))?.job.notify, []);
    await store.write(batch({
      puts: [{ job: job("a", { notify: [], version: 2 }), expected: 1 }],
    }));
    assertEquals((await stored(store, "a"))?.job.notify, []);
  });

  test("deliveries are written with the finish, once per id; claimed by one caller at a time; settled by compare-and-set", async (o) => {
    await o.store.write(batch({ puts: [{ job: job("a"), expected: null }] }));
    const r = ended(run(1, "a"), "failed");
    const d = delivery("run:1|failure|webhook:https://h.example/x", "a", 1);
    const d2 = delivery("run:1|failure|email:ops@example.com", "a", 1);
    await o.store.write(batch({ finished: [r], deliveries: [d, d2] }));
    // The same finish written again (a retried batch) adds nothing.
    await o.store.write(batch({ deliveries: [{ ...d, payload: "{}" }] }));
    const store = await o.reopen();
    o.store = store;
    let list = await store.listDeliveries("a");
    assertEquals(list.length, 2);
    assertEquals(list.find((x) => x.id === d.id)?.payload, d.payload);
    assertEquals(list[0].status, "pending");

    const now = T0 + 2 * MIN;
    const first = await store.claimDeliveries(now, 1, 30_000);
    assertEquals(first.length, 1);
    assertEquals(first[0].attempts, 1);
    const second = await store.claimDeliveries(now, 10, 30_000);
    assertEquals(
      second.map((x) => x.id),
      [d, d2].map((x) => x.id).filter((id) => id !== first[0].id),
    );
    // Both held: nothing left to claim until the holds lapse.
    assertEquals(await store.claimDeliveries(now + 1000, 10, 30_000), []);
    // A settle of the attempt claimed applies; one of an older attempt does not.
    assert(
      await store.settleDelivery({
        id: first[0].id,
        attempts: 1,
        status: "pending",
        error: "HTTP 503",
        nextAttemptAt: now + 5000,
        sentAt: null,
      }),
    );
    assertEquals(await store.claimDeliveries(now + 1000, 10, 30_000), []);
    const retry = await store.claimDeliveries(now + 5000, 10, 30_000);
    assertEquals([retry.length, retry[0].attempts, retry[0].error], [
      1,
      2,
      "HTTP 503",
    ]);
    assertEquals(
      await store.settleDelivery({
        id: first[0].id,
        attempts: 1,
        status: "sent",
        error: null,
        nextAttemptAt: null,
        sentAt: now,
      }),
      false,
    );
    assert(
      await store.settleDelivery({
        id: first[0].id,
        attempts: 2,
        status: "sent",
        error: null,
        nextAttemptAt: null,
        sentAt: now + 5001,
      }),
    );
    // The other's hold lapses: it is claimed again, one attempt more.
    const lapsed = await store.claimDeliveries(now + 31_000, 10, 30_000);
    assertEquals(lapsed.map((x) => [x.id, x.attempts]), [[second[0].id, 2]]);
    assert(
      await store.settleDelivery({
        id: second[0].id,
        attempts: 2,
        status: "failed",
        error: "gave up",
        nextAttemptAt: null,
        sentAt: null,
      }),
    );
    assertEquals(await store.claimDeliveries(now + 99 * MIN, 10, 30_000), []);
    list = await store.listDeliveries("a");
    const byId = new Map(list.map((x) => [x.id, x]));
    assertEquals(byId.get(first[0].id)?.status, "sent");
    assertEquals(byId.get(first[0].id)?.sentAt, now + 5001);
    assertEquals(byId.get(second[0].id)?.status, "failed");
    assertEquals(byId.get(second[0].id)?.error, "gave up");
    assertEquals(await store.listDeliveries("none"), []);
  });

  test("a deleted job's deliveries go with it; one for a job deleted in the same batch is not written", async ({ store }) => {
    await store.write(batch({
      puts: [{ job: job("a"), expected: null }, {
        job: job("b"),
        expected: null,
      }],
    }));
    await store.write(batch({ deliveries: [delivery("x", "a", null)] }));
    await store.write(batch({
      deletes: [{ id: "a", expected: 1 }, { id: "b", expected: 1 }],
      deliveries: [delivery("y", "b", null)],
    }));
    assertEquals(await store.listDeliveries("a"), []);
    assertEquals(await store.listDeliveries("b"), []);
    assertEquals(await store.claimDeliveries(T0 + 99 * MIN, 10, 1000), []);
  });

  test("a finish of a job deleted in an earlier batch records nothing: no run, alert or chain trigger, none for the id created again", async (o) => {
    await o.store.write(batch({
      puts: [{ job: job("a"), expected: null }, {
        job: job("b"),
        expected: null,
      }],
    }));
    await o.store.write(batch({ started: [run(1, "a")] }));
    const gone = await o.store.write(
      batch({ deletes: [{ id: "a", expected: 1 }] }),
    );
    assertEquals(gone.deletes, [true]);
    // Queued before the delete, written after it (a writer's later batch).
    const r = ended(run(1, "a"), "failed");
    const trigger = (parentJobId: string, jobId: string) => ({
      parentRunId: 1,
      parentJobId,
      jobId,
      on: "failure" as const,
      createdAt: T0 + MIN,
    });
    await o.store.write(batch({
      started: [run(2, "a")],
      finished: [r],
      deliveries: [
        delivery("run:1|failure|webhook:https://h.example/x", "a", 1),
      ],
      triggers: [trigger("a", "b"), trigger("b", "a")],
    }));
    await o.store.write(batch({ puts: [{ job: job("a"), expected: null }] }));
    o.store = await o.reopen();
    const a = await stored(o.store, "a");
    assertEquals([a?.counts.runs, a?.counts.lastRun], [0, null]);
    assertEquals((await o.store.listRuns("a")).total, 0);
    assertEquals(await o.store.getRun("a", 1), null);
    assertEquals(await o.store.listDeliveries("a"), []);
    assertEquals(await o.store.pendingTriggers(), []);
    assertEquals(await o.store.recoverInterrupted(T0 + 10 * MIN), []);
    assertEquals((await stored(o.store, "b"))?.counts.runs, 0);
  });
}

/** A pending delivery as the runner makes one. */
function delivery(id: string, jobId: string, runId: number | null): Delivery {
  return {
    id,
    jobId,
    runId,
    event: "failure",
    target: id.includes("email")
      ? "email:ops@example.com"
      : "webhook:https://h.example/x",
    payload: JSON.stringify({
      event: "failure",
      job: { id: jobId, name: jobId },
      run: null,
    }),
    status: "pending",
    attempts: 0,
    error: null,
    createdAt: T0 + MIN,
    nextAttemptAt: T0 + MIN,
    sentAt: null,
  };
}
