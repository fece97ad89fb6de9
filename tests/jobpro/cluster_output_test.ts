/**
 * Live output on a cluster: two nodes on one PostgreSQL schema (a real
 * server, tests/pg/server.ts), each a manager with its own store and lease.
 * A program runs on node A; a viewer of node B — its event bus, which is
 * what B's `/jobs/events` streams, and B's read of the run (the running
 * row) — sees its output while it runs, in order by offset, once, and the
 * rest after; the event log carries one `run-output` event per write, not
 * one per line. The program waits for a file the test creates.
 */
import { assert, assertEquals } from "@std/assert";
import { createManager, type Manager } from "@/lib/jobpro/manager.ts";
import type { Delivered } from "@/lib/jobpro/events.ts";
import { NodeLease } from "@/lib/jobpro/lease.ts";
import { mergeOutput } from "@/lib/jobpro/live_output.ts";
import { openPostgresMembership } from "@/lib/jobpro/postgres_nodes.ts";
import { openPostgresStore } from "@/lib/jobpro/postgres_store.ts";
import { waitFor } from "../helpers.ts";
import { query, sharedPostgres, testSchema } from "../pg/server.ts";

// Started before any test, so that no test's sanitizers count it as theirs.
await sharedPostgres().catch(() => {});

const LEASE_MS = 600;

interface Node {
  name: string;
  manager: Manager;
  lease: NodeLease;
}

async function startNode(url: string, schema: string, name: string) {
  const store = await openPostgresStore(url, { schema, leaseMs: LEASE_MS });
  const membership = openPostgresMembership(url, { schema, leaseMs: LEASE_MS });
  const lease = new NodeLease(membership, { name, leaseMs: LEASE_MS });
  const manager = await createManager({
    store,
    lease,
    allowShell: true,
    commitIntervalMs: 20,
    log: () => {},
  });
  return { name, manager, lease } satisfies Node;
}

Deno.test("cluster: a viewer on node B sees the live output of a run going on node A", async () => {
  const s = await testSchema();
  const dir = await Deno.makeTempDir({ prefix: "jobpro-output-" });
  const a = await startNode(s.url, s.schema, "a");
  const b = await startNode(s.url, s.schema, "b");
  try {
    await waitFor(
      () => a.lease.live().length === 2 && b.lease.live().length === 2,
      { what: "both nodes live" },
    );
    const gate = `${dir}/go`;
    await a.manager.create({
      id: "chatty",
      name: "Chatty",
      schedule: "0 0 3 * * *",
      autoStart: true,
      action: {
        type: "shell",
        command: [
          "sh",
          "-c",
          `for i in 1 2 3; do echo line $i; done; while [ ! -e "$0" ]; do sleep 0.01; done; echo done`,
          gate,
        ],
      },
    });
    const owner = await waitFor(async () => {
      const { rows } = await query(
        s.url,
        `SELECT owner_epoch::float8 AS owner FROM ${s.schema}.jobs WHERE id = 'chatty'`,
      );
      return rows[0]?.owner as number | null;
    }, { what: "chatty owned" });
    const [runs, views] = owner === a.lease.epoch ? [a, b] : [b, a];
    await waitFor(() => views.manager.get("chatty"), { what: "both know it" });

    let runId: number | null = null;
    let shown = { offset: 0, text: "" };
    let repeated = 0;
    let missed = 0;
    const stop = views.manager.events.subscribe((e: Delivered) => {
      if (e.type !== "run-output" || e.output.runId !== runId) return;
      const next = mergeOutput(shown, e.output);
      repeated += e.output.chunk.length - next.added.length;
      missed += next.missed;
      shown = { offset: next.offset, text: next.text };
    });
    try {
      const run = await runs.manager.runNow("chatty");
      runId = run.id;
      assertEquals(run.node, runs.name);
      const first = "line 1\nline 2\nline 3\n";
      await waitFor(() => shown.text === first, {
        what: `the first lines on ${views.name}`,
      });
      // The other node reads the running row: the output so far.
      const mid = await views.manager.run("chatty", run.id);
      assertEquals(mid.status, "running");
      assertEquals(mid.output, first);
      assertEquals(mid.outputOffset, 0);
      assertEquals(mid.node, runs.name);
      await Deno.writeTextFile(gate, "");
      await waitFor(() => shown.text === first + "done\n", {
        what: `the rest on ${views.name}`,
      });
      assertEquals([repeated, missed], [0, 0]);
      await waitFor(
        async () =>
          (await views.manager.run("chatty", run.id)).status === "complete",
        { what: "the run's end" },
      );
      assertEquals(
        (await views.manager.run("chatty", run.id)).output,
        first + "done\n",
      );
      const { rows } = await query(
        s.url,
        `SELECT count(*)::int AS n FROM ${s.schema}.events
          WHERE type = 'run-output' AND run_id = $1`,
        [run.id],
      );
      // One per write (two here, or a few more if the lines came apart), never one per line.
      assert(
        rows[0].n >= 1 && rows[0].n <= 4,
        `${rows[0].n} run-output events`,
      );
    } finally {
      stop();
    }
  } finally {
    await a.manager.shutdown({ graceMs: 2000 });
    await b.manager.shutdown({ graceMs: 2000 });
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  await s.drop();
});
