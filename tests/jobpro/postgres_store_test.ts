/**
 * The store contract on the PostgreSQL store, unchanged, on a real server
 * (tests/pg/server.ts: one per test file, a schema per test), and what only
 * a database server can do: a schema newer than the code, a restart that
 * migrates nothing, the server going away and coming back.
 */
import { assert, assertEquals, assertRejects } from "@std/assert";
import { JobproError } from "@/lib/jobpro/errors.ts";
import { newRun } from "@/lib/jobpro/run.ts";
import { openPostgresStore } from "@/lib/jobpro/postgres_store.ts";
import {
  bootstrap,
  migrationsFrom,
  SCHEMA_VERSION,
} from "@/lib/jobpro/postgres_sql.ts";
import { emptyBatch, type Store } from "@/lib/jobpro/store.ts";
import { waitFor } from "../helpers.ts";
import {
  closeSharedPostgres,
  query,
  sharedPostgres,
  startPostgres,
  testSchema,
  timings,
} from "../pg/server.ts";
import { job, storeContract, T0 } from "./store_contract.ts";

// Started before any test, so that no test's sanitizers count it as theirs;
// the last test stops it (and its guard would, were this process to die).
// Where none can be started (no package for the platform, no
// JOBPRO_TEST_PG_URL), each test fails with the reason: the rest of the
// suite still runs.
await sharedPostgres().catch(() => {});

storeContract("PostgreSQL", async () => {
  const s = await testSchema();
  const open = () => openPostgresStore(s.url, { schema: s.schema });
  let store = await open();
  return {
    get store() {
      return store;
    },
    set store(next) {
      store = next;
    },
    async reopen() {
      await store.close();
      store = await open();
      return store;
    },
    cleanup: () => s.drop(),
  };
});

const create = (store: Store, id: string) =>
  store.write({ ...emptyBatch(), puts: [{ job: job(id), expected: null }] });

/** Runs SQL on the server directly, as an operator (or a newer jobpro) would. */
const sql = (url: string, text: string) => query(url, text);

const isUnavailable = (e: unknown) =>
  e instanceof JobproError && e.code === "unavailable";

Deno.test("postgres store: a schema newer than the code is refused with a clear message, and left as it was", async () => {
  const s = await testSchema();
  try {
    await (await openPostgresStore(s.url, { schema: s.schema })).close();
    const newer = SCHEMA_VERSION + 1;
    await sql(
      s.url,
      `UPDATE ${s.schema}.schema_version SET version = ${newer}`,
    );
    const e = await assertRejects(
      () => openPostgresStore(s.url, { schema: s.schema }),
      JobproError,
      `is at version ${newer}, newer than this jobpro knows (version ${SCHEMA_VERSION})`,
    );
    assertEquals((e as JobproError).code, "unavailable");
    const { rows } = await sql(
      s.url,
      `SELECT version FROM ${s.schema}.schema_version`,
    );
    assertEquals(rows, [{ version: newer }], "not migrated down");
  } finally {
    await s.drop();
  }
});

Deno.test("postgres store: a schema from before tags (version 3) migrates: its jobs have tags [], and tags are written", async () => {
  const s = await testSchema();
  try {
    // The schema as the release before tags left it, with one job in it.
    const before = [
      ...bootstrap(s.schema),
      ...migrationsFrom(s.schema, 0, 3),
      `INSERT INTO ${s.schema}.schema_version (id, version) VALUES (1, 3)`,
      `INSERT INTO ${s.schema}.jobs (id, name, type, schedule, action, retries,
        retry_delay_ms, overlap, catch_up, auto_start, status, created_at,
        updated_at, version)
        VALUES ('old', 'Old', 'onetime', '', '{"type":"function","name":"noop"}',
          0, 1000, 'skip', 'skip', false, 'created', now(), now(), 2)`,
    ];
    await sql(s.url, before.join(";\n"));
    assert(SCHEMA_VERSION > 3);
    const store = await openPostgresStore(s.url, { schema: s.schema });
    try {
      const [old] = await store.loadJobs();
      assertEquals([old.job.id, old.job.version, old.job.tags], [
        "old",
        2,
        [],
      ]);
      const w = await store.write({
        ...emptyBatch(),
        puts: [{
          job: { ...old.job, tags: ["legacy", "b.c"], version: 3 },
          expected: 2,
        }],
      });
      assertEquals(w.puts, [true]);
      assertEquals((await store.loadJobs())[0].job.tags, ["legacy", "b.c"]);
      const { rows } = await sql(
        s.url,
        `SELECT version FROM ${s.schema}.schema_version`,
      );
      assertEquals(rows, [{ version: SCHEMA_VERSION }]);
    } finally {
      await store.close();
    }
  } finally {
    await s.drop();
  }
});

Deno.test("postgres store: the migration to last success/failure times takes them from the runs kept", async () => {
  const s = await testSchema();
  try {
    // The schema as the release before those columns left it (the version
    // found, not assumed: versions may be renumbered).
    let before = 0;
    while (
      !migrationsFrom(s.schema, before, before + 1).join().includes(
        "last_success_at",
      )
    ) before++;
    assert(before < SCHEMA_VERSION);
    const t = "2024-01-01 00:00:00+00";
    await sql(
      s.url,
      [
        ...bootstrap(s.schema),
        ...migrationsFrom(s.schema, 0, before),
        `INSERT INTO ${s.schema}.schema_version (id, version) VALUES (1, ${before})`,
        ...["a", "b"].map((id) =>
          `INSERT INTO ${s.schema}.jobs (id, name, type, schedule, action,
            retries, retry_delay_ms, overlap, catch_up, auto_start, status,
            created_at, updated_at, version)
            VALUES ('${id}', '${id}', 'onetime', '',
              '{"type":"function","name":"noop"}', 0, 1000, 'skip', 'skip',
              false, 'created', now(), now(), 1)`
        ),
        ...[[1, "complete", 0], [2, "failed", 10], [3, "complete", 20]].map((
          [id, status, ms],
        ) =>
          `INSERT INTO ${s.schema}.runs (id, job_id, trigger, attempt,
            started_at, ended_at, status, running)
            VALUES (${id}, 'a', 'manual', 1, timestamptz '${t}',
              timestamptz '${t}' + interval '${ms} ms', '${status}', false)`
        ),
      ].join(";\n"),
    );
    const store = await openPostgresStore(s.url, { schema: s.schema });
    try {
      const counts = new Map(
        (await store.loadJobs()).map((j) => [j.job.id, j.counts]),
      );
      const at = Date.parse("2024-01-01T00:00:00Z");
      assertEquals(
        [counts.get("a")?.lastSuccessAt, counts.get("a")?.lastFailureAt],
        [at + 20, at + 10],
      );
      assertEquals(
        [counts.get("b")?.lastSuccessAt, counts.get("b")?.lastFailureAt],
        [null, null],
      );
    } finally {
      await store.close();
    }
  } finally {
    await s.drop();
  }
});

Deno.test("postgres store: opening again migrates nothing and keeps the data; concurrent opens agree", async () => {
  const s = await testSchema();
  try {
    const first = await openPostgresStore(s.url, { schema: s.schema });
    await create(first, "a");
    await first.write({
      ...emptyBatch(),
      events: [{ type: "job-update", jobId: "a" }],
    });
    await first.close();
    const before = await sql(
      s.url,
      `SELECT version, migrated_at FROM ${s.schema}.schema_version`,
    );
    // Three processes starting at once on the migrated schema.
    const again = await Promise.all(
      [1, 2, 3].map(() => openPostgresStore(s.url, { schema: s.schema })),
    );
    const after = await sql(
      s.url,
      `SELECT version, migrated_at FROM ${s.schema}.schema_version`,
    );
    assertEquals(after.rows, before.rows, "no migration ran");
    assertEquals(after.rows[0].version, SCHEMA_VERSION);
    assertEquals((await again[0].loadJobs()).map((j) => j.job.id), ["a"]);
    assertEquals(await again[1].lastEventSeq(), 1);
    for (const store of again) await store.close();
  } finally {
    await s.drop();
  }
});

Deno.test("postgres store: a fresh schema is created by concurrent opens exactly once", async () => {
  const s = await testSchema();
  try {
    const stores = await Promise.all(
      [1, 2, 3].map(() => openPostgresStore(s.url, { schema: s.schema })),
    );
    const w = await Promise.all(stores.map((st) => create(st, "same")));
    assertEquals(w.map((x) => x.puts[0]).filter(Boolean).length, 1);
    for (const store of stores) await store.close();
  } finally {
    await s.drop();
  }
});

Deno.test("postgres store: two processes racing for the same ticks and versions: each is won exactly once", async () => {
  const s = await testSchema();
  const open = () => openPostgresStore(s.url, { schema: s.schema });
  const [x, y] = [await open(), await open()];
  try {
    const ids = Array.from({ length: 50 }, (_, i) => `j${i}`);
    await x.write({
      ...emptyBatch(),
      puts: ids.map((id) => ({ job: job(id), expected: null })),
    });
    let tick = T0 + 60_000;
    for (let round = 0; round < 10; round++) {
      const next = tick + 60_000;
      // Each claims every job's tick in one batch, in opposite orders.
      const [wx, wy] = await Promise.all([
        x.write({
          ...emptyBatch(),
          claims: ids.map((jobId) => ({ jobId, tick, next })),
        }),
        y.write({
          ...emptyBatch(),
          claims: [...ids].reverse().map((jobId) => ({ jobId, tick, next })),
        }),
      ]);
      const yWon = [...wy.claims].reverse();
      ids.forEach((id, i) =>
        assertEquals(
          Number(wx.claims[i]) + Number(yWon[i]),
          1,
          `round ${round}, ${id}: ${wx.claims[i]} ${yWon[i]}`,
        )
      );
      tick = next;
    }
    // Both edit one job planned from version 1: one edit is kept.
    const edits = await Promise.all([x, y].map((st, i) =>
      st.write({
        ...emptyBatch(),
        puts: [{
          job: { ...job("j0"), name: `by ${i}`, version: 2, nextRunAt: tick },
          expected: 1,
        }],
      })
    ));
    assertEquals(edits.map((e) => e.puts[0]).filter(Boolean).length, 1);
    const j0 = (await x.loadJobs()).find((j) => j.job.id === "j0")!;
    assertEquals(j0.job.version, 2);
    assertEquals(j0.job.name, edits[0].puts[0] ? "by 0" : "by 1");
  } finally {
    await x.close();
    await y.close();
    await s.drop();
  }
});

Deno.test("postgres store: batches that change the same jobs in opposite orders do not deadlock", async () => {
  const s = await testSchema();
  const open = () => openPostgresStore(s.url, { schema: s.schema });
  const [x, y] = [await open(), await open()];
  try {
    await x.write({
      ...emptyBatch(),
      puts: [{ job: job("p"), expected: null }, {
        job: job("q"),
        expected: null,
      }],
    });
    const done = (id: number, jobId: string) => ({
      ...newRun({
        id,
        jobId,
        trigger: "manual" as const,
        attempt: 1,
        scheduledFor: null,
        now: T0,
      }),
      status: "complete" as const,
      endedAt: T0 + 1,
      durationMs: 1,
    });
    // Each batch claims one job, then moves the other's counters.
    const began = performance.now();
    let tick = T0 + 60_000;
    for (let round = 0; round < 3; round++) {
      const next = tick + 60_000;
      const [a, b] = await Promise.all([
        x.write({
          ...emptyBatch(),
          claims: [{ jobId: "p", tick, next }],
          finished: [done(round * 2 + 1, "q")],
        }),
        y.write({
          ...emptyBatch(),
          claims: [{ jobId: "q", tick, next }],
          finished: [done(round * 2 + 2, "p")],
        }),
      ]);
      assertEquals([a.claims, b.claims], [[true], [true]]);
      tick = next;
    }
    const counts = (await x.loadJobs()).map((j) => [j.job.id, j.counts.runs]);
    assertEquals(counts, [["p", 3], ["q", 3]]);
    // A deadlock would have cost a second (deadlock_timeout) per round.
    const took = performance.now() - began;
    assert(took < 1_000, `3 rounds took ${took.toFixed(0)} ms`);
  } finally {
    await x.close();
    await y.close();
    await s.drop();
  }
});

Deno.test("postgres store: an unreachable database fails to open with a clear unavailable error", async () => {
  // A port nothing listens on.
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `postgres://postgres@127.0.0.1:${
    (l.addr as Deno.NetAddr).port
  }/postgres`;
  l.close();
  const e = await assertRejects(
    () => openPostgresStore(url, { connectTimeoutMs: 1_000 }),
    JobproError,
    "cannot open the PostgreSQL database 127.0.0.1:",
  );
  assertEquals((e as JobproError).code, "unavailable");
});

Deno.test("postgres store: the server going away is 'unavailable' on every call, never a crash, and the store recovers when it comes back", async () => {
  const server = await startPostgres();
  const lost: Error[] = [];
  const store = await openPostgresStore(server.url(), {
    onConnectionError: (e) => lost.push(e),
    connectTimeoutMs: 1_000,
  });
  try {
    await create(store, "a");
    // Idle connections in the pool, to be cut by the shutdown.
    await Promise.all([store.ping(), store.ping(), store.listRuns("a")]);
    await server.stop("fast");
    await waitFor(() => lost.length > 0, { what: "the pool to hear of it" });
    const calls: [string, () => Promise<unknown>][] = [
      ["write", () => create(store, "b")],
      ["ping", () => store.ping()],
      ["probe", () => store.probe()],
      ["loadJobs", () => store.loadJobs()],
      ["listRuns", () => store.listRuns("a")],
      ["eventsSince", () => store.eventsSince(0)],
      ["recoverInterrupted", () => store.recoverInterrupted(T0)],
    ];
    for (const [name, call] of calls) {
      const e = await call().then(() => null, (e) => e);
      assert(isUnavailable(e), `${name}: ${e}`);
    }
    await server.start();
    await waitFor(() => store.probe().then(() => true), {
      what: "writing to work again",
    });
    assertEquals(
      (await store.loadJobs()).map((j) => j.job.id),
      ["a"],
      "the failed create changed nothing",
    );
    assertEquals((await create(store, "b")).puts, [true]);
  } finally {
    await store.close();
    await server.close();
  }
});

Deno.test("postgres store: writes in flight when the server is killed fail as unavailable or commit, and nothing crashes", async () => {
  const server = await startPostgres();
  const store = await openPostgresStore(server.url(), {
    onConnectionError: () => {},
    connectTimeoutMs: 1_000,
    commitCheckMs: 2_000,
  });
  try {
    await create(store, "a");
    let stop = false;
    const outcomes = { ok: 0, unavailable: 0 };
    const other: unknown[] = [];
    const writer = async (n: number) => {
      for (let i = 0; !stop; i++) {
        await store.write({
          ...emptyBatch(),
          finished: [{
            ...newRun({
              id: n * 100_000 + i + 1,
              jobId: "a",
              trigger: "manual",
              attempt: 1,
              scheduledFor: null,
              now: T0,
            }),
            status: "complete",
            endedAt: T0 + 1,
            durationMs: 1,
          }],
          events: [{ type: "run-finished", jobId: "a", runId: i }],
        }).then(
          () => outcomes.ok++,
          (e) => isUnavailable(e) ? outcomes.unavailable++ : other.push(e),
        );
      }
    };
    const writers = [1, 2, 3].map(writer);
    await waitFor(() => outcomes.ok > 20, { what: "writes to go through" });
    await server.stop("immediate");
    await waitFor(() => outcomes.unavailable > 3, { what: "writes to fail" });
    stop = true;
    await Promise.all(writers);
    assertEquals(other, [], "every failure is 'unavailable'");
    console.log(`writes around the kill: ${JSON.stringify(outcomes)}`);
    await server.start();
    await waitFor(() => store.probe().then(() => true));
    // Every write that was answered ok is there, and its events with it.
    const [a] = await store.loadJobs();
    assert(a.counts.runs >= outcomes.ok, `${a.counts.runs} >= ${outcomes.ok}`);
    assertEquals(await store.lastEventSeq(), a.counts.runs);
  } finally {
    await store.close();
    await server.close();
  }
});

Deno.test("postgres store: a frozen server makes calls time out as unavailable; a COMMIT left unanswered is resolved, not guessed", async () => {
  const server = await startPostgres();
  let freezeAtCommit = false;
  const store = await openPostgresStore(server.url(), {
    onConnectionError: () => {},
    queryTimeoutMs: 400,
    connectTimeoutMs: 400,
    commitCheckMs: 20_000,
    async beforeCommit() {
      if (!freezeAtCommit) return;
      freezeAtCommit = false;
      await server.pause();
      setTimeout(() => server.resume(), 1_500);
    },
  });
  try {
    await create(store, "a");
    // A server that stops answering: the call fails within its timeout.
    await server.pause();
    const began = performance.now();
    const e = await store.ping().then(() => null, (e) => e);
    const waited = performance.now() - began;
    await server.resume();
    assert(isUnavailable(e), String(e));
    assert(waited < 2_000, `gave up after ${waited} ms`);
    await waitFor(() => store.ping().then(() => true));
    // The server freezes after the batch's statements, with its COMMIT
    // unanswered: the store must find out that it did commit.
    freezeAtCommit = true;
    const w = await store.write({
      ...emptyBatch(),
      puts: [{ job: job("b"), expected: null }],
      events: [{ type: "job-update", jobId: "b" }],
    });
    assertEquals(w.puts, [true]);
    assertEquals(w.firstSeq, 1);
    assertEquals((await store.loadJobs()).map((j) => j.job.id), ["a", "b"]);
  } finally {
    await server.resume().catch(() => {});
    await store.close();
    await server.close();
  }
});

Deno.test("postgres store: more jobs than one page load whole and in order, ties broken by id", async () => {
  const s = await testSchema();
  const store = await openPostgresStore(s.url, { schema: s.schema });
  try {
    // 12,000 jobs: three pages; most share a creation time.
    const jobs = Array.from({ length: 12_000 }, (_, i) => ({
      ...job(`j${String(11_999 - i).padStart(5, "0")}`),
      createdAt: T0 + (i < 100 ? i : 100),
    }));
    const began = performance.now();
    const w = await store.write({
      ...emptyBatch(),
      puts: jobs.map((j) => ({ job: j, expected: null })),
    });
    const writeMs = performance.now() - began;
    assertEquals(w.puts.filter(Boolean).length, 12_000);
    const loaded = await store.loadJobs();
    const expected = [...jobs].sort((a, b) =>
      a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1)
    );
    assertEquals(loaded.map((j) => j.job.id), expected.map((j) => j.id));
    assertEquals(loaded[5_000].job, expected[5_000]);
    console.log(`12,000 creates in one batch: ${writeMs.toFixed(0)} ms`);
  } finally {
    await store.close();
    await s.drop();
  }
});

Deno.test("postgres store: a batch of 1,000 finished runs is one statement, its counters exact", async () => {
  const s = await testSchema();
  const store = await openPostgresStore(s.url, { schema: s.schema });
  try {
    await create(store, "a");
    const times: number[] = [];
    for (let b = 0; b < 15; b++) {
      const finished = Array.from({ length: 1_000 }, (_, i) => ({
        ...newRun({
          id: b * 1_000 + i + 1,
          jobId: "a",
          trigger: "schedule" as const,
          attempt: 1,
          scheduledFor: T0,
          now: T0,
        }),
        status: "complete" as const,
        endedAt: T0 + 2,
        durationMs: 2,
        message: "ok",
      }));
      const began = performance.now();
      await store.write({
        ...emptyBatch(),
        finished,
        events: finished.map((r) => ({
          type: "run-finished" as const,
          jobId: "a",
          runId: r.id,
        })),
      });
      times.push(performance.now() - began);
    }
    const [a] = await store.loadJobs();
    assertEquals([a.counts.runs, a.counts.successes], [15_000, 15_000]);
    assertEquals(a.counts.lastRun?.id, 15_000);
    times.sort((x, y) => x - y);
    console.log(
      `1,000 finished runs + 1,000 events per batch: p50 ${
        times[7].toFixed(1)
      } ms, max ${times[14].toFixed(1)} ms`,
    );
  } finally {
    await store.close();
    await s.drop();
  }
});

Deno.test({
  name:
    "postgres store: the shared test server stops and leaves nothing behind",
  // It was started by the first test, not this one.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const server = await sharedPostgres();
    await closeSharedPostgres();
    if (!Deno.env.get("JOBPRO_TEST_PG_URL")) {
      const { dir } = server as unknown as { dir: string };
      assertEquals(await Deno.stat(dir).then(() => true, () => false), false);
    }
    console.log(
      `postgres: initdb ${timings.initdbMs.toFixed(0)} ms, start ${
        timings.startMs.toFixed(0)
      } ms, last schema drop ${timings.schemaMs.toFixed(0)} ms`,
    );
  },
});
