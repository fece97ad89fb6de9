/**
 * Heartbeat checks on a cluster: three managers on one PostgreSQL schema (a
 * real server, tests/pg/server.ts) and a real local HTTP server as the
 * webhook. A ping taken by a node that does not own the job counts for the
 * owner's check; a start taken by one node pairs with the success another
 * takes; a tick with no ping is recorded missed once (one run, whichever
 * node looks), and its episode sends one alert, one POST.
 */
import { assert, assertEquals } from "@std/assert";
import { createManager, type Manager } from "@/lib/jobpro/manager.ts";
import { MISSED_HEARTBEAT } from "@/lib/jobpro/heartbeat.ts";
import { NodeLease } from "@/lib/jobpro/lease.ts";
import { openPostgresMembership } from "@/lib/jobpro/postgres_nodes.ts";
import { openPostgresStore } from "@/lib/jobpro/postgres_store.ts";
import { localServer, waitFor } from "../helpers.ts";
import { query, sharedPostgres, testSchema } from "../pg/server.ts";

await sharedPostgres().catch(() => {});

const LEASE_MS = 600;

async function startNode(url: string, schema: string, name: string) {
  const store = await openPostgresStore(url, { schema, leaseMs: LEASE_MS });
  const membership = openPostgresMembership(url, { schema, leaseMs: LEASE_MS });
  const lease = new NodeLease(membership, { name, leaseMs: LEASE_MS });
  const manager = await createManager({
    store,
    lease,
    commitIntervalMs: 20,
    notify: { backoffMs: [30, 30, 30], pollMs: 20 },
    log: () => {},
  });
  return { manager, lease };
}

Deno.test("cluster heartbeat: a ping to a node that does not own the job counts; a missed tick is one run and one alert from three nodes", async () => {
  const s = await testSchema();
  // deno-lint-ignore no-explicit-any
  const posts: any[] = [];
  const hook = localServer(async (req) => {
    posts.push(await req.json());
    return new Response("ok");
  });
  const nodes: { manager: Manager; lease: NodeLease }[] = [];
  const sql = async (text: string) => (await query(s.url, text)).rows;
  try {
    for (const name of ["a", "b", "c"]) {
      nodes.push(await startNode(s.url, s.schema, name));
    }
    await waitFor(() => nodes.every((n) => n.lease.live().length === 3), {
      what: "three nodes live",
    });
    const job = await nodes[0].manager.create({
      id: "hb",
      name: "Heartbeat",
      schedule: "* * * * * *",
      action: { type: "heartbeat", graceMs: 1000 },
      notify: [{ on: ["failure", "missed"], target: { webhook: hook.url } }],
    });
    const t1 = Date.parse(job.nextRunAt!);
    const [{ owner }] = await sql(
      `SELECT owner_epoch::float8 AS owner FROM ${s.schema}.jobs WHERE id = 'hb'`,
    );
    const others = nodes.filter((n) => n.manager.node?.epoch !== owner);
    assertEquals(others.length, 2, "the job has one owner");
    // A start on one node that does not own the job, the success on the other.
    const started = await others[0].manager.ping("hb", "start", null);
    const done = await others[1].manager.ping("hb", "success", null);
    assertEquals(done.id, started.id);
    assertEquals(done.status, "complete");
    // The owner's check of the first tick passes...
    await waitFor(async () => {
      const [r] = await sql(
        `SELECT ${"(extract(epoch FROM next_run_at) * 1000)::float8"} AS next
         FROM ${s.schema}.jobs WHERE id = 'hb'`,
      );
      return Number(r.next) > t1;
    }, { what: "the first check" });
    // ...the next is missed, and the misses go on until paused.
    const missedRows = () =>
      sql(
        `SELECT id::float8 AS id, (extract(epoch FROM scheduled_for) * 1000)::float8 AS at
         FROM ${s.schema}.runs WHERE job_id = 'hb' AND error = '${MISSED_HEARTBEAT}'
         ORDER BY scheduled_for`,
      );
    await waitFor(async () => (await missedRows()).length >= 2, {
      what: "two missed heartbeats",
      timeoutMs: 8000,
    });
    await nodes[0].manager.pause("hb");
    const missed = await missedRows();
    assertEquals(
      Number(missed[0].at),
      t1 + 1000,
      "the first miss is the 2nd tick",
    );
    const ticks = missed.map((r) => Number(r.at));
    assertEquals(new Set(ticks).size, ticks.length, "one run per missed tick");
    assert(!ticks.includes(t1), "the pinged tick was not missed");
    // One alert for the episode: one delivery row, one POST.
    await waitFor(async () => {
      const rows = await sql(
        `SELECT status FROM ${s.schema}.deliveries WHERE job_id = 'hb'`,
      );
      return rows.length > 0 && rows.every((r) => r.status === "sent");
    }, { what: "the alert sent" });
    const deliveries = await sql(
      `SELECT event, run_id::float8 AS run_id FROM ${s.schema}.deliveries WHERE job_id = 'hb'`,
    );
    assertEquals(deliveries.length, 1);
    assertEquals(deliveries[0].event, "missed");
    assertEquals(Number(deliveries[0].run_id), Number(missed[0].id));
    assertEquals(posts.length, 1);
    assertEquals(posts[0].event, "missed");
  } finally {
    for (const n of nodes) await n.manager.shutdown({ graceMs: 1000 });
    await hook.close();
  }
  await s.drop();
});
