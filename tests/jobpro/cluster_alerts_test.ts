/**
 * Alerts on a cluster: three managers on one PostgreSQL schema (a real
 * server, tests/pg/server.ts), each polling the shared outbox, and a real
 * local HTTP server as the webhook. Every failed run is alerted exactly
 * once (one delivery row, one POST), whichever node ran it and however
 * many nodes look for due deliveries; a webhook that answers 503 first is
 * retried by whichever node claims the delivery next, still once.
 */
import { assert, assertEquals } from "@std/assert";
import { createManager, type Manager } from "@/lib/jobpro/manager.ts";
import { NodeLease } from "@/lib/jobpro/lease.ts";
import { openPostgresMembership } from "@/lib/jobpro/postgres_nodes.ts";
import { openPostgresStore } from "@/lib/jobpro/postgres_store.ts";
import { createRegistry } from "@/lib/jobs/registry.ts";
import { localServer, waitFor } from "../helpers.ts";
import { query, sharedPostgres, testSchema } from "../pg/server.ts";

await sharedPostgres().catch(() => {});

const LEASE_MS = 600;

async function startNode(
  url: string,
  schema: string,
  name: string,
  functions: ReturnType<typeof createRegistry>,
): Promise<{ manager: Manager; lease: NodeLease }> {
  const store = await openPostgresStore(url, { schema, leaseMs: LEASE_MS });
  const membership = openPostgresMembership(url, { schema, leaseMs: LEASE_MS });
  const lease = new NodeLease(membership, { name, leaseMs: LEASE_MS });
  const manager = await createManager({
    store,
    lease,
    functions,
    commitIntervalMs: 20,
    notify: { backoffMs: [30, 30, 30, 30], pollMs: 20 },
    log: () => {},
  });
  return { manager, lease };
}

Deno.test("cluster alerts: three nodes, every failed run alerted once (one row, one POST), retries included", async () => {
  const s = await testSchema();
  const functions = createRegistry();
  functions.register("boom", () => {
    throw new Error("boom");
  });
  // deno-lint-ignore no-explicit-any
  const bodies: any[] = [];
  let calls = 0;
  // Every third answer is a 503: those deliveries are tried again.
  const hook = localServer(async (req) => {
    const body = await req.json();
    if (++calls % 3 === 0) return new Response("busy", { status: 503 });
    bodies.push(body);
    return new Response("ok");
  });
  const nodes: { manager: Manager; lease: NodeLease }[] = [];
  try {
    for (const name of ["a", "b", "c"]) {
      nodes.push(await startNode(s.url, s.schema, name, functions));
    }
    await waitFor(() => nodes.every((n) => n.lease.live().length === 3), {
      what: "three nodes live",
    });
    for (const [i, n] of nodes.entries()) {
      await n.manager.create({
        id: `fails-${i}`,
        name: `Fails ${i}`,
        schedule: "* * * * * *",
        action: { type: "function", name: "boom" },
        notify: [{ on: ["failure"], target: { webhook: hook.url } }],
      });
    }
    const failedRuns = async () =>
      (await query(
        s.url,
        `SELECT id::float8 AS id FROM ${s.schema}.runs WHERE status = 'failed'`,
      )).rows.map((r) => Number(r.id));
    await waitFor(async () => (await failedRuns()).length >= 9, {
      what: "nine failed runs",
      timeoutMs: 15_000,
    });
    for (const n of nodes) {
      for (let i = 0; i < 3; i++) {
        await n.manager.pause(`fails-${i}`).catch(() => {});
      }
    }
    let failed: number[] = [];
    await waitFor(async () => {
      failed = await failedRuns();
      const { rows } = await query(
        s.url,
        `SELECT count(*)::int AS n FROM ${s.schema}.deliveries WHERE status <> 'sent'`,
      );
      return rows[0].n === 0 && bodies.length >= failed.length;
    }, { what: "every delivery sent", timeoutMs: 15_000 });
    const { rows } = await query(
      s.url,
      `SELECT run_id::float8 AS run_id, attempts FROM ${s.schema}.deliveries`,
    );
    assertEquals(
      rows.map((r) => Number(r.run_id)).sort((x, y) => x - y),
      [...failed].sort((x, y) => x - y),
      "one delivery per failed run",
    );
    const posted = bodies.map((b) => b.run.id).sort((x, y) => x - y);
    assertEquals(posted, [...failed].sort((x, y) => x - y), "one POST per run");
    assert(rows.some((r) => r.attempts > 1), "some were retried");
  } finally {
    for (const n of nodes) await n.manager.shutdown({ graceMs: 1000 });
    await hook.close();
  }
  await s.drop();
});

Deno.test("cluster alerts: a job handed over after a failure alerts recovery on its next success, from the new owner", async () => {
  const s = await testSchema();
  const functions = createRegistry();
  const failing = { on: true };
  functions.register("flip", () => {
    if (failing.on) throw new Error("down");
  });
  // deno-lint-ignore no-explicit-any
  const bodies: any[] = [];
  const hook = localServer(async (req) => {
    bodies.push(await req.json());
    return new Response("ok");
  });
  const a = await startNode(s.url, s.schema, "a", functions);
  const b = await startNode(s.url, s.schema, "b", functions);
  const owner = async () =>
    (await query(
      s.url,
      `SELECT owner_epoch::float8 AS owner FROM ${s.schema}.jobs WHERE id = 'flip'`,
    )).rows[0]?.owner;
  try {
    await waitFor(() => a.lease.live().length === 2, { what: "two nodes" });
    await a.manager.create({
      id: "flip",
      name: "Flip",
      schedule: "",
      autoStart: false,
      action: { type: "function", name: "flip" },
      notify: [{
        on: ["failure", "recovery", "success"],
        target: { webhook: hook.url },
      }],
    });
    const epoch = await waitFor(owner, { what: "an owner" });
    const [from, to] = epoch === a.lease.epoch ? [a, b] : [b, a];
    // The node taking over knows the job from before its failure.
    await waitFor(() => {
      try {
        return to.manager.get("flip") !== undefined;
      } catch {
        return false;
      }
    }, { what: "the job seen by the other node" });
    await from.manager.runNow("flip");
    await waitFor(() => bodies.some((x) => x.event === "failure"), {
      what: "the failure alert",
    });
    await waitFor(() => to.manager.get("flip").lastRun?.status === "failed", {
      what: "the failed run seen by the other node",
    });
    await from.manager.shutdown({ graceMs: 2000 });
    await waitFor(async () => (await owner()) === to.lease.epoch, {
      what: "the job handed over",
    });
    failing.on = false;
    await to.manager.runNow("flip");
    const events = await waitFor(async () => {
      const ds = await to.manager.deliveries("flip");
      return ds.some((d) => d.event === "success") &&
        ds.map((d) => d.event).sort();
    }, { what: "the success's deliveries" });
    assertEquals(events, ["failure", "recovery", "success"]);
  } finally {
    await a.manager.shutdown({ graceMs: 0 });
    await b.manager.shutdown({ graceMs: 0 });
    await hook.close();
  }
  await s.drop();
});
