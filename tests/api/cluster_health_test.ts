/**
 * /healthz, /metrics and the run routes say which node answered and which
 * ran what: two nodes of a cluster built in this process (each a manager
 * with its own store and lease on one PostgreSQL schema, tests/pg/server.ts),
 * each behind the web app (main.ts createApp), called without a socket. A
 * node that holds no lease answers unavailable; a single node's answers
 * name no node, as before.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { readConfig } from "@/lib/config.ts";
import { createManager, type Manager } from "@/lib/jobpro/manager.ts";
import { type Membership, NodeLease } from "@/lib/jobpro/lease.ts";
import { NO_LEASE } from "@/lib/jobpro/health.ts";
import { openDuckDBStore } from "@/lib/jobpro/duckdb_store.ts";
import { openPostgresMembership } from "@/lib/jobpro/postgres_nodes.ts";
import { openPostgresStore } from "@/lib/jobpro/postgres_store.ts";
import { createApp } from "@/main.ts";
import { manualJob, waitFor } from "./helpers.ts";
import { query, sharedPostgres, testSchema } from "../pg/server.ts";
import { VERSION } from "@/lib/version.ts";

// Started before any test, so that no test's sanitizers count it as theirs.
await sharedPostgres().catch(() => {});

const LEASE_MS = 600;
const INFO: Deno.ServeHandlerInfo<Deno.NetAddr> = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 0 },
  completed: Promise.resolve(),
};

interface Node {
  name: string;
  manager: Manager;
  lease: NodeLease;
  /** Answers a request as the node's web app does. */
  call(method: string, path: string): Promise<Response>;
  /** Ends its lease in the database and keeps it from joining again. */
  cut(): Promise<void>;
  close(): Promise<void>;
}

function behindApp(manager: Manager) {
  const handler = createApp(manager, readConfig({ PORT: "0" })).handler();
  return (method: string, path: string) =>
    handler(
      new Request(`http://localhost${path}`, {
        method,
        headers: { accept: "application/json" },
      }),
      INFO,
    );
}

async function startNode(
  url: string,
  schema: string,
  name: string,
): Promise<Node> {
  const store = await openPostgresStore(url, { schema });
  const membership = openPostgresMembership(url, {
    schema,
    leaseMs: LEASE_MS,
  });
  // Once cut, its joins fail; its renewals ask the database, which says
  // the lease it ended is over.
  let cut = false;
  const joins: Membership = {
    join: (...args) =>
      cut ? Promise.reject(new Error("cut off")) : membership.join(...args),
    renew: (...args) => membership.renew(...args),
    leave: (epoch) => membership.leave(epoch),
  };
  const lease = new NodeLease(joins, { name, leaseMs: LEASE_MS });
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
    call: behindApp(manager),
    async cut() {
      cut = true;
      await query(
        url,
        `UPDATE ${schema}.nodes SET lease_until = clock_timestamp() - interval '1 second' WHERE epoch = $1`,
        [lease.epoch],
      );
    },
    async close() {
      await manager.shutdown({ graceMs: 2000 }).catch(() => {});
      await membership.close();
    },
  };
}

/** The jobs each epoch owns, in the database. */
async function ownedIn(url: string, schema: string) {
  const { rows } = await query(
    url,
    `SELECT owner_epoch::float8 AS owner, count(*)::int AS n FROM ${schema}.jobs GROUP BY 1`,
  );
  return new Map<number | null, number>(rows.map((r) => [r.owner, r.n]));
}

const metricLine = (text: string, name: string) =>
  text.split("\n").find((l) =>
    l.startsWith(name + " ") || l.startsWith(name + "{")
  );

Deno.test("cluster health: /healthz and /metrics name the node, its epoch, its jobs and the live nodes; runs name the node that ran them", async () => {
  const s = await testSchema();
  const a = await startNode(s.url, s.schema, "node-a");
  const b = await startNode(s.url, s.schema, "node-b");
  try {
    await waitFor(
      () => a.lease.live().length === 2 && b.lease.live().length === 2,
      { what: "both nodes live" },
    );
    const ids = Array.from({ length: 8 }, (_, i) => `m-${i}`);
    // The first request loads each app's routes: done before anything is timed.
    for (const n of [a, b]) await n.call("GET", "/healthz");
    for (const id of ids) await a.manager.create(manualJob(id));
    // Every job owned by a live node, each node's count as the rows say.
    await waitFor(async () => {
      const owned = await ownedIn(s.url, s.schema);
      return a.manager.node!.jobs + b.manager.node!.jobs === ids.length &&
        owned.get(a.lease.epoch) === a.manager.node!.jobs &&
        owned.get(b.lease.epoch) === b.manager.node!.jobs;
    }, { what: "the jobs owned, on both nodes", timeoutMs: 10_000 });
    // What a node's health must say, from the leases and the rows.
    const expected = async (n: Node) => ({
      name: n.name,
      epoch: n.lease.epoch,
      jobs: (await ownedIn(s.url, s.schema)).get(n.lease.epoch) ?? 0,
      live: [
        { epoch: a.lease.epoch, name: "node-a" },
        { epoch: b.lease.epoch, name: "node-b" },
      ].sort((x, y) => x.epoch - y.epoch),
    });
    for (const n of [a, b]) {
      // Settled (a node that lost its lease under load joins again anew).
      let body: Record<string, unknown> = {};
      let want = {};
      await waitFor(async () => {
        const res = await n.call("GET", "/healthz");
        body = await res.json();
        want = await expected(n);
        if (
          res.status !== 200 ||
          JSON.stringify(body.node) !== JSON.stringify(want)
        ) {
          throw new Error(
            `${JSON.stringify(body)}, not ${JSON.stringify(want)}`,
          );
        }
        return true;
      }, { what: `${n.name}'s health to name it`, timeoutMs: 10_000 });
      assertEquals(body.node, want);
      assertEquals([body.status, body.ok], ["ok", true]);
      assertEquals(body.jobs, ids.length, "every job, on every node");
      const metrics = await (await n.call("GET", "/metrics")).text();
      assertEquals(
        metricLine(metrics, "jobpro_node_info"),
        `jobpro_node_info{node="${n.name}",epoch="${n.lease.epoch}"} 1`,
      );
      assertEquals(
        metricLine(metrics, "jobpro_node_owned_jobs"),
        `jobpro_node_owned_jobs ${n.manager.node!.jobs}`,
      );
      assertEquals(
        metricLine(metrics, "jobpro_cluster_live_nodes"),
        "jobpro_cluster_live_nodes 2",
      );
      assertStringIncludes(metrics, "# TYPE jobpro_node_info gauge");
    }
    // A run asked of b is b's, whichever node owns the job; every node
    // lists it with b's name, and so do its events.
    const heard: (string | undefined)[] = [];
    const stop = a.manager.events.subscribe((e) => {
      if (e.type === "run-finished" && e.run.jobId === "m-0") {
        heard.push(e.run.node);
      }
    });
    const asked = await b.call("POST", "/jobs/m-0/run");
    const started = await asked.json();
    assertEquals(asked.status, 200, JSON.stringify(started));
    assertEquals(started.run.node, "node-b");
    await waitFor(() => heard.length > 0, { what: "a heard the run end" });
    stop();
    assertEquals(heard, ["node-b"]);
    for (const n of [a, b]) {
      const list = await (await n.call("GET", "/jobs/m-0/runs")).json();
      assertEquals(
        list.runs.map((r: { id: number; node?: string }) => [r.id, r.node]),
        [[started.run.id, "node-b"]],
      );
      const one =
        await (await n.call("GET", `/jobs/m-0/runs/${started.run.id}`))
          .json();
      assertEquals([one.node, one.status], ["node-b", "complete"]);
    }
    // Its lease ended and it cannot join again: a holds no lease, so it is
    // unavailable, owning nothing, knowing no one.
    await a.cut();
    await waitFor(() => a.manager.node!.epoch === null, {
      what: "a lost its lease",
    });
    const res = await a.call("GET", "/healthz");
    const body = await res.json();
    assertEquals(res.status, 503);
    assertEquals([body.status, body.ok, body.reason], [
      "unavailable",
      false,
      NO_LEASE,
    ]);
    assertEquals(body.node, { name: "node-a", epoch: null, jobs: 0, live: [] });
    const metrics = await (await a.call("GET", "/metrics")).text();
    assertEquals(
      metricLine(metrics, "jobpro_node_info"),
      `jobpro_node_info{node="node-a",epoch=""} 1`,
    );
    assertEquals(
      metricLine(metrics, "jobpro_node_owned_jobs"),
      "jobpro_node_owned_jobs 0",
    );
    assertEquals(
      metricLine(metrics, "jobpro_cluster_live_nodes"),
      "jobpro_cluster_live_nodes 0",
    );
    // b takes every job over and says so.
    await waitFor(async () => {
      const body = await (await b.call("GET", "/healthz")).json();
      return body.ok && body.node.jobs === ids.length &&
        body.node.live.length === 1;
    }, { what: "b owns every job, alone", timeoutMs: 10_000 });
  } finally {
    await b.close();
    await a.close();
  }
  await s.drop();
});

Deno.test("cluster health: a single node's /healthz and /metrics name no node, as before", async () => {
  const manager = await createManager({
    store: await openDuckDBStore(":memory:"),
    log: () => {},
  });
  try {
    const call = behindApp(manager);
    assertEquals(manager.node, null);
    const res = await call("GET", "/healthz");
    const body = await res.json();
    assertEquals(res.status, 200);
    assertEquals(body, {
      status: "ok",
      ok: true,
      jobs: 0,
      running: 0,
      version: VERSION,
    });
    const metrics = await (await call("GET", "/metrics")).text();
    assert(!metrics.includes("jobpro_node_"), metrics);
    assert(!metrics.includes("jobpro_cluster_"), metrics);
    await manager.create(manualJob("one"));
    const run = await manager.runNow("one");
    assert(!("node" in run), "a single node's run names none");
  } finally {
    await manager.shutdown({ graceMs: 0 });
  }
});
