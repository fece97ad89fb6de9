/**
 * Tags and bulk actions on a cluster: two nodes built in this process, each
 * a manager with its own store and lease on one PostgreSQL schema
 * (tests/pg/server.ts), each behind the web app (main.ts createApp), called
 * without a socket. Tags are in the job row, so every node lists and
 * filters by them; a bulk request asked of any node goes through its
 * normal operations, which reach every node.
 */
import { assert, assertEquals } from "@std/assert";
import { readConfig } from "@/lib/config.ts";
import { createManager, type Manager } from "@/lib/jobpro/manager.ts";
import { NodeLease } from "@/lib/jobpro/lease.ts";
import { openPostgresMembership } from "@/lib/jobpro/postgres_nodes.ts";
import { openPostgresStore } from "@/lib/jobpro/postgres_store.ts";
import { createApp } from "@/main.ts";
import { waitFor } from "./helpers.ts";
import { query, sharedPostgres, testSchema } from "../pg/server.ts";

// Started before any test, so that no test's sanitizers count it as theirs.
await sharedPostgres().catch(() => {});

const LEASE_MS = 600;
const INFO: Deno.ServeHandlerInfo<Deno.NetAddr> = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 0 },
  completed: Promise.resolve(),
};

interface Node {
  manager: Manager;
  lease: NodeLease;
  /** Answers a JSON request as the node's web app does. */
  // deno-lint-ignore no-explicit-any
  call(method: string, path: string, body?: unknown): Promise<any>;
  close(): Promise<void>;
}

async function startNode(url: string, schema: string, name: string) {
  const store = await openPostgresStore(url, { schema });
  const membership = openPostgresMembership(url, { schema, leaseMs: LEASE_MS });
  const lease = new NodeLease(membership, { name, leaseMs: LEASE_MS });
  const manager = await createManager({
    store,
    lease,
    commitIntervalMs: 20,
    log: () => {},
  });
  const handler = createApp(manager, readConfig({ PORT: "0" })).handler();
  const node: Node = {
    manager,
    lease,
    async call(method, path, body) {
      const res = await handler(
        new Request(`http://localhost${path}`, {
          method,
          headers: {
            accept: "application/json",
            "content-type": "application/json",
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        }),
        INFO,
      );
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
    async close() {
      await manager.shutdown({ graceMs: 2000 }).catch(() => {});
      await membership.close();
    },
  };
  return node;
}

Deno.test("cluster: tags reach every node; a bulk pause, run and delete asked of one node act on jobs every node owns", async () => {
  const s = await testSchema();
  const a = await startNode(s.url, s.schema, "node-a");
  const b = await startNode(s.url, s.schema, "node-b");
  try {
    await waitFor(
      () => a.lease.live().length === 2 && b.lease.live().length === 2,
      { what: "both nodes live" },
    );
    // 16 jobs: both nodes own some (all on one: 1 in 32,768).
    const ids = Array.from({ length: 16 }, (_, i) => `t-${i}`);
    const odd = ids.filter((_, i) => i % 2);
    for (const [i, id] of ids.entries()) {
      const made = await a.call("POST", "/jobs", {
        id,
        name: id,
        schedule: "0 0 3 * * *",
        action: { type: "function", name: "noop" },
        tags: i % 2 ? ["billing", "odd"] : ["billing"],
      });
      assertEquals(made.status, 201, JSON.stringify(made.body));
    }
    // Owned by both nodes; b lists and filters by tags it never wrote.
    await waitFor(
      () =>
        a.manager.node!.jobs > 0 && b.manager.node!.jobs > 0 &&
        a.manager.node!.jobs + b.manager.node!.jobs === ids.length,
      { what: "the jobs spread over both nodes", timeoutMs: 10_000 },
    );
    await waitFor(async () =>
      (await b.call("GET", "/jobs?tag=billing&tag=odd")).body.total ===
        odd.length
    );
    assertEquals((await b.call("GET", "/jobs/t-1")).body.tags, [
      "billing",
      "odd",
    ]);

    // A bulk pause asked of b: every job paused, on both nodes and in the rows.
    const paused = await b.call("POST", "/jobs/bulk", {
      action: "pause",
      filter: { tag: "odd" },
    });
    assertEquals(paused.status, 200, JSON.stringify(paused.body));
    assertEquals(
      paused.body.results,
      odd.map((id) => ({ id, ok: true, status: "paused" })),
    );
    await waitFor(
      () => odd.every((id) => a.manager.get(id).status === "paused"),
      { what: "a sees them paused" },
    );
    const { rows } = await query(
      s.url,
      `SELECT id, status, tags FROM ${s.schema}.jobs WHERE 'odd' = ANY(tags)`,
    );
    assertEquals(
      rows.map((r) => [r.id, r.status, r.tags]).sort(),
      odd.map((id) => [id, "paused", ["billing", "odd"]]).sort(),
    );

    // Tags edited on a reach b.
    await a.call("PATCH", "/jobs/t-0", { tags: ["billing", "moved"] });
    await waitFor(() => b.manager.get("t-0").tags.includes("moved"), {
      what: "b sees t-0's new tags",
    });

    // A bulk run asked of a: each run on a, whichever node owns the job.
    const ran = await a.call("POST", "/jobs/bulk", {
      action: "run",
      filter: { tag: "billing" },
    });
    assertEquals(ran.body.succeeded, ids.length, JSON.stringify(ran.body));
    for (const r of ran.body.results) {
      await waitFor(async () => {
        const run = (await b.call("GET", `/jobs/${r.id}/runs/${r.runId}`))
          .body;
        return run.status === "complete" && run.node === "node-a";
      }, { what: `run ${r.runId} of ${r.id} complete on node-a` });
    }

    // A bulk delete asked of b, by ids: gone from both nodes.
    const deleted = await b.call("POST", "/jobs/bulk", {
      action: "delete",
      ids: ["t-0", "t-1", "nope"],
    });
    assertEquals(
      deleted.body.results.map((r: { id: string; ok: boolean }) => [
        r.id,
        r.ok,
      ]),
      [["t-0", true], ["t-1", true], ["nope", false]],
    );
    await waitFor(() => a.manager.size === ids.length - 2, {
      what: "a lost the deleted jobs",
    });
    assert(
      (await a.call("GET", "/jobs?tag=billing")).body.jobs.every((
        j: { id: string },
      ) => j.id !== "t-0" && j.id !== "t-1"),
    );
  } finally {
    await b.close();
    await a.close();
  }
  await s.drop();
});
