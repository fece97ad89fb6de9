/**
 * Cancelling one run on a cluster: two nodes on one PostgreSQL schema (a
 * real server, tests/pg/server.ts), each a manager with its own store and
 * lease behind the web app (main.ts createApp, called without a socket).
 *
 * - The cancel asked of the node that does not run the run reaches the one
 *   that does, through the event log: its program's process group is ended
 *   (the process and its child are gone), the run ends cancelled "by api",
 *   and both nodes see the job go on, scheduled.
 * - A run whose node is gone (its lease ended) is not cancelled: 409.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { readConfig } from "@/lib/config.ts";
import { createManager, type Manager } from "@/lib/jobpro/manager.ts";
import { NodeLease } from "@/lib/jobpro/lease.ts";
import { openPostgresMembership } from "@/lib/jobpro/postgres_nodes.ts";
import { openPostgresStore } from "@/lib/jobpro/postgres_store.ts";
import { createApp } from "@/main.ts";
import { localServer, waitFor } from "../helpers.ts";
import { query, sharedPostgres, testSchema } from "../pg/server.ts";

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
  /** Answers a request as the node's web app does, as JSON. */
  // deno-lint-ignore no-explicit-any
  post(path: string): Promise<{ status: number; body: any }>;
  /** Cuts the node off from the database (its connections end, for good). */
  cut(): Promise<void>;
}

async function startNode(
  url: string,
  schema: string,
  name: string,
): Promise<Node> {
  const store = await openPostgresStore(url, { schema, leaseMs: LEASE_MS });
  const membership = openPostgresMembership(url, {
    schema,
    leaseMs: LEASE_MS,
  });
  const lease = new NodeLease(membership, { name, leaseMs: LEASE_MS });
  const manager = await createManager({
    store,
    lease,
    allowShell: true,
    commitIntervalMs: 20,
    notify: { pollMs: 20 },
    log: () => {},
  });
  const handler = createApp(manager, readConfig({ PORT: "0" })).handler();
  return {
    name,
    manager,
    lease,
    async post(path) {
      const res = await handler(
        new Request(`http://localhost${path}`, {
          method: "POST",
          headers: { accept: "application/json" },
        }),
        INFO,
      );
      return { status: res.status, body: await res.json() };
    },
    async cut() {
      await membership.close();
      await store.close().catch(() => {});
    },
  };
}

/** Whether a process is running (a zombie no init has reaped is not). */
async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

async function ownerOf(url: string, schema: string, id: string) {
  const { rows } = await query(
    url,
    `SELECT owner_epoch::float8 AS owner FROM ${schema}.jobs WHERE id = $1`,
    [id],
  );
  return rows[0]?.owner as number | null | undefined;
}

/** Two live nodes; `[runs, asks]`: the one owning `id`, then the other. */
async function pair(url: string, schema: string, a: Node, b: Node, id: string) {
  const owner = await waitFor(() => ownerOf(url, schema, id), {
    what: `${id} owned`,
  });
  return owner === a.lease.epoch ? [a, b] : [b, a];
}

Deno.test("cluster cancel: asked of the other node, the run's node ends its process group; the run ends cancelled by api; the job goes on", async () => {
  const s = await testSchema();
  const dir = await Deno.makeTempDir({ prefix: "jobpro-cancel-" });
  const a = await startNode(s.url, s.schema, "a");
  const b = await startNode(s.url, s.schema, "b");
  try {
    await waitFor(
      () => a.lease.live().length === 2 && b.lease.live().length === 2,
      { what: "both nodes live" },
    );
    const script =
      `sleep 30 & echo $! > ${dir}/child; echo $$ > ${dir}/sh; wait`;
    await a.manager.create({
      id: "long",
      name: "Long",
      schedule: "0 0 3 * * *",
      autoStart: true,
      action: { type: "shell", command: ["sh", "-c", script] },
    });
    const [runs, asks] = await pair(s.url, s.schema, a, b, "long");
    await waitFor(() => asks.manager.get("long"), { what: "both know it" });
    const run = await runs.manager.runNow("long");
    assertEquals(run.node, runs.name);
    const pids = await waitFor(async () => {
      const read = (f: string) =>
        Deno.readTextFile(`${dir}/${f}`).then((t) => Number(t.trim()));
      const [sh, child] = await Promise.all([read("sh"), read("child")]);
      return sh && child && [sh, child];
    }, { what: "the program and its child started" });

    // Asked of the node that does not run it.
    const r = await asks.post(`/jobs/long/runs/${run.id}/cancel`);
    assertEquals(r.status, 200, JSON.stringify(r.body));
    assertEquals(r.body.status, "cancelled");
    assertEquals(r.body.error, "cancelled by api");
    assertEquals(r.body.node, runs.name);
    for (const pid of pids) {
      await waitFor(async () => !(await alive(pid)), {
        what: `process ${pid} gone`,
      });
    }
    for (const n of [a, b]) {
      await waitFor(() => n.manager.get("long").activeRuns === 0, {
        what: `${n.name} sees the run ended`,
      });
      assertEquals(n.manager.get("long").status, "scheduled", n.name);
    }
    const again = await asks.post(`/jobs/long/runs/${run.id}/cancel`);
    assertEquals(again.status, 409);
    assertStringIncludes(again.body.error.message, "has already ended");
    const none = await asks.post(`/jobs/long/runs/${run.id + 10_000}/cancel`);
    assertEquals(none.status, 404);
  } finally {
    await a.manager.shutdown({ graceMs: 2000 });
    await b.manager.shutdown({ graceMs: 2000 });
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  await s.drop();
});

Deno.test("cluster cancel: a run whose node is gone is not cancelled: 409 (it ends interrupted, and its failure is alerted once, by the survivor)", async () => {
  const s = await testSchema();
  // deno-lint-ignore no-explicit-any
  const alerts: any[] = [];
  const hook = localServer(async (req) => {
    alerts.push(await req.json());
    return new Response("ok");
  });
  const a = await startNode(s.url, s.schema, "a");
  const b = await startNode(s.url, s.schema, "b");
  let cut: Node | null = null;
  try {
    await waitFor(
      () => a.lease.live().length === 2 && b.lease.live().length === 2,
      { what: "both nodes live" },
    );
    await a.manager.create({
      id: "nap",
      name: "Nap",
      schedule: "0 0 3 * * *",
      autoStart: true,
      action: { type: "function", name: "sleep", params: { ms: 60_000 } },
      notify: [{ on: ["failure"], target: { webhook: hook.url } }],
    });
    const [runs, asks] = await pair(s.url, s.schema, a, b, "nap");
    await waitFor(() => asks.manager.get("nap"), { what: "both know it" });
    const run = await runs.manager.runNow("nap");
    await waitFor(
      async () => (await asks.manager.run("nap", run.id)).status === "running",
      { what: "the run's start committed" },
    );
    cut = runs;
    await runs.cut();
    await waitFor(() => asks.lease.live().length === 1, {
      what: `${asks.name} alone`,
      timeoutMs: 10_000,
    });
    const r = await asks.post(`/jobs/nap/runs/${run.id}/cancel`);
    assertEquals(r.status, 409, JSON.stringify(r.body));
    const message = String(r.body.error.message);
    assert(
      /no longer live|interrupted/.test(message),
      `says why: ${message}`,
    );
    // The interrupted run failed: the node that recorded it so alerts it.
    await waitFor(() => alerts.length > 0, { what: "the failure alert" });
    assertEquals([alerts[0].event, alerts[0].run.id], ["failure", run.id]);
    assertStringIncludes(alerts[0].run.error, "interrupted");
    const rows = await query(
      s.url,
      `SELECT count(*)::int AS n FROM ${s.schema}.deliveries WHERE run_id = $1`,
      [run.id],
    );
    assertEquals(rows.rows[0].n, 1);
  } finally {
    await hook.close();
    for (const n of [a, b]) {
      await n.manager.shutdown({ graceMs: n === cut ? 0 : 2000 }).catch(
        () => {},
      );
    }
  }
  await s.drop();
});
