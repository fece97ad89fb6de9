/**
 * Job chains on a cluster: two nodes on one PostgreSQL schema (a real
 * server, tests/pg/server.ts), each a manager with its own store and lease.
 * The parent job is owned by one node and its child by the other: the
 * parent's run ends on its owner, which commits the trigger with the
 * finish; the child's owner reads it (the event log wakes it) and runs the
 * child once, recorded with the parent's job and run. Both nodes see it.
 * When the child's owner is gone, the trigger waits, pending, for the node
 * that takes the child over, which runs it once.
 */
import { assert, assertEquals } from "@std/assert";
import { createManager, type Manager } from "@/lib/jobpro/manager.ts";
import { NodeLease } from "@/lib/jobpro/lease.ts";
import { openPostgresMembership } from "@/lib/jobpro/postgres_nodes.ts";
import { openPostgresStore } from "@/lib/jobpro/postgres_store.ts";
import { waitFor } from "../helpers.ts";
import { query, sharedPostgres, testSchema } from "../pg/server.ts";

// Started before any test, so that no test's sanitizers count it as theirs.
await sharedPostgres().catch(() => {});

const LEASE_MS = 600;
const noop = { type: "function", name: "noop" } as const;

interface Node {
  name: string;
  manager: Manager;
  lease: NodeLease;
  /** Cuts the node off from the database (its connections end, for good). */
  cut(): Promise<void>;
}

async function startNode(url: string, schema: string, name: string) {
  const store = await openPostgresStore(url, { schema, leaseMs: LEASE_MS });
  const membership = openPostgresMembership(url, {
    schema,
    leaseMs: LEASE_MS,
  });
  const lease = new NodeLease(membership, { name, leaseMs: LEASE_MS });
  const manager = await createManager({
    store,
    lease,
    commitIntervalMs: 20,
    log: () => {},
  });
  return {
    name,
    manager,
    lease,
    async cut() {
      await membership.close();
      await store.close().catch(() => {});
    },
  } satisfies Node;
}

async function owners(url: string, schema: string) {
  const { rows } = await query(
    url,
    `SELECT id, owner_epoch::float8 AS owner FROM ${schema}.jobs`,
  );
  return new Map(rows.map((r) => [String(r.id), r.owner as number | null]));
}

Deno.test("cluster chains: a parent owned by one node, its child by the other: the child runs once, on its owner, with its parent recorded", async () => {
  const s = await testSchema();
  const a = await startNode(s.url, s.schema, "a");
  const b = await startNode(s.url, s.schema, "b");
  try {
    await waitFor(
      () => a.lease.live().length === 2 && b.lease.live().length === 2,
      { what: "both nodes live" },
    );
    // Candidates for the child; the parent is p. Each node owns some.
    const ids = ["p", ...Array.from({ length: 8 }, (_, i) => `c${i}`)];
    for (const id of ids) {
      await a.manager.create({ id, name: id, action: noop, autoStart: false });
    }
    const owned = await waitFor(async () => {
      const o = await owners(s.url, s.schema);
      return ids.every((id) => o.get(id) != null) && o;
    }, { what: "every job owned" });
    const child = ids.find((id) => owned.get(id) !== owned.get("p"));
    assert(child, "some job is the other node's");
    const [parentNode, childNode] = owned.get("p") === a.lease.epoch
      ? [a, b]
      : [b, a];
    // Asked of the node that does not own the parent.
    await childNode.manager.update("p", { onSuccess: [child] });
    await waitFor(() => parentNode.manager.get("p").onSuccess.length === 1, {
      what: "the parent's owner sees the chain",
    });

    const parent = await parentNode.manager.runNow("p");
    assertEquals(parent.node, parentNode.name);
    for (const n of [a, b]) {
      const [run] = await waitFor(async () => {
        const { runs } = await n.manager.runs(child);
        return runs.length === 1 && runs[0].status === "complete" && runs;
      }, { what: `${n.name} sees the child's run` });
      assertEquals(run.trigger, "chain");
      assertEquals([run.parentJobId, run.parentRunId], ["p", parent.id]);
      assertEquals(run.node, childNode.name);
    }
    const { rows } = await query(
      s.url,
      `SELECT count(*)::int AS n FROM ${s.schema}.chain_triggers
      WHERE consumed_at IS NULL`,
    );
    assertEquals(rows[0].n, 0);
  } finally {
    await a.manager.shutdown({ graceMs: 2000 });
    await b.manager.shutdown({ graceMs: 2000 });
  }
  await s.drop();
});

Deno.test("cluster chains: the child's owner is cut off; its trigger waits for the node that takes the child over, which runs it once", async () => {
  const s = await testSchema();
  const a = await startNode(s.url, s.schema, "a");
  const b = await startNode(s.url, s.schema, "b");
  let cut: Node | null = null;
  try {
    await waitFor(
      () => a.lease.live().length === 2 && b.lease.live().length === 2,
      { what: "both nodes live" },
    );
    const ids = ["p", ...Array.from({ length: 8 }, (_, i) => `c${i}`)];
    for (const id of ids) {
      await a.manager.create({ id, name: id, action: noop, autoStart: false });
    }
    const owned = await waitFor(async () => {
      const o = await owners(s.url, s.schema);
      return ids.every((id) => o.get(id) != null) && o;
    }, { what: "every job owned" });
    const child = ids.find((id) => owned.get(id) !== owned.get("p"))!;
    const [stays, goes] = owned.get("p") === a.lease.epoch ? [a, b] : [b, a];
    await stays.manager.update("p", { onSuccess: [child] });
    await waitFor(() => goes.manager.get("p").onSuccess.length === 1, {
      what: "both see the chain",
    });
    cut = goes;
    await goes.cut();

    // Its lease has not run out yet: the child is still the cut node's, so
    // the trigger the parent's end writes waits for the take-over.
    const parent = await stays.manager.runNow("p");
    assertEquals((await owners(s.url, s.schema)).get(child), goes.lease.epoch);
    const [run] = await waitFor(async () => {
      const { runs } = await stays.manager.runs(child);
      return runs.length === 1 && runs[0].status === "complete" && runs;
    }, { what: "the child run by the node that took it over" });
    assertEquals(
      [run.trigger, run.parentJobId, run.parentRunId, run.node],
      ["chain", "p", parent.id, stays.name],
    );
    const { rows } = await query(
      s.url,
      `SELECT count(*)::int AS n FROM ${s.schema}.runs WHERE job_id = $1`,
      [child],
    );
    assertEquals(rows[0].n, 1);
  } finally {
    for (const n of [a, b]) {
      await n.manager.shutdown({ graceMs: n === cut ? 0 : 2000 }).catch(
        () => {},
      );
    }
  }
  await s.drop();
});
