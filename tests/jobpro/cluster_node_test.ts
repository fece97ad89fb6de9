/**
 * Nodes of a cluster, engine to engine (no HTTP): two or three managers on
 * one PostgreSQL schema (a real server, tests/pg/server.ts), each with its
 * own store, membership and lease, in this process.
 *
 * - Jobs spread over the live nodes, each owned by exactly one; every tick
 *   runs once, on its owner, and every node sees every run's events with
 *   the log's sequence numbers.
 * - A change asked of any node reaches the owner: a pause on a node that
 *   does not own the job stops its ticks on the owner.
 * - A node cut off from the database past its lease stops; the others take
 *   its jobs over, and no tick runs twice or is lost.
 * - A node that stops hands its jobs over first: no tick is late for it.
 *
 * Each execution is counted by the function the jobs call, so a tick that
 * ran twice shows as more executions than recorded runs.
 */
import { assert, assertEquals } from "@std/assert";
import { createManager, type Manager } from "@/lib/jobpro/manager.ts";
import { NodeLease } from "@/lib/jobpro/lease.ts";
import { openPostgresMembership } from "@/lib/jobpro/postgres_nodes.ts";
import { openPostgresStore } from "@/lib/jobpro/postgres_store.ts";
import { createRegistry } from "@/lib/jobs/registry.ts";
import type { Delivered } from "@/lib/jobpro/events.ts";
import type { Store } from "@/lib/jobpro/store.ts";
import { waitFor } from "../helpers.ts";
import { query, sharedPostgres, testSchema } from "../pg/server.ts";

await sharedPostgres().catch(() => {});

const LEASE_MS = 600;

/** Executions per job, counted by the function the jobs run. */
function counter() {
  const seen = new Map<string, number>();
  const functions = createRegistry();
  functions.register("count", (params) => {
    const job = String(params.job);
    seen.set(job, (seen.get(job) ?? 0) + 1);
    return "counted";
  });
  functions.register("count-and-fail", (params) => {
    const job = String(params.job);
    seen.set(job, (seen.get(job) ?? 0) + 1);
    throw new Error("failed on purpose");
  });
  return { seen, functions };
}

interface TestNode {
  name: string;
  store: Store;
  manager: Manager;
  lease: NodeLease;
  /** Cuts the node off from the database (its connections end, for good). */
  cut(): Promise<void>;
}

async function startNode(
  url: string,
  schema: string,
  name: string,
  functions: ReturnType<typeof createRegistry>,
): Promise<TestNode> {
  const store = await openPostgresStore(url, { schema, leaseMs: LEASE_MS });
  const membership = openPostgresMembership(url, {
    schema,
    leaseMs: LEASE_MS,
  });
  const lease = new NodeLease(membership, { name, leaseMs: LEASE_MS });
  const manager = await createManager({
    store,
    lease,
    functions,
    commitIntervalMs: 20,
    log: () => {},
  });
  return {
    name,
    store,
    manager,
    lease,
    async cut() {
      await membership.close();
      await store.close().catch(() => {});
    },
  };
}

/** Until each of the two nodes sees both live. */
const bothLive = (a: TestNode, b: TestNode) =>
  waitFor(
    () => a.lease.live().length === 2 && b.lease.live().length === 2,
    { what: "both nodes live" },
  );

const countJob = (id: string) => ({
  id,
  name: id,
  schedule: "* * * * * *",
  action: { type: "function", name: "count", params: { job: id } },
  autoStart: true,
});

/** Runs per job in the database, by status. */
async function runsOf(url: string, schema: string) {
  const { rows } = await query(
    url,
    `SELECT job_id, status, error, count(*)::int AS n FROM ${schema}.runs GROUP BY 1, 2, 3`,
  );
  return rows as {
    job_id: string;
    status: string;
    error: string | null;
    n: number;
  }[];
}

async function owners(url: string, schema: string) {
  const { rows } = await query(
    url,
    `SELECT id, owner_epoch::float8 AS owner FROM ${schema}.jobs ORDER BY id`,
  );
  return new Map<string, number | null>(rows.map((r) => [r.id, r.owner]));
}

/**
 * No tick ran twice: each job's executions are at least its completed runs
 * and at most those plus its interrupted ones (a run whose node died after
 * its action ran, before its end was written).
 */
async function assertOncePerRun(
  url: string,
  schema: string,
  seen: Map<string, number>,
) {
  const done = new Map<string, number>();
  const cut = new Map<string, number>();
  for (const r of await runsOf(url, schema)) {
    const into = r.status === "complete"
      ? done
      : r.error === "interrupted"
      ? cut
      : null;
    into?.set(r.job_id, (into.get(r.job_id) ?? 0) + r.n);
  }
  for (const [job, n] of seen) {
    const low = done.get(job) ?? 0;
    const high = low + (cut.get(job) ?? 0);
    assert(
      n >= low && n <= high,
      `job ${job}: ${n} executions, ${low} complete and ${
        high - low
      } interrupted runs`,
    );
  }
  const { rows: dup } = await query(
    url,
    `SELECT job_id, scheduled_for, count(*)::int AS n FROM ${schema}.runs
     WHERE scheduled_for IS NOT NULL GROUP BY 1, 2, attempt, trigger HAVING count(*) > 1`,
  );
  assertEquals(dup, [], "no tick recorded twice");
}

Deno.test("cluster: jobs spread over two nodes, each tick runs once on its owner, both nodes see every run", async () => {
  const s = await testSchema();
  const { seen, functions } = counter();
  const a = await startNode(s.url, s.schema, "a", functions);
  const b = await startNode(s.url, s.schema, "b", functions);
  try {
    await bothLive(a, b);
    const ids = Array.from({ length: 12 }, (_, i) => `job-${i}`);
    for (const [i, id] of ids.entries()) {
      await (i % 2 ? a : b).manager.create(countJob(id));
    }
    // Each job owned by one live node, both nodes owning some.
    await waitFor(async () => {
      const o = await owners(s.url, s.schema);
      const epochs = new Set(o.values());
      return [...o.values()].every((e) =>
        e === a.lease.epoch || e === b.lease.epoch
      ) &&
        epochs.size === 2;
    }, { what: "jobs owned by both nodes" });
    // Both nodes' watchers see the runs of every job.
    const heard = new Set<string>();
    const sub = b.manager.events.subscribe((e) => {
      if (e.type === "run-finished") heard.add(e.run.jobId);
    });
    await waitFor(() => ids.every((id) => (seen.get(id) ?? 0) >= 3), {
      what: "three runs of every job",
      timeoutMs: 10_000,
    });
    await waitFor(() => ids.every((id) => heard.has(id)), {
      what: "b heard every job's runs",
    });
    sub();
    assertEquals(b.manager.list().total, 12);
  } finally {
    await a.manager.shutdown({ graceMs: 2000 });
    await b.manager.shutdown({ graceMs: 2000 });
  }
  await assertOncePerRun(s.url, s.schema, seen);
  await s.drop();
});

Deno.test("cluster: a pause asked of a node that does not own the job stops its ticks on the owner", async () => {
  const s = await testSchema();
  const { seen, functions } = counter();
  const a = await startNode(s.url, s.schema, "a", functions);
  const b = await startNode(s.url, s.schema, "b", functions);
  try {
    await bothLive(a, b);
    for (let i = 0; i < 6; i++) await a.manager.create(countJob(`p-${i}`));
    await waitFor(
      async () => new Set((await owners(s.url, s.schema)).values()).size === 2,
      {
        what: "jobs on both nodes",
      },
    );
    const o = await owners(s.url, s.schema);
    const onA = [...o].find(([, e]) => e === a.lease.epoch)![0];
    await waitFor(() => (seen.get(onA) ?? 0) >= 2, {
      what: `${onA} runs on a`,
    });
    await waitFor(() => b.manager.get(onA).status !== undefined);
    // Asked of b, which does not own it.
    const paused = await b.manager.pause(onA);
    assertEquals(paused.status, "paused");
    await waitFor(() => a.manager.get(onA).status === "paused", {
      what: "a sees the pause",
    });
    const after = seen.get(onA) ?? 0;
    // Two more seconds of ticks for the others; none for the paused job.
    const others = [...o.keys()].filter((id) => id !== onA);
    const base = new Map(others.map((id) => [id, seen.get(id) ?? 0]));
    await waitFor(
      () => others.every((id) => (seen.get(id) ?? 0) >= base.get(id)! + 2),
      {
        what: "the other jobs tick on",
        timeoutMs: 10_000,
      },
    );
    assert(
      (seen.get(onA) ?? 0) <= after + 1,
      `paused job ran ${(seen.get(onA) ?? 0) - after} more time(s)`,
    );
  } finally {
    await a.manager.shutdown({ graceMs: 2000 });
    await b.manager.shutdown({ graceMs: 2000 });
  }
  await assertOncePerRun(s.url, s.schema, seen);
  await s.drop();
});

Deno.test("cluster: a node cut off past its lease stops; the other takes its jobs over; no tick twice", async () => {
  const s = await testSchema();
  const { seen, functions } = counter();
  const a = await startNode(s.url, s.schema, "a", functions);
  const b = await startNode(s.url, s.schema, "b", functions);
  let aDown = false;
  try {
    await bothLive(a, b);
    const ids = Array.from({ length: 8 }, (_, i) => `k-${i}`);
    for (const id of ids) await b.manager.create(countJob(id));
    await waitFor(
      async () => new Set((await owners(s.url, s.schema)).values()).size === 2,
      {
        what: "jobs on both nodes",
      },
    );
    await waitFor(() => ids.every((id) => (seen.get(id) ?? 0) >= 2), {
      what: "every job ran",
      timeoutMs: 10_000,
    });
    const aEpoch = a.lease.epoch;
    await a.cut();
    aDown = true;
    await waitFor(() => !a.lease.valid(), { what: "a lost its lease" });
    await waitFor(async () => {
      const o = await owners(s.url, s.schema);
      return [...o.values()].every((e) => e === b.lease.epoch);
    }, { what: "b owns every job", timeoutMs: 10_000 });
    const base = new Map(ids.map((id) => [id, seen.get(id) ?? 0]));
    await waitFor(
      () => ids.every((id) => (seen.get(id) ?? 0) >= base.get(id)! + 2),
      {
        what: "every job runs on b",
        timeoutMs: 10_000,
      },
    );
    const interrupted = (await runsOf(s.url, s.schema)).filter((r) =>
      r.error === "interrupted"
    );
    assert(
      interrupted.every((r) => r.n <= 1),
      "at most one interrupted run per job",
    );
    assert(aEpoch > 0);
  } finally {
    await b.manager.shutdown({ graceMs: 2000 });
    await a.manager.shutdown({ graceMs: 0 }).catch(() => {});
    if (!aDown) await a.cut();
  }
  await assertOncePerRun(s.url, s.schema, seen);
  await s.drop();
});

Deno.test("cluster: a node that stops hands its jobs over first: the other runs them on, nothing interrupted", async () => {
  const s = await testSchema();
  const { seen, functions } = counter();
  const a = await startNode(s.url, s.schema, "a", functions);
  const b = await startNode(s.url, s.schema, "b", functions);
  try {
    await bothLive(a, b);
    const ids = Array.from({ length: 8 }, (_, i) => `h-${i}`);
    for (const id of ids) await a.manager.create(countJob(id));
    await waitFor(
      async () => new Set((await owners(s.url, s.schema)).values()).size === 2,
      {
        what: "jobs on both nodes",
      },
    );
    await waitFor(() => ids.every((id) => (seen.get(id) ?? 0) >= 2), {
      what: "every job ran",
      timeoutMs: 10_000,
    });
    await a.manager.shutdown({ graceMs: 2000 });
    const o = await owners(s.url, s.schema);
    assert(
      [...o.values()].every((e) => e === b.lease.epoch),
      `b (epoch ${b.lease.epoch}) owns every job at once: ${
        JSON.stringify([...o])
      }`,
    );
    const base = new Map(ids.map((id) => [id, seen.get(id) ?? 0]));
    await waitFor(
      () => ids.every((id) => (seen.get(id) ?? 0) >= base.get(id)! + 2),
      {
        what: "every job runs on b",
        timeoutMs: 10_000,
      },
    );
    const interrupted = (await runsOf(s.url, s.schema)).filter((r) =>
      r.error === "interrupted"
    );
    assertEquals(interrupted, [], "no run interrupted by a graceful stop");
  } finally {
    await a.manager.shutdown({ graceMs: 0 });
    await b.manager.shutdown({ graceMs: 2000 });
  }
  await assertOncePerRun(s.url, s.schema, seen);
  await s.drop();
});

Deno.test("cluster: a job whose run is going when its node stops is handed over once that run has ended", async () => {
  const s = await testSchema();
  const { functions } = counter();
  let release = () => {};
  const held = new Promise<void>((r) => (release = r));
  let started = false;
  functions.register("held", async () => {
    started = true;
    await held;
    return "released";
  });
  const a = await startNode(s.url, s.schema, "a", functions);
  const b = await startNode(s.url, s.schema, "b", functions);
  try {
    await bothLive(a, b);
    const ids = Array.from({ length: 8 }, (_, i) => `held-${i}`);
    for (const id of ids) {
      await a.manager.create({
        id,
        name: id,
        schedule: "",
        autoStart: false,
        action: { type: "function", name: "held" },
      });
    }
    const onA = await waitFor(async () => {
      const o = await owners(s.url, s.schema);
      return [...o].find(([, e]) => e === a.lease.epoch)?.[0];
    }, { what: "a job owned by a" });
    await a.manager.runNow(onA); // runs on a, which owns the job
    await waitFor(() => started, { what: "the run going on a" });
    const stopping = a.manager.shutdown({ graceMs: 10_000 });
    // The others are handed over first; this one waits for its run.
    await waitFor(async () => {
      const o = await owners(s.url, s.schema);
      return ids.every((id) => id === onA || o.get(id) === b.lease.epoch);
    }, { what: "the idle jobs handed to b" });
    release();
    await stopping;
    const o = await owners(s.url, s.schema);
    assertEquals(o.get(onA), b.lease.epoch, "handed over once its run ended");
    const runs = await runsOf(s.url, s.schema);
    assertEquals(
      runs.map((r) => [r.job_id, r.status]),
      [[onA, "complete"]],
      "its run completed, not interrupted",
    );
  } finally {
    release();
    await a.manager.shutdown({ graceMs: 0 });
    await b.manager.shutdown({ graceMs: 2000 });
  }
  await s.drop();
});

Deno.test("cluster: a burst of 2,500 runs on one node, more than one step of the run id sequence, gets an id for every run", async () => {
  // Found by the cluster bench: ids came in blocks of 1,000, fetched once
  // 500 were left, so a burst used a block up before the next one came and
  // its runs failed "no run ids left".
  const s = await testSchema();
  const { seen, functions } = counter();
  const a = await startNode(s.url, s.schema, "a", functions);
  try {
    await waitFor(() => a.lease.live().length === 1, { what: "a live" });
    await a.manager.create({ ...countJob("burst"), schedule: "" });
    const runs = await Promise.allSettled(
      Array.from({ length: 2500 }, () => a.manager.runNow("burst")),
    );
    const refused = runs.flatMap((r) =>
      r.status === "rejected" ? [String(r.reason)] : []
    );
    assertEquals(refused.slice(0, 3), [], `${refused.length} runs refused`);
    const ids = runs.map((r) =>
      (r as PromiseFulfilledResult<{ id: number }>).value.id
    );
    assertEquals(new Set(ids).size, 2500, "every run its own id");
    await waitFor(() => seen.get("burst") === 2500, {
      what: "2,500 executions",
      timeoutMs: 20_000,
    });
  } finally {
    await a.manager.shutdown({ graceMs: 2000 });
  }
  await assertOncePerRun(s.url, s.schema, seen);
  await s.drop();
});

/** Counts the store's reads a follower makes (the store itself, wrapped). */
function countReads(store: Store) {
  const n = { events: 0, jobs: 0, runs: 0 };
  const cluster = store.cluster!;
  const { eventsSince } = store, { jobsById, runsById } = cluster;
  store.eventsSince = (...a) => (n.events++, eventsSince.apply(store, a));
  cluster.jobsById = (...a) => (n.jobs++, jobsById.apply(cluster, a));
  cluster.runsById = (...a) => (n.runs++, runsById.apply(cluster, a));
  return n;
}

/** The run events `heard` has, and the log's in the same span: the same seqs. */
async function assertHeardAll(url: string, schema: string, heard: Delivered[]) {
  const runEvents = heard.filter((e) =>
    e.type === "run-started" || e.type === "run-finished"
  );
  const seqs = runEvents.map((e) => e.seq);
  for (let i = 1; i < heard.length; i++) {
    assert(heard[i].seq > heard[i - 1].seq, `in order at ${heard[i].seq}`);
  }
  const { rows } = await query(
    url,
    `SELECT seq::float8 AS seq FROM ${schema}.events
     WHERE type IN ('run-started', 'run-finished') AND seq BETWEEN $1 AND $2
     ORDER BY seq`,
    [seqs[0], seqs[seqs.length - 1]],
  );
  assertEquals(seqs, rows.map((r) => r.seq), "every run event, once");
}

Deno.test("cluster: a node publishes its own batches from memory, in the log's order: alone it reads nothing back; beside another, only the other's", async () => {
  const s = await testSchema();
  const { seen, functions } = counter();
  const a = await startNode(s.url, s.schema, "a", functions);
  let b: TestNode | undefined;
  const heard: Delivered[] = [];
  const stop = a.manager.events.subscribe((e) => heard.push(e));
  try {
    await waitFor(() => a.lease.live().length === 1, { what: "a live" });
    const ids = ["x", "y", "z"];
    for (const id of ids) {
      await a.manager.create({
        ...countJob(id),
        schedule: "",
        autoStart: false,
      });
    }
    const reads = countReads(a.store);
    for (let i = 0; i < 10; i++) {
      await Promise.all(ids.map((id) => a.manager.runNow(id)));
    }
    const finished = () => heard.filter((e) => e.type === "run-finished");
    await waitFor(() => finished().length === 30, { what: "30 runs heard" });
    assertEquals(reads, { events: 0, jobs: 0, runs: 0 }, "nothing read back");
    assert(finished().every((e) => "run" in e && e.run.status === "complete"));

    b = await startNode(s.url, s.schema, "b", functions);
    await bothLive(a, b);
    // Runs on both at once: a hears b's from the log, its own from memory.
    for (let i = 0; i < 5; i++) {
      await Promise.all([a.manager.runNow("x"), b.manager.runNow("y")]);
    }
    await waitFor(() => finished().length === 40, { what: "40 runs heard" });
    assert(reads.runs > 0, "b's runs are read");
    const own = finished().filter((e) => "run" in e && e.run.node === "a");
    assertEquals(own.length, 35);
    await assertHeardAll(s.url, s.schema, heard);
  } finally {
    stop();
    await a.manager.shutdown({ graceMs: 2000 });
    await b?.manager.shutdown({ graceMs: 2000 });
  }
  await assertOncePerRun(s.url, s.schema, seen);
  await s.drop();
});

Deno.test("cluster: a periodic job's retry planned on a node that is cut off runs on the node that takes the job over", async () => {
  const s = await testSchema();
  const { seen, functions } = counter();
  const a = await startNode(s.url, s.schema, "a", functions);
  const b = await startNode(s.url, s.schema, "b", functions);
  const cut = new Set<TestNode>();
  try {
    await bothLive(a, b);
    await a.manager.create({
      id: "r",
      name: "r",
      schedule: "0 0 0 1 1 *", // once a year: no tick comes meanwhile
      retries: 1,
      retryDelayMs: 4000, // 2 to 6 s: the owner is cut off before
      action: {
        type: "function",
        name: "count-and-fail",
        params: { job: "r" },
      },
    });
    const ownerEpoch = async () => (await owners(s.url, s.schema)).get("r");
    await waitFor(async () => (await ownerEpoch()) != null, { what: "owned" });
    const [owner, other] = (await ownerEpoch()) === a.lease.epoch
      ? [a, b]
      : [b, a];
    await waitFor(() => owner.manager.get("r") !== undefined, {
      what: "the owner knows it",
    });
    await owner.manager.runNow("r");
    await waitFor(
      async () =>
        (await runsOf(s.url, s.schema)).some((r) => r.status === "failed"),
      {
        what: "the failed run recorded",
      },
    );
    await owner.cut(); // its retry timer goes with it
    cut.add(owner);
    await waitFor(async () => (await ownerEpoch()) === other.lease.epoch, {
      what: "the other node owns it",
      timeoutMs: 10_000,
    });
    await waitFor(() => seen.get("r") === 2, {
      what: "the retry ran",
      timeoutMs: 15_000,
    });
    const { rows } = await query(
      s.url,
      `SELECT r.trigger, r.attempt, n.name FROM ${s.schema}.runs r
       LEFT JOIN ${s.schema}.nodes n ON n.epoch = r.node_epoch ORDER BY r.id`,
    );
    assertEquals(
      rows.map((r) => [r.trigger, r.attempt, r.name]),
      [["manual", 1, owner.name], ["retry", 2, other.name]],
    );
  } finally {
    for (const n of [a, b]) {
      await n.manager.shutdown({ graceMs: cut.has(n) ? 0 : 2000 }).catch(
        () => {},
      );
    }
  }
  assertEquals(seen.get("r"), 2, "one retry, not two");
  await s.drop();
});
