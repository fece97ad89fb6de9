/**
 * Concurrency limits on a cluster: two nodes on one PostgreSQL schema (a
 * real server, tests/pg/server.ts) share a key's limit of 1. Every run is an
 * http action against a real local server that counts the requests it
 * holds at once: it never holds two, whichever node started them. A dead
 * node's queued run is not lost: the node that takes its job over runs it.
 */
import { assert, assertEquals } from "@std/assert";
import { createManager, type Manager } from "@/lib/jobpro/manager.ts";
import { NodeLease } from "@/lib/jobpro/lease.ts";
import { openPostgresMembership } from "@/lib/jobpro/postgres_nodes.ts";
import { openPostgresStore } from "@/lib/jobpro/postgres_store.ts";
import { localServer, waitFor } from "../helpers.ts";
import { query, sharedPostgres, testSchema } from "../pg/server.ts";

// Started before any test, so that no test's sanitizers count it as theirs.
await sharedPostgres().catch(() => {});

const LEASE_MS = 600;

interface Node {
  name: string;
  manager: Manager;
  lease: NodeLease;
  /** Cuts the node off from the database (its connections end, for good). */
  cut(): Promise<void>;
}

type Store = Awaited<ReturnType<typeof openPostgresStore>>;

async function startNode(
  url: string,
  schema: string,
  name: string,
  wrap?: (store: Store) => void,
) {
  const store = await openPostgresStore(url, { schema, leaseMs: LEASE_MS });
  wrap?.(store);
  const membership = openPostgresMembership(url, { schema, leaseMs: LEASE_MS });
  const lease = new NodeLease(membership, { name, leaseMs: LEASE_MS });
  const manager = await createManager({
    store,
    lease,
    commitIntervalMs: 20,
    concurrency: { backups: 1 }, // the environment's default, on each node
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

/**
 * The target: holds each request until the test releases it (by the job
 * it names) or, with `auto`, for a moment; counts how many it holds at once.
 */
function target() {
  let holding = 0;
  let most = 0;
  const seen: string[] = [];
  const waiting = new Map<string, () => void>();
  const server = localServer(async (req) => {
    const u = new URL(req.url);
    const job = u.searchParams.get("job")!;
    holding++;
    most = Math.max(most, holding);
    seen.push(job);
    await new Promise<void>((resolve) => {
      if (u.searchParams.has("auto")) setTimeout(resolve, 80);
      else waiting.set(job, resolve);
    });
    holding--;
    return new Response(`done ${job}`);
  });
  return {
    ...server,
    seen,
    get most() {
      return most;
    },
    release(job: string) {
      const r = waiting.get(job);
      assert(r, `${job} is not held`);
      waiting.delete(job);
      r();
    },
  };
}

async function ownerOf(url: string, schema: string, id: string) {
  const { rows } = await query(
    url,
    `SELECT owner_epoch::float8 AS owner FROM ${schema}.jobs WHERE id = $1`,
    [id],
  );
  return rows[0]?.owner as number | null | undefined;
}

const job = (id: string, url: string) => ({
  id,
  name: id,
  schedule: "",
  autoStart: false,
  concurrencyKey: "backups",
  action: { type: "http", url: `${url}/?job=${id}` },
});

Deno.test("cluster concurrency: two nodes never run more than a key's limit between them; every run waits its turn and runs", async () => {
  const s = await testSchema();
  const t = target();
  const a = await startNode(s.url, s.schema, "a");
  const b = await startNode(s.url, s.schema, "b");
  try {
    await waitFor(
      () => a.lease.live().length === 2 && b.lease.live().length === 2,
      { what: "both nodes live" },
    );
    const ids = ["k1", "k2", "k3", "k4", "k5", "k6"];
    for (const id of ids) {
      await a.manager.create({
        ...job(id, t.url + "/"),
        action: { type: "http", url: `${t.url}/?auto&job=${id}` },
      });
    }
    await waitFor(() =>
      ids.every((id) => b.manager.size === ids.length && b.manager.get(id))
    );
    // Asked of both nodes at once: each node queues the runs it was asked for.
    const runs = await Promise.all(
      ids.map((id, i) => (i % 2 ? b : a).manager.runNow(id)),
    );
    assert(
      runs.every((r) => r.status === "queued"),
      "a key with a limit starts through the store",
    );
    const done = await waitFor(async () => {
      const all = await Promise.all(
        ids.map(async (id) => (await a.manager.runs(id)).runs[0]),
      );
      return all.every((r) => r?.status === "complete") && all;
    }, { what: "every run complete", timeoutMs: 20_000 });
    assertEquals(t.seen.length, ids.length);
    assertEquals(t.most, 1, "the target never held two requests at once");
    // Each ran on its job's owner, whichever node was asked.
    const names = new Map<number | null, string>([
      [a.lease.epoch, "a"],
      [b.lease.epoch, "b"],
    ]);
    for (const [i, id] of ids.entries()) {
      const owner = await ownerOf(s.url, s.schema, id);
      assertEquals(done[i].node, names.get(owner ?? null), id);
    }
    const usage = await a.manager.concurrency();
    assertEquals(usage.keys, [{
      key: "backups",
      limit: 1,
      running: 0,
      queued: 0,
    }]);
  } finally {
    await a.manager.shutdown({ graceMs: 1000 });
    await b.manager.shutdown({ graceMs: 1000 });
    await t.close();
  }
});

Deno.test("cluster concurrency: a dead node's queued run is taken over by its job's new owner, and runs there", async () => {
  const s = await testSchema();
  const t = target();
  const a = await startNode(s.url, s.schema, "a");
  const b = await startNode(s.url, s.schema, "b");
  let aAlive = true;
  try {
    await waitFor(
      () => a.lease.live().length === 2 && b.lease.live().length === 2,
      { what: "both nodes live" },
    );
    // Jobs until each node owns one: "hold" runs on b, "wait" is queued on a.
    let onA: string | null = null, onB: string | null = null;
    for (let i = 0; !(onA && onB) && i < 40; i++) {
      const id = `j${i}`;
      await a.manager.create(job(id, t.url));
      const owner = await waitFor(() => ownerOf(s.url, s.schema, id));
      if (owner === a.lease.epoch) onA ??= id;
      else onB ??= id;
    }
    assert(onA && onB, "each node owns a job");
    await waitFor(() => b.manager.size === a.manager.size);
    await b.manager.runNow(onB);
    await waitFor(() => t.seen.includes(onB!), {
      what: "b's run at the target",
    });
    const queued = await a.manager.runNow(onA);
    assertEquals(queued.status, "queued");
    // a dies: its lease runs out, b reaps it and takes its job over.
    await a.cut();
    aAlive = false;
    await waitFor(() => b.lease.live().length === 1, {
      what: "a gone",
      timeoutMs: 10_000,
    });
    await waitFor(
      async () => await ownerOf(s.url, s.schema, onA!) === b.lease.epoch,
      {
        what: "b owns a's job",
      },
    );
    const still = await b.manager.run(onA, queued.id);
    assertEquals(still.status, "queued"); // not interrupted
    t.release(onB);
    await waitFor(() => t.seen.includes(onA!), {
      what: "the queued run at the target",
    });
    t.release(onA);
    const ended = await waitFor(async () => {
      const r = await b.manager.run(onA!, queued.id);
      return r.status !== "running" && r.status !== "queued" && r;
    });
    assertEquals(ended.status, "complete");
    assertEquals(ended.node, "b");
    assertEquals(t.most, 1);
  } finally {
    if (aAlive) await a.manager.shutdown({ graceMs: 0 });
    else await a.manager.shutdown({ graceMs: 0 }).catch(() => {});
    await b.manager.shutdown({ graceMs: 1000 });
    await t.close();
  }
});

Deno.test("cluster concurrency: a queued run cancelled on the node that does not own its job ends cancelled, never run", async () => {
  const s = await testSchema();
  const t = target();
  const a = await startNode(s.url, s.schema, "a");
  const b = await startNode(s.url, s.schema, "b");
  try {
    await waitFor(
      () => a.lease.live().length === 2 && b.lease.live().length === 2,
      { what: "both nodes live" },
    );
    const byOwner = new Map<number, string>();
    for (let i = 0; byOwner.size < 2 && i < 40; i++) {
      const id = `c${i}`;
      await a.manager.create(job(id, t.url));
      const owner = await waitFor(() => ownerOf(s.url, s.schema, id));
      if (!byOwner.has(owner)) byOwner.set(owner, id);
    }
    const hold = byOwner.get(a.lease.epoch!)!;
    const waits = byOwner.get(b.lease.epoch!)!;
    await waitFor(() => b.manager.size === a.manager.size);
    await a.manager.runNow(hold);
    await waitFor(() => t.seen.includes(hold), { what: "the holder running" });
    // Asked of a, which does not own it: b, its owner, holds it queued.
    const queued = await a.manager.runNow(waits);
    assertEquals(queued.status, "queued");
    await waitFor(() => b.manager.get(waits).queuedRuns === 1, {
      what: "b holds it",
    });
    const { run, ended } = await a.manager.cancelRun(waits, queued.id, "api");
    assert(ended);
    assertEquals([run.status, run.error], ["cancelled", "cancelled by api"]);
    await waitFor(() => b.manager.get(waits).queuedRuns === 0);
    t.release(hold);
    await waitFor(async () =>
      (await a.manager.runs(hold)).runs[0].status === "complete"
    );
    assertEquals(t.seen, [hold], "the cancelled run never ran");
    assertEquals((await b.manager.concurrency()).keys[0].queued, 0);
  } finally {
    await a.manager.shutdown({ graceMs: 1000 });
    await b.manager.shutdown({ graceMs: 1000 });
    await t.close();
  }
});

Deno.test("cluster concurrency: a queued run whose start is committed while its job would be handed off runs, on the node that started it", async () => {
  const s = await testSchema();
  const t = target();
  // Once armed, a's answers to startQueued are held after their commit
  // (a slow network, a pause) until the test lets them through.
  let armed = false;
  let committed = false;
  let asked = 0; // the most runs one start asked for and was refused
  let letThrough!: () => void;
  const gate = new Promise<void>((r) => (letThrough = r));
  const a = await startNode(s.url, s.schema, "a", (store) => {
    const startQueued = store.startQueued.bind(store);
    store.startQueued = async (runs) => {
      const answer = await startQueued(runs);
      if (!answer.started.some(Boolean)) asked = Math.max(asked, runs.length);
      if (armed && answer.started.some(Boolean)) {
        committed = true;
        await gate;
      }
      return answer;
    };
  });
  let b: Node | null = null;
  try {
    await waitFor(() => a.lease.live().length === 1, { what: "a live" });
    await a.manager.create(job("hold", t.url));
    const ids = Array.from({ length: 10 }, (_, i) => `q${i}`);
    const idle = Array.from({ length: 10 }, (_, i) => `idle${i}`);
    for (const id of [...ids, ...idle]) {
      await a.manager.create({
        ...job(id, t.url),
        action: { type: "http", url: `${t.url}/?auto&job=${id}` },
      });
    }
    await a.manager.runNow("hold"); // takes the key's only slot
    await waitFor(() => t.seen.includes("hold"), { what: "hold running" });
    for (const id of ids) {
      assertEquals((await a.manager.runNow(id)).status, "queued");
    }
    // Every pass from now on asks for all ten at once (and the store
    // starts all or none: one limit read per start).
    await waitFor(() => asked === ids.length, { what: "all ten refused" });
    // Room for all: one start of the ten, committed, its answer held.
    armed = true;
    await a.manager.setConcurrency({ limits: { backups: 20 } });
    await waitFor(() => committed, { what: "the start committed" });
    // b joins: a's next rebalance hands b its share of the jobs (an idle
    // one moving says that pass has looked at every job).
    b = await startNode(s.url, s.schema, "b");
    await waitFor(
      () => a.lease.live().length === 2 && b!.lease.live().length === 2,
      { what: "both nodes live" },
    );
    await waitFor(async () => {
      for (const id of idle) {
        if (await ownerOf(s.url, s.schema, id) === b!.lease.epoch) return true;
      }
      return false;
    }, { what: "a handed b a job", timeoutMs: 10_000 });
    letThrough();
    t.release("hold");
    const done = await waitFor(async () => {
      const all = await Promise.all(
        ids.map(async (id) => (await a.manager.runs(id)).runs[0]),
      );
      return all.every((r) => r?.status === "complete") && all;
    }, { what: "every started run complete", timeoutMs: 20_000 });
    assert(done.every((r) => r.node === "a"), "each ran where it started");
    for (const id of ids) {
      assertEquals(t.seen.filter((j) => j === id).length, 1, id);
    }
  } finally {
    letThrough();
    await a.manager.shutdown({ graceMs: 1000 });
    await b?.manager.shutdown({ graceMs: 1000 });
    await t.close();
  }
});
