/**
 * The PostgreSQL store's {@link Cluster} on a real server (tests/pg/server.ts,
 * a schema per test): several fenced stores of several nodes on one schema,
 * joined through real membership, nothing mocked. Fencing by owner and by a
 * live lease, the one-run-per-tick key, ownership moves, the reaper (against
 * a start committing concurrently and against a second reaper), the death of
 * a node's connection, the listening connection, run id blocks.
 */
import pg from "pg";
import { assert, assertEquals, assertRejects } from "@std/assert";
import type { ChainTrigger } from "@/lib/jobpro/chains.ts";
import type { Delivery } from "@/lib/jobpro/notify.ts";
import { JobproError } from "@/lib/jobpro/errors.ts";
import { newRun, type Run } from "@/lib/jobpro/run.ts";
import { openPostgresStore } from "@/lib/jobpro/postgres_store.ts";
import { clusterStatements } from "@/lib/jobpro/postgres_cluster.ts";
import {
  bootstrap,
  claimParams,
  deliveriesJson,
  finishedParams,
  migrationsFrom,
  putsJson,
  runsJson,
  SCHEMA_VERSION,
  statementsFor,
  triggersJson,
} from "@/lib/jobpro/postgres_sql.ts";
import {
  openPostgresMembership,
  type PostgresMembership,
} from "@/lib/jobpro/postgres_nodes.ts";
import {
  type Batch,
  type Cluster,
  emptyBatch,
  type Store,
} from "@/lib/jobpro/store.ts";
import { waitFor } from "../helpers.ts";
import {
  closeSharedPostgres,
  query,
  sharedPostgres,
  testSchema,
} from "../pg/server.ts";
import { job, T0 } from "./store_contract.ts";

// Started before any test, so that no test's sanitizers count it as theirs.
await sharedPostgres().catch(() => {});

const MIN = 60_000;
type Schema = Awaited<ReturnType<typeof testSchema>>;

/** A node: a store fenced by the epoch its membership joined with. */
interface TestNode {
  name: string;
  epoch: number;
  store: Store;
  cluster: Cluster;
  members: PostgresMembership;
  close(): Promise<void>;
}

async function join(
  s: Schema,
  name: string,
  leaseMs = 60_000,
  beforeCommit?: () => Promise<void>,
): Promise<TestNode> {
  const store = await openPostgresStore(s.url, {
    schema: s.schema,
    beforeCommit,
  });
  // Timeouts of a normal lease; the lease itself is the one asked for.
  const members = openPostgresMembership(s.url, {
    schema: s.schema,
    leaseMs: 5_000,
  });
  const { epoch } = await members.join(name, leaseMs);
  const cluster = store.cluster!;
  cluster.fence(epoch);
  return {
    name,
    epoch,
    store,
    cluster,
    members,
    async close() {
      await store.close();
      await members.close();
    },
  };
}

/** Until the database's clock is past the epoch's lease. */
const expired = (s: Schema, epoch: number) =>
  waitFor(async () =>
    (await query(
      s.url,
      `SELECT lease_until < clock_timestamp() AS x FROM ${s.schema}.nodes WHERE epoch = $1`,
      [epoch],
    )).rows[0].x, { what: `epoch ${epoch} to expire` });

const batch = (b: Partial<Batch>): Batch => ({ ...emptyBatch(), ...b });

const tick = (
  jobId: string,
  id: number,
  at = T0 + MIN,
  extra: Partial<Run> = {},
) => ({
  ...newRun({
    id,
    jobId,
    trigger: "schedule",
    attempt: 1,
    scheduledFor: at,
    now: at,
  }),
  ...extra,
});

const manual = (jobId: string, id: number) =>
  newRun({
    id,
    jobId,
    trigger: "manual",
    attempt: 1,
    scheduledFor: null,
    now: T0,
  });

const done = (r: Run, status: "complete" | "failed" = "complete"): Run => ({
  ...r,
  status,
  endedAt: r.startedAt + 5,
  durationMs: 5,
  message: "ok",
});

/** Creates jobs owned by `owner` (an epoch, or null). */
const create = (st: Store, owner: number | null, ...ids: string[]) =>
  st.write(batch({
    puts: ids.map((id) => ({ job: job(id), expected: null, owner })),
    events: ids.map((jobId) => ({ type: "job-update" as const, jobId })),
  }));

const isUnavailable = (e: unknown) =>
  e instanceof JobproError && e.code === "unavailable";

async function rows(s: Schema, text: string, params?: unknown[]) {
  return (await query(s.url, text.replaceAll("$S", s.schema), params)).rows;
}

/** Opens nodes, runs the test, closes them all and drops the schema. */
async function withSchema(
  fn: (s: Schema, opened: TestNode[]) => Promise<void>,
) {
  const s = await testSchema();
  const opened: TestNode[] = [];
  try {
    await fn(s, opened);
  } finally {
    for (const n of opened) await n.close().catch(() => {});
    await s.drop();
  }
}

Deno.test("cluster: only the owner's claims, statuses and starts apply; a manual run starts on any node", async () => {
  await withSchema(async (s, opened) => {
    const a = await join(s, "a");
    const b = await join(s, "b");
    opened.push(a, b);
    assert(b.epoch > a.epoch);
    await create(a.store, a.epoch, "j");
    const [j] = await b.cluster.jobsById(["j", "absent"]);
    assertEquals(j.owner, a.epoch);
    const next = T0 + 2 * MIN;
    const claim = { jobId: "j", tick: T0 + MIN, next };
    const status = {
      jobId: "j",
      status: "running" as const,
      updatedAt: T0 + 1,
    };
    // b does not own j: its claim, status and scheduled start do nothing.
    const wb = await b.store.write(batch({
      claims: [claim],
      statuses: [status],
      started: [tick("j", 1), manual("j", 2)],
    }));
    assertEquals(wb.claims, [false]);
    assertEquals(wb.started, [false, true], "the manual run is b's to run");
    let [stored] = await a.cluster.jobsById(["j"]);
    assertEquals([stored.job.nextRunAt, stored.job.status], [
      T0 + MIN,
      "scheduled",
    ]);
    const wa = await a.store.write(batch({
      claims: [claim],
      statuses: [status],
      started: [tick("j", 3)],
    }));
    assertEquals([wa.claims, wa.started], [[true], [true]]);
    [stored] = await a.cluster.jobsById(["j"]);
    assertEquals([stored.job.nextRunAt, stored.job.status], [next, "running"]);
    // A manual run started and ended within one group commit is b's too.
    await b.store.write(batch({ finished: [done(manual("j", 5))] }));
    // Each run says which node started it.
    const runs = await a.cluster.runsById([1, 2, 3, 5]);
    assertEquals(runs.map((r) => [r.id, r.node]), [[2, "b"], [3, "a"], [
      5,
      "b",
    ]]);
    // An update planned from a next_run_at another node's claim has moved
    // since is refused; one planned from the stored one is kept (on any node).
    const edit = (name: string, expectedNext: number) => ({
      job: { ...job("j"), name, version: 2, nextRunAt: next },
      expected: 1,
      expectedNext,
    });
    assertEquals(
      (await b.store.write(batch({ puts: [edit("stale", T0 + MIN)] }))).puts,
      [false],
    );
    assertEquals(
      (await b.store.write(batch({ puts: [edit("fresh", next)] }))).puts,
      [true],
    );
    [stored] = await a.cluster.jobsById(["j"]);
    assertEquals([stored.job.name, stored.owner], ["fresh", a.epoch]);
    // An unfenced store on the schema writes as a single node always did.
    const single = await openPostgresStore(s.url, { schema: s.schema });
    try {
      const w = await single.write(batch({
        claims: [{ jobId: "j", tick: next, next: next + MIN }],
        started: [tick("j", 4, next)],
      }));
      assertEquals([w.claims, w.started], [[true], undefined]);
      assertEquals(await single.cluster!.runsById([4]), [{
        ...tick("j", 4, next),
        node: null,
      }]);
    } finally {
      await single.close();
    }
  });
});

Deno.test("cluster: a node whose lease ended writes nothing; fenced by none, nothing is written", async () => {
  await withSchema(async (s, opened) => {
    const a = await join(s, "a");
    const c = await join(s, "c", 150);
    opened.push(a, c);
    await create(a.store, c.epoch, "j");
    const seq = await a.store.lastEventSeq();
    await expired(s, c.epoch);
    const e = await assertRejects(
      () =>
        c.store.write(batch({
          puts: [{ job: job("k"), expected: null, owner: c.epoch }],
          claims: [{ jobId: "j", tick: T0 + MIN, next: T0 + 2 * MIN }],
          started: [manual("j", 1)],
          events: [{ type: "job-update", jobId: "k" }],
        })),
      JobproError,
      `this node's lease (epoch ${c.epoch}) has ended`,
    );
    assert(isUnavailable(e));
    assertEquals((await a.store.loadJobs()).map((x) => x.job.nextRunAt), [
      T0 + MIN,
    ]);
    assertEquals(await a.cluster.runsById([1]), []);
    assertEquals(await a.store.lastEventSeq(), seq);
    await assertRejects(
      () => c.cluster.moveOwners([{ jobId: "j", from: c.epoch, to: a.epoch }]),
      JobproError,
      "has ended",
    );
    // Fenced by no epoch (a node between leases), nothing is written at all.
    a.cluster.fence(null);
    for (
      const call of [
        () => a.store.write(batch({})),
        () => a.store.probe(),
        () => a.cluster.moveOwners([]),
        () => a.cluster.reap(),
      ]
    ) {
      assert(isUnavailable(await call().then(() => null, (x) => x)));
    }
    assertEquals((await a.store.loadJobs()).length, 1, "reads still work");
    a.cluster.fence(a.epoch);
    assertEquals(
      (await create(a.store, a.epoch, "k")).puts,
      [true],
      "fenced again, it writes (its connections were rolled back cleanly)",
    );
  });
});

Deno.test("cluster: the tick key refuses a second run of one tick, even with ownership forged, without failing the batch", async () => {
  await withSchema(async (s, opened) => {
    const a = await join(s, "a");
    const b = await join(s, "b");
    opened.push(a, b);
    await create(a.store, a.epoch, "j");
    assertEquals(
      (await a.store.write(batch({ started: [tick("j", 1)] }))).started,
      [true],
    );
    // b is made the owner behind the store's back (a bug, an operator).
    await rows(s, `UPDATE $S.jobs SET owner_epoch = $1`, [b.epoch]);
    const w = await b.store.write(batch({
      claims: [{ jobId: "j", tick: T0 + MIN, next: T0 + 2 * MIN }],
      started: [tick("j", 2), tick("j", 3, T0 + 2 * MIN)],
      events: [{ type: "run-started", jobId: "j", runId: 3 }],
    }));
    assertEquals([w.claims, w.started], [[true], [false, true]]);
    // Finished, the tick is still taken; a fenced finish of a run never
    // started cannot take it either, and is kept, unkeyed.
    await a.store.write(batch({ finished: [done(tick("j", 1))] }));
    await rows(s, `UPDATE $S.jobs SET owner_epoch = $1`, [a.epoch]);
    const again = await a.store.write(batch({
      started: [tick("j", 4)],
      finished: [done(tick("j", 5))],
    }));
    assertEquals(again.started, [false]);
    const keyed = await rows(
      s,
      `SELECT id::int, node_epoch::int FROM $S.runs ORDER BY id`,
    );
    assertEquals(keyed, [
      { id: 1, node_epoch: a.epoch },
      { id: 3, node_epoch: b.epoch },
      { id: 5, node_epoch: null },
    ]);
    const [j] = await a.store.loadJobs();
    assertEquals(j.counts.runs, 2);
  });
});

Deno.test("cluster: owners move by hand-off to a live node or take-over from an ended one, and nothing else", async () => {
  await withSchema(async (s, opened) => {
    const a = await join(s, "a");
    const b = await join(s, "b");
    const d = await join(s, "d", 150);
    opened.push(a, b, d);
    await create(a.store, a.epoch, "a1", "a2");
    await create(a.store, b.epoch, "b1");
    await create(a.store, d.epoch, "d1");
    await create(a.store, null, "n1");
    await expired(s, d.epoch);
    const seq = await a.store.lastEventSeq();
    const applied = await a.cluster.moveOwners([
      { jobId: "a1", from: a.epoch, to: b.epoch }, // hand-off: yes
      { jobId: "a2", from: a.epoch, to: d.epoch }, // to an ended node: no
      { jobId: "b1", from: b.epoch, to: a.epoch }, // from a live node: no
      { jobId: "d1", from: d.epoch, to: a.epoch }, // take-over: yes
      { jobId: "n1", from: null, to: a.epoch }, // of an unowned job: yes
      { jobId: "n1", from: null, to: a.epoch }, // one move per job
      { jobId: "b1", from: b.epoch, to: d.epoch }, // between others: no
      { jobId: "a2", from: null, to: a.epoch }, // compare-and-set fails
    ]);
    assertEquals(applied, [
      true,
      false,
      false,
      true,
      true,
      false,
      false,
      false,
    ]);
    assertEquals(
      Object.fromEntries(await b.cluster.owners()),
      { a1: b.epoch, a2: a.epoch, b1: b.epoch, d1: a.epoch, n1: a.epoch },
    );
    // One job-update per job moved, numbered on from the batches'.
    const events = await a.store.eventsSince(seq);
    assertEquals(
      events?.map((e) => [e.seq, e.type, e.jobId]),
      [[seq + 1, "job-update", "a1"], [seq + 2, "job-update", "d1"], [
        seq + 3,
        "job-update",
        "n1",
      ]],
    );
    // b hands it back; an unfenced store moves nothing.
    assertEquals(
      await b.cluster.moveOwners([{ jobId: "a1", from: b.epoch, to: a.epoch }]),
      [true],
    );
    const single = await openPostgresStore(s.url, { schema: s.schema });
    try {
      assert(isUnavailable(
        await single.cluster!.moveOwners([]).then(() => null, (e) => e),
      ));
    } finally {
      await single.close();
    }
  });
});

Deno.test("cluster: the reaper ends expired leases, interrupts their runs once with exact counters and releases their jobs; a late finish changes nothing", async () => {
  await withSchema(async (s, opened) => {
    const a = await join(s, "a");
    const d = await join(s, "d", 300);
    opened.push(a, d);
    await create(a.store, d.epoch, "x");
    await create(a.store, a.epoch, "y");
    await d.store.write(batch({ finished: [done(tick("x", 1))] }));
    const w = await d.store.write(batch({
      started: [tick("x", 2, T0 + 2 * MIN), manual("y", 3)],
    }));
    assertEquals(w.started, [true, true]);
    await a.store.write(batch({ started: [tick("y", 4)] }));
    // Nothing has expired yet; and a fenced store's recovery at start leaves
    // the nodes' runs to the reaper.
    assertEquals(await a.cluster.reap(), { epochs: [], interrupted: [] });
    assertEquals(await a.store.recoverInterrupted(T0 + 3 * MIN), []);
    await expired(s, d.epoch);
    const seq = await a.store.lastEventSeq();
    const reaped = await a.cluster.reap();
    assertEquals(reaped.epochs, [d.epoch]);
    assertEquals(
      reaped.interrupted.map((r) => [r.id, r.status, r.error, r.node]),
      [[2, "failed", "interrupted", "d"], [3, "failed", "interrupted", "d"]],
    );
    const [x, y] = await a.cluster.jobsById(["x", "y"]);
    assertEquals([x.counts.runs, x.counts.successes, x.owner], [2, 1, null]);
    assertEquals([y.counts.runs, y.owner], [1, a.epoch], "a's job stays a's");
    assertEquals(x.counts.lastRun?.id, 2);
    assertEquals(
      (await a.store.eventsSince(seq))?.map((e) => [e.type, e.jobId]),
      [["run-finished", "x"], ["run-finished", "y"], ["job-update", "x"]],
    );
    // a's own run is untouched, and a second reap finds nothing to do.
    assertEquals((await a.cluster.runsById([4]))[0].status, "running");
    assertEquals(await a.cluster.reap(), { epochs: [], interrupted: [] });
    // d comes back under a new epoch; its run's late finish changes nothing.
    const d2 = await join(s, "d");
    opened.push(d2);
    await d2.store.write(batch({
      finished: [done(tick("x", 2, T0 + 2 * MIN)), done(manual("y", 3))],
    }));
    const [run2] = await a.cluster.runsById([2]);
    assertEquals([run2.status, run2.error], ["failed", "interrupted"]);
    const [x2, y2] = await a.cluster.jobsById(["x", "y"]);
    assertEquals([x2.counts, y2.counts], [x.counts, y.counts]);
  });
});

/** How each statement's plan reads the jobs table (its node types), in a transaction rolled back. */
async function jobsReads(
  s: Schema,
  statements: [text: string, params?: unknown[]][],
): Promise<string[]> {
  const scans: string[] = [];
  const walk = (
    p: { "Node Type": string; "Relation Name"?: string; Plans?: unknown[] },
  ) => {
    if (p["Relation Name"] === "jobs") scans.push(p["Node Type"]);
    for (const c of p.Plans ?? []) walk(c as typeof p);
  };
  const c = new pg.Client(s.url);
  await c.connect();
  try {
    await c.query("BEGIN");
    for (const [text, params] of statements) {
      const { rows } = await c.query(
        `EXPLAIN (ANALYZE, FORMAT JSON) ${text}`,
        params,
      );
      walk(rows[0]["QUERY PLAN"][0].Plan);
    }
    return scans;
  } finally {
    await c.query("ROLLBACK").catch(() => {});
    await c.end();
  }
}

Deno.test("cluster: the reaper's check at every renewal reads the jobs by index, never a scan of them (2,000 jobs, a node gone)", async () => {
  await withSchema(async (s, opened) => {
    const a = await join(s, "a");
    const b = await join(s, "b");
    opened.push(a, b);
    const ids = Array.from({ length: 2000 }, (_, i) => `j${i}`);
    await create(a.store, a.epoch, ...ids);
    await b.members.leave(b.epoch);
    await rows(s, "ANALYZE $S.jobs");
    const cs = clusterStatements(s.schema);
    const scans = await jobsReads(s, [[cs.reapDue], [cs.orphaned, [[
      b.epoch,
    ]]]]);
    assert(scans.length > 0, "the jobs are read");
    assertEquals(scans.filter((t) => t === "Seq Scan"), [], scans.join(", "));
    // And it answers: b left, and owns nothing.
    assertEquals((await a.cluster.reap()).epochs, []);
  });
});

Deno.test("cluster: a small batch's statements read the jobs they name by index, never a scan of them (2,000 jobs)", async () => {
  await withSchema(async (s, opened) => {
    const a = await join(s, "a");
    opened.push(a);
    const ids = Array.from({ length: 2000 }, (_, i) => `j${i}`);
    await create(a.store, a.epoch, ...ids);
    await rows(s, "ANALYZE $S.jobs");
    const sql = statementsFor(s.schema);
    const started = [manual("j1", 1), manual("j2", 2), tick("j3", 3)];
    const ended = started.map((r) => done(r));
    const at = T0 + MIN;
    const delivery = (r: Run): Delivery => ({
      id: `run:${r.id}:failure:webhook:x`,
      jobId: r.jobId,
      runId: r.id,
      event: "failure",
      target: "webhook:http://127.0.0.1:1/",
      payload: "{}",
      status: "pending",
      attempts: 0,
      error: null,
      createdAt: at,
      nextAttemptAt: at,
      sentAt: null,
    });
    const trigger = (r: Run): ChainTrigger => ({
      parentRunId: r.id,
      parentJobId: r.jobId,
      jobId: "j9",
      on: "success",
      createdAt: at,
    });
    const updated = ["j4", "j5"].map((id) => ({
      job: { ...job(id), name: "renamed" },
      expected: job(id).version,
    }));
    const claims = ["j6", "j7"].map((jobId) => ({
      jobId,
      tick: T0 + MIN,
      next: T0 + 2 * MIN,
    }));
    const riding = new Map([["j6", {
      jobId: "j6",
      status: "running" as const,
      updatedAt: at,
    }]]);
    const scans = await jobsReads(s, [
      [sql.claim, claimParams(claims, a.epoch, riding)],
      [sql.startedFenced, [runsJson(started), a.epoch]],
      [
        sql.finished,
        finishedParams(ended, a.epoch, [{
          jobId: "j3",
          status: "scheduled",
          updatedAt: at,
          version: 1,
        }]),
      ],
      [sql.updateJobs, [putsJson(updated, true)]],
      [sql.deliveries, [deliveriesJson(ended.map(delivery))]],
      [sql.chainTriggers, [triggersJson(ended.map(trigger))]],
    ]);
    assert(scans.length >= 6, `the jobs are read: ${scans.join(", ")}`);
    assertEquals(scans.filter((t) => t === "Seq Scan"), [], scans.join(", "));
  });
});

Deno.test("cluster: a start that commits while the reaper waits for the node's row is interrupted by that same reap", async () => {
  await withSchema(async (s, opened) => {
    let hold = false;
    let holding = () => {};
    const held = new Promise<void>((r) => holding = r);
    let release = () => {};
    const released = new Promise<void>((r) => release = r);
    const a = await join(s, "a");
    const d = await join(s, "d", 400, async () => {
      if (!hold) return;
      holding();
      await released;
    });
    opened.push(a, d);
    await create(a.store, d.epoch, "x");
    try {
      // d's start passes its lease check and stays open, uncommitted.
      hold = true;
      const start = d.store.write(batch({
        started: [tick("x", 1)],
        events: [{ type: "run-started", jobId: "x", runId: 1 }],
      }));
      await held;
      await expired(s, d.epoch);
      const reap = a.cluster.reap();
      // The reaper's first statement waits for d's row, held FOR SHARE.
      await waitFor(async () =>
        (await rows(
          s,
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE wait_event_type = 'Lock' AND query LIKE '%SET left_at%'`,
        ))[0].n === 1, { what: "the reaper to wait for the lease's row" });
      release();
      assertEquals((await start).started, [true], "the start committed");
      const reaped = await reap;
      assertEquals(reaped.epochs, [d.epoch]);
      assertEquals(reaped.interrupted.map((r) => r.id), [1]);
      assertEquals(
        await rows(s, `SELECT count(*)::int AS n FROM $S.runs WHERE running`),
        [{ n: 0 }],
        "no running row of a dead epoch is left",
      );
      const [x] = await a.cluster.jobsById(["x"]);
      assertEquals([x.counts.runs, x.owner], [1, null]);
    } finally {
      release(); // whatever failed, the held transaction must end
    }
  });
});

Deno.test("cluster: two reapers at once interrupt each run once and count it once", async () => {
  await withSchema(async (s, opened) => {
    const a = await join(s, "a");
    const b = await join(s, "b");
    opened.push(a, b);
    await create(a.store, null, "x", "y", "z");
    let id = 0;
    for (let round = 0; round < 5; round++) {
      const d = await join(s, `d${round}`, 600);
      opened.push(d);
      assertEquals(
        await a.cluster.moveOwners(["x", "y", "z"].map((jobId) => ({
          jobId,
          from: null,
          to: a.epoch,
        }))),
        [true, true, true],
      );
      assertEquals(
        await a.cluster.moveOwners(["x", "y", "z"].map((jobId) => ({
          jobId,
          from: a.epoch,
          to: d.epoch,
        }))),
        [true, true, true],
      );
      const started = ["x", "y", "z"].flatMap((jobId) =>
        Array.from(
          { length: 4 },
          (_, i) => tick(jobId, ++id, T0 + (round * 4 + i + 1) * MIN),
        )
      );
      const w = await d.store.write(batch({ started }));
      assertEquals(w.started?.filter(Boolean).length, 12);
      await expired(s, d.epoch);
      const before = await a.store.loadJobs();
      const seq = await a.store.lastEventSeq();
      const [ra, rb] = await Promise.all([a.cluster.reap(), b.cluster.reap()]);
      assertEquals([...ra.epochs, ...rb.epochs], [d.epoch]);
      const ids = [...ra.interrupted, ...rb.interrupted].map((r) => r.id);
      assertEquals(ids.sort((p, q) => p - q), started.map((r) => r.id));
      const after = await a.store.loadJobs();
      assertEquals(
        after.map((j) => j.counts.runs),
        before.map((j) => j.counts.runs + 4),
      );
      assertEquals([...(await a.cluster.owners()).values()], [
        null,
        null,
        null,
      ]);
      const events = (await a.store.eventsSince(seq))!;
      assertEquals(events.length, 12 + 3, "each run and job logged once");
      assertEquals(events.map((e) => e.seq), events.map((_, i) => seq + 1 + i));
    }
  });
});

Deno.test("cluster: a node whose connection is gone is reaped before its lease expires; a reconnected one is not", async () => {
  await withSchema(async (s, opened) => {
    const a = await join(s, "a");
    const p = await join(s, "p");
    opened.push(a, p);
    await create(a.store, p.epoch, "x");
    await p.store.write(batch({ started: [tick("x", 1)] }));
    const pidOf = async (epoch: number) =>
      (await rows(s, `SELECT pid FROM $S.nodes WHERE epoch = $1`, [epoch]))[0]
        .pid as number;
    // a's membership connection is cut (an administrator, a proxy): the
    // next renewal, on a new connection, records the new backend.
    const old = await pidOf(a.epoch);
    await rows(s, `SELECT pg_terminate_backend($1)`, [old]);
    await waitFor(
      async () => (await a.members.renew(a.epoch, 60_000)).renewed,
      {
        what: "a renewal on a new connection",
      },
    );
    assert((await pidOf(a.epoch)) !== old);
    // p's process dies: its membership connection goes with it.
    const gone = await pidOf(p.epoch);
    await p.members.close();
    await waitFor(async () =>
      (await rows(
        s,
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1`,
        [gone],
      ))[0].n === 0, { what: "p's backend to end" });
    const reaped = await a.cluster.reap();
    assertEquals(reaped.epochs, [p.epoch], "a (reconnected) lives on");
    assertEquals(reaped.interrupted.map((r) => r.id), [1]);
    assert(
      (await p.store.write(batch({})).then(() => null, (e) => e)) instanceof
        JobproError,
      "p's store writes nothing more",
    );
  });
});

Deno.test("cluster: follow wakes on every node's events and after its connection is killed and back", async () => {
  await withSchema(async (s, opened) => {
    const a = await join(s, "a");
    opened.push(a);
    const other = await openPostgresStore(s.url, { schema: s.schema });
    let wakes = 0;
    const stop = await a.cluster.follow(() => {
      wakes++;
      throw new Error("a failing wake is not the follower's problem");
    });
    try {
      await waitFor(() => wakes === 1, { what: "the wake after connecting" });
      const events = [{ type: "job-update" as const, jobId: "j" }];
      // Another store instance (another node) appends events: a wakes.
      await other.write(batch({
        puts: [{ job: job("j"), expected: null }],
        events,
      }));
      await waitFor(() => wakes === 2, { what: "a wake for the batch" });
      // A batch without events announces nothing.
      await other.write(batch({}));
      const pid = async () =>
        (await rows(
          s,
          `SELECT pid FROM pg_stat_activity WHERE application_name = 'jobpro follow'`,
        )).map((r) => r.pid as number);
      const [first] = await pid();
      await rows(s, `SELECT pg_terminate_backend($1)`, [first]);
      await waitFor(() => wakes === 3, { what: "the wake after reconnecting" });
      const [second] = await pid();
      assert(second && second !== first, `${first} then ${second}`);
      await other.write(batch({ events }));
      await waitFor(() => wakes === 4, {
        what: "a wake on the new connection",
      });
      // Moves notify too.
      await a.cluster.moveOwners([{ jobId: "j", from: null, to: a.epoch }]);
      await waitFor(() => wakes === 5, { what: "a wake for the move" });
    } finally {
      await stop();
      await other.close();
    }
    await waitFor(async () =>
      (await rows(
        s,
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'jobpro follow'`,
      ))[0].n === 0, { what: "the follower's backend to go once stopped" });
  });
});

Deno.test("cluster: run id blocks never overlap each other or ids already used; maxRunId counts them", async () => {
  await withSchema(async (s, opened) => {
    const a = await join(s, "a");
    const b = await join(s, "b");
    opened.push(a, b);
    const blocks = await Promise.all(
      Array.from(
        { length: 6 },
        (_, i) => (i % 2 ? a : b).cluster.reserveRunIds(),
      ),
    );
    const firsts = blocks.map((x) => x.first).sort((p, q) => p - q);
    // Each reservation is 10,000 ids, in one range.
    assertEquals(blocks.map((x) => x.count), Array(6).fill(10_000));
    assertEquals(firsts, [1, 10_001, 20_001, 30_001, 40_001, 50_001]);
    // A single node after them starts above every block handed out.
    const single = await openPostgresStore(s.url, { schema: s.schema });
    try {
      assertEquals(await single.maxRunId(), 60_000);
      await create(single, null, "j");
      await single.write(batch({ finished: [done(tick("j", 69_500))] }));
    } finally {
      await single.close();
    }
    // A node after it starts above the ids it used.
    assertEquals((await a.cluster.reserveRunIds()).first, 69_501);
  });
});

Deno.test("cluster: migrating a single node's schema keeps its history (repeated tick keys too) and starts run ids above it", async () => {
  await withSchema(async (s) => {
    // The schema at version 2, as a single node left it, with a history
    // whose tick keys repeat (a single node never promised they would not).
    await rows(
      s,
      [
        ...bootstrap(s.schema),
        ...migrationsFrom(s.schema, 0, 2),
        `INSERT INTO $S.schema_version (id, version) VALUES (1, 2)`,
      ].join(";\n"),
    );
    await rows(
      s,
      `INSERT INTO $S.runs (id, job_id, trigger, attempt, scheduled_for,
         started_at, status, running)
       SELECT i, 'j', 'schedule', 1, timestamptz 'epoch', now(), 'complete', false
       FROM generate_series(1, 777) AS i`,
    );
    const store = await openPostgresStore(s.url, { schema: s.schema });
    try {
      assertEquals(
        await rows(s, `SELECT version FROM $S.schema_version`),
        [{ version: SCHEMA_VERSION }],
      );
      assertEquals(await store.maxRunId(), 777);
      assertEquals((await store.cluster!.reserveRunIds()).first, 778);
    } finally {
      await store.close();
    }
  });
});

Deno.test("cluster: listRuns and getRun name the node that started each run, on every node; an unfenced run names none", async () => {
  await withSchema(async (s, opened) => {
    const a = await join(s, "node-a");
    const b = await join(s, "node-b");
    opened.push(a, b);
    await create(a.store, a.epoch, "j");
    await a.store.write(batch({
      claims: [{ jobId: "j", tick: T0 + MIN, next: T0 + 2 * MIN }],
      started: [tick("j", 1)],
    }));
    await b.store.write(batch({ started: [manual("j", 2)] }));
    await a.store.write(batch({ finished: [done(tick("j", 1))] }));
    const single = await openPostgresStore(s.url, { schema: s.schema });
    try {
      await single.write(batch({ finished: [done(manual("j", 3), "failed")] }));
      for (const st of [a.store, b.store, single]) {
        const { runs, total } = await st.listRuns("j");
        assertEquals(total, 3);
        assertEquals(runs.map((r) => [r.id, r.node, r.output]), [
          [3, null, null],
          [2, "node-b", null],
          [1, "node-a", null],
        ]);
        const complete = await st.listRuns("j", { status: "complete" });
        assertEquals(complete.runs.map((r) => [r.id, r.node]), [[1, "node-a"]]);
        assertEquals(complete.total, 1);
        const page = await st.listRuns("j", { limit: 1, offset: 1 });
        assertEquals(page.runs.map((r) => [r.id, r.node]), [[2, "node-b"]]);
        assertEquals((await st.getRun("j", 1))?.node, "node-a");
        assertEquals((await st.getRun("j", 2))?.node, "node-b");
        assertEquals((await st.getRun("j", 3))?.node, null);
        assertEquals(await st.getRun("j", 99), null);
        assertEquals((await st.listRuns("absent")).runs, []);
      }
      // A node that left still names its runs (its row stays, ended).
      await a.members.leave(a.epoch);
      assertEquals((await b.store.getRun("j", 1))?.node, "node-a");
      assertEquals(
        (await b.store.listRuns("j")).runs.map((r) => r.node),
        [null, "node-b", "node-a"],
      );
    } finally {
      await single.close();
    }
  });
});

Deno.test("cluster: pruning drops the nodes that left before the retention and that no run or job names; live ones and named ones stay", async () => {
  await withSchema(async (s, opened) => {
    const a = await join(s, "node-a");
    const b = await join(s, "node-b");
    const c = await join(s, "node-c");
    const d = await join(s, "node-d");
    opened.push(a, b, c, d);
    await create(a.store, a.epoch, "j");
    await create(a.store, d.epoch, "k");
    // a's run is still running; b's finished one is older than the retention.
    await a.store.write(batch({
      claims: [{ jobId: "j", tick: T0 + MIN, next: T0 + 2 * MIN }],
      started: [tick("j", 1)],
    }));
    await b.store.write(batch({ finished: [done(manual("j", 2))] }));
    for (const n of [a, b, c, d]) await n.members.leave(n.epoch);
    const live = await join(s, "node-e");
    opened.push(live);
    const epochs = async () =>
      (await rows(s, "SELECT epoch::float8 AS e FROM $S.nodes ORDER BY epoch"))
        .map((r) => r.e);
    assertEquals(await epochs(), [a, b, c, d, live].map((n) => n.epoch));
    // Left before the cut-off: a keeps its running run's name, d owns k;
    // b's only run is pruned with the old runs, so b goes, and c (no run).
    await live.store.prune({ before: Date.now() + MIN, maxPerJob: 1000 });
    assertEquals(await epochs(), [a.epoch, d.epoch, live.epoch]);
    assertEquals((await live.store.getRun("j", 1))?.node, "node-a");
    // A cut-off before they left keeps every node.
    await live.members.leave(live.epoch);
    await live.store.prune({ before: T0, maxPerJob: 1000 });
    assertEquals(await epochs(), [a.epoch, d.epoch, live.epoch]);
  });
});

Deno.test("cluster: an owner's status reached from an older version does not undo another node's pause", async () => {
  const s = await testSchema();
  const a = await join(s, "a");
  const b = await join(s, "b");
  try {
    const j = job("j", { status: "running", version: 1 });
    await a.store.write(
      batch({ puts: [{ job: j, expected: null, owner: a.epoch }] }),
    );
    // b (not the owner) pauses it: version 1 -> 2.
    const paused = { ...j, status: "paused" as const, version: 2 };
    const put = await b.store.write(batch({
      puts: [{ job: paused, expected: 1, expectedNext: j.nextRunAt }],
    }));
    assertEquals(put.puts, [true]);
    // a's run ends: the status it computed from version 1 is not applied.
    await a.store.write(batch({
      statuses: [{
        jobId: "j",
        status: "scheduled",
        updatedAt: T0,
        version: 1,
      }],
    }));
    const [row] = await a.cluster.jobsById(["j"]);
    assertEquals([row.job.status, row.job.version], ["paused", 2]);
    // Nor when it rides with the job's claim, or with the end of its run.
    const stale = {
      jobId: "j",
      status: "running" as const,
      updatedAt: T0,
      version: 1,
    };
    const claimed = await a.store.write(batch({
      claims: [{ jobId: "j", tick: j.nextRunAt, next: j.nextRunAt! + MIN }],
      statuses: [stale],
    }));
    assertEquals(claimed.claims, [true]);
    await a.store.write(batch({
      started: [tick("j", 7)],
      finished: [done(tick("j", 7))],
      statuses: [{ ...stale, status: "scheduled" }],
    }));
    const [again] = await a.cluster.jobsById(["j"]);
    assertEquals(
      [again.job.status, again.job.nextRunAt, again.counts.runs],
      ["paused", j.nextRunAt! + MIN, 1],
    );
    // A status with an end that counts nothing (the run ended already) is
    // written all the same.
    await a.store.write(batch({
      finished: [done(tick("j", 7))],
      statuses: [{ ...stale, status: "scheduled", version: 2 }],
    }));
    const [after] = await a.cluster.jobsById(["j"]);
    assertEquals([after.job.status, after.counts.runs], ["scheduled", 1]);
    // From the version it now knows, it is.
    await a.store.write(batch({
      statuses: [{
        jobId: "j",
        status: "paused",
        updatedAt: T0 + 1,
        version: 2,
      }],
    }));
    assertEquals((await a.cluster.jobsById(["j"]))[0].job.updatedAt, T0 + 1);
  } finally {
    await a.close();
    await b.close();
    await s.drop();
  }
});

/**
 * A node of its own whose next batch stops inside its transaction, just
 * before COMMIT (as a process stopped by SIGSTOP, or cut off, would leave
 * it), until `release()`.
 */
async function stalledNode(s: Schema, leaseMs: number) {
  let stalled = false;
  let release = () => {};
  const store = await openPostgresStore(s.url, {
    schema: s.schema,
    leaseMs,
    beforeCommit: () =>
      stalled ? Promise.resolve() : new Promise<void>((r) => {
        stalled = true;
        release = r;
      }),
  });
  const members = openPostgresMembership(s.url, { schema: s.schema, leaseMs });
  const { epoch } = await members.join("stalled", leaseMs);
  store.cluster!.fence(epoch);
  const writing = store.write(batch({
    puts: [{ job: job("stalled-job"), expected: null, owner: epoch }],
    events: [{ type: "job-update", jobId: "stalled-job" }],
  })).catch((e) => e as Error);
  await waitFor(() => stalled, { what: "the batch to stall before COMMIT" });
  return {
    epoch,
    members,
    async close() {
      release();
      await writing;
      await store.close();
      await members.close();
    },
  };
}

Deno.test("cluster: a node stopped inside a batch holds neither the event log nor its row: the others write on, and the server ends its transaction", async () => {
  const s = await testSchema();
  const stalled = await stalledNode(s, 600);
  const b = await join(s, "b");
  try {
    // b's batch appends events too (the counter row the stalled one holds).
    const done = await b.store.write(batch({
      puts: [{ job: job("b-job"), expected: null, owner: b.epoch }],
      events: [{ type: "job-update", jobId: "b-job" }],
    }));
    assertEquals(done.puts, [true]);
    // The stalled node's own renewal is not held up by its own open batch.
    const r = await stalled.members.renew(stalled.epoch, 600);
    assert(r.renewed, "a node's renewal never waits for its own batch");
  } finally {
    await stalled.close();
    await b.close();
    await s.drop();
  }
});

Deno.test("cluster: a node stopped inside a batch, gone and expired, is reaped: its open transaction does not hold the reaper", async () => {
  const s = await testSchema();
  const stalled = await stalledNode(s, 600);
  const b = await join(s, "b");
  try {
    await stalled.members.close(); // its connection is gone
    await expired(s, stalled.epoch);
    const reaped = await waitFor(async () => {
      const r = await b.cluster.reap().catch(() => null);
      return r?.epochs.includes(stalled.epoch) && r;
    }, { what: "the stalled node reaped", timeoutMs: 5_000 });
    assert(reaped);
  } finally {
    await stalled.close();
    await b.close();
    await s.drop();
  }
});

Deno.test({
  name: "cluster: the shared server stops",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => closeSharedPostgres(),
});
