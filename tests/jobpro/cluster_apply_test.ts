/**
 * Apply, all or nothing, on both stores and on a cluster:
 *
 * - The store contract's `atomic` batch, on DuckDB and on a real
 *   PostgreSQL (tests/pg/server.ts): one put that would not apply (a stale
 *   version) and the whole batch is refused, nothing of it written; the
 *   same batch not atomic writes what applies (so the flag is what holds).
 * - Two nodes on one schema: a document applied through one node reaches
 *   the other (its jobs run on whichever node owns them); a change applied
 *   through the other comes back; a prune through either deletes jobs the
 *   other node owns, and a second apply is unchanged on both.
 */
import { assert, assertEquals, assertRejects } from "@std/assert";
import { openDuckDBStore } from "@/lib/jobpro/duckdb_store.ts";
import { JobproError } from "@/lib/jobpro/errors.ts";
import { createManager, type Manager } from "@/lib/jobpro/manager.ts";
import { NodeLease } from "@/lib/jobpro/lease.ts";
import { openPostgresMembership } from "@/lib/jobpro/postgres_nodes.ts";
import { openPostgresStore } from "@/lib/jobpro/postgres_store.ts";
import { emptyBatch, NOT_ALL_APPLIED, type Store } from "@/lib/jobpro/store.ts";
import { waitFor } from "../helpers.ts";
import { sharedPostgres, testSchema } from "../pg/server.ts";
import { job } from "./store_contract.ts";

// Started before any test, so that no test's sanitizers count it as theirs.
await sharedPostgres().catch(() => {});

async function atomicContract(store: Store) {
  await store.write({
    ...emptyBatch(),
    puts: [{ job: job("old"), expected: null }],
  });
  const stale = {
    job: { ...job("old"), name: "renamed", version: 3 },
    expected: 2,
  };
  const fresh = { job: job("new"), expected: null };
  const err = await assertRejects(
    () =>
      store.write({
        ...emptyBatch(),
        puts: [fresh, stale],
        events: [{ type: "job-update", jobId: "new" }],
        atomic: true,
      }),
    JobproError,
  );
  assertEquals([err.code, err.message], ["conflict", NOT_ALL_APPLIED]);
  const after = await store.loadJobs();
  assertEquals(after.map((s) => [s.job.id, s.job.name]), [["old", "old"]]);
  const seq = await store.lastEventSeq();
  const loose = await store.write({ ...emptyBatch(), puts: [fresh, stale] });
  assertEquals(loose.puts, [true, false]);
  assertEquals((await store.loadJobs()).map((s) => s.job.id).sort(), [
    "new",
    "old",
  ]);
  assert((await store.lastEventSeq()) >= seq);
  // An atomic delete of a job that is gone refuses the batch too.
  await assertRejects(
    () =>
      store.write({
        ...emptyBatch(),
        puts: [{ job: job("third"), expected: null }],
        deletes: [{ id: "gone", expected: 1 }],
        atomic: true,
      }),
    JobproError,
    NOT_ALL_APPLIED,
  );
  assertEquals((await store.loadJobs()).length, 2);
}

Deno.test("store: an atomic batch is all or nothing on DuckDB", async () => {
  const store = await openDuckDBStore(":memory:");
  try {
    await atomicContract(store);
  } finally {
    await store.close();
  }
});

Deno.test("store: an atomic batch is all or nothing on PostgreSQL", async () => {
  const s = await testSchema();
  const store = await openPostgresStore(s.url, { schema: s.schema });
  try {
    await atomicContract(store);
  } finally {
    await store.close();
    await s.drop();
  }
});

const LEASE_MS = 600;

async function startNode(url: string, schema: string, name: string) {
  const store = await openPostgresStore(url, { schema, leaseMs: LEASE_MS });
  const membership = openPostgresMembership(url, { schema, leaseMs: LEASE_MS });
  const lease = new NodeLease(membership, { name, leaseMs: LEASE_MS });
  const manager = await createManager({
    store,
    lease,
    commitIntervalMs: 20,
    log: () => {},
  });
  return { name, manager, lease };
}

const every = (id: string) => ({
  id,
  name: id,
  schedule: "* * * * * *",
  action: { type: "function", name: "noop" },
});

const ids = (m: Manager) =>
  m.list({ limit: 1000 }).jobs.map((j) => j.id).sort();

Deno.test("cluster apply: applied through one node, the jobs run on their owners; a change and a prune through the other reach both", async () => {
  const s = await testSchema();
  const a = await startNode(s.url, s.schema, "a");
  const b = await startNode(s.url, s.schema, "b");
  try {
    await waitFor(
      () => a.lease.live().length === 2 && b.lease.live().length === 2,
      { what: "both nodes live" },
    );
    const doc = { jobs: ["j1", "j2", "j3", "j4", "j5", "j6"].map(every) };
    const first = await a.manager.apply(doc, {});
    assertEquals(first.created, 6);
    await waitFor(() => ids(b.manager).length === 6, {
      what: "b sees the jobs",
    });
    // Each job runs, on whichever node owns it; both nodes run some.
    const ran = await waitFor(async () => {
      const nodes = new Set<string>();
      for (const id of ids(a.manager)) {
        const { runs } = await a.manager.runs(id, { limit: 1 });
        if (!runs[0]?.node) return false;
        nodes.add(runs[0].node);
      }
      return nodes.size === 2 && nodes;
    }, { what: "every job run, on both nodes", timeoutMs: 15_000 });
    assertEquals([...ran].sort(), ["a", "b"]);

    const changed = {
      jobs: doc.jobs.map((j) => j.id === "j2" ? { ...j, retries: 4 } : j),
    };
    const second = await b.manager.apply(changed, {});
    assertEquals([second.configured, second.unchanged], [1, 5]);
    await waitFor(() => a.manager.get("j2").retries === 4, {
      what: "a sees the change",
    });
    const pruned = await b.manager.apply({ jobs: changed.jobs.slice(0, 2) }, {
      prune: true,
    });
    assertEquals([pruned.pruned, pruned.unchanged], [4, 2]);
    await waitFor(() => ids(a.manager).join() === "j1,j2", {
      what: "a sees the prune",
    });
    for (const n of [a, b]) {
      const again = await n.manager.apply({ jobs: changed.jobs.slice(0, 2) }, {
        prune: true,
      });
      assertEquals([again.unchanged, again.pruned], [2, 0], n.name);
    }
  } finally {
    await a.manager.shutdown({ graceMs: 1000 });
    await b.manager.shutdown({ graceMs: 1000 });
  }
  await s.drop();
});

Deno.test("cluster @reboot: a node's start runs the @reboot jobs it owns once", async () => {
  const s = await testSchema();
  let a = await startNode(s.url, s.schema, "a");
  try {
    await waitFor(() => a.lease.live().length === 1, { what: "a live" });
    const doc = {
      jobs: [{
        id: "warm",
        name: "Warm the cache",
        schedule: "@reboot",
        action: { type: "function", name: "noop" },
      }],
    };
    assertEquals((await a.manager.apply(doc, {})).created, 1);
    await waitFor(() => a.manager.get("warm").runCount === 1, {
      what: "the run when created",
    });
    await a.manager.shutdown({ graceMs: 1000 });
    a = await startNode(s.url, s.schema, "a2");
    const after = await waitFor(() => {
      const j = a.manager.get("warm");
      return j.runCount === 2 && j.status === "complete" && j;
    }, { what: "the run at the node's start" });
    assertEquals(after.lastRun?.status, "complete");
    assertEquals(
      a.manager.get("warm").scheduleText,
      "At each server start (@reboot)",
    );
  } finally {
    await a.manager.shutdown({ graceMs: 1000 });
  }
  await s.drop();
});
