/**
 * What the cluster tests (short_faults.ts) found, pinned down on the store
 * itself: a real PostgreSQL (tests/pg/server.ts, a schema per test), real
 * stores and memberships of lib/jobpro, nothing mocked.
 *
 * A node renews its lease by updating its row in `nodes`
 * (postgres_nodes.ts), on a connection of its own whose every query must
 * answer within a lease. Its fenced write transactions begin by checking
 * that row and locking it to their commit (postgres_cluster.ts
 * `leaseCheck`), a hand-off locks the row of the node it hands to
 * (`nodesOf`), and a reaper waits for an expired node's open transaction
 * (by design: a start committing then is seen). None of that may hold up a
 * renewal: a renewal that waits past the lease loses the lease. Found with
 * a 3 s partition of one node: its stalled transaction held the reapers of
 * both other nodes, whose own renewals then waited behind their reapers'
 * transactions, and all three nodes lost their leases at once (every
 * job's ticks missed). Each test holds one transaction open (the store's
 * `beforeCommit` hook) and renews while it is open: the renewal must
 * answer while the transaction is still held.
 */
import { assertEquals } from "@std/assert";
import { openPostgresStore } from "@/lib/jobpro/postgres_store.ts";
import {
  openPostgresMembership,
  type PostgresMembership,
} from "@/lib/jobpro/postgres_nodes.ts";
import { emptyBatch, type Store } from "@/lib/jobpro/store.ts";
import { waitFor } from "../helpers.ts";
import { query, sharedPostgres, testSchema } from "../pg/server.ts";
import { job } from "../jobpro/store_contract.ts";

await sharedPostgres().catch(() => {});

/** The default lease: the membership's every query must answer within it. */
const LEASE_MS = 1500;
type Schema = Awaited<ReturnType<typeof testSchema>>;

/** A transaction the test holds open just before its COMMIT. */
function gate() {
  let armed = false;
  const entered = Promise.withResolvers<void>();
  const release = Promise.withResolvers<void>();
  return {
    arm: () => (armed = true),
    entered: entered.promise,
    release: () => release.resolve(),
    hook: async () => {
      if (!armed) return;
      armed = false;
      entered.resolve();
      await release.promise;
    },
  };
}

interface Node {
  epoch: number;
  store: Store;
  members: PostgresMembership;
}

async function join(
  s: Schema,
  opened: (() => Promise<void>)[],
  name: string,
  leaseMs: number,
  beforeCommit?: () => Promise<void>,
): Promise<Node> {
  const store = await openPostgresStore(s.url, {
    schema: s.schema,
    beforeCommit,
  });
  // The membership a node runs with: every query within the default lease.
  const members = openPostgresMembership(s.url, {
    schema: s.schema,
    leaseMs: LEASE_MS,
  });
  opened.push(() => members.close(), () => store.close());
  const { epoch } = await members.join(name, leaseMs);
  store.cluster!.fence(epoch);
  return { epoch, store, members };
}

async function withSchema(
  fn: (s: Schema, opened: (() => Promise<void>)[]) => Promise<void>,
) {
  const s = await testSchema();
  const opened: (() => Promise<void>)[] = [];
  try {
    await fn(s, opened);
  } finally {
    for (const close of opened.reverse()) await close().catch(() => {});
    await s.drop();
  }
}

/** Renews, and says whether it answered while `held` was still pending. */
async function renewWhileHeld(
  n: Node,
  held: Promise<unknown>,
): Promise<{ renewed: boolean; whileHeld: boolean; error?: string }> {
  let settled = false;
  held.finally(() => (settled = true)).catch(() => {});
  try {
    const r = await n.members.renew(n.epoch, LEASE_MS);
    return { renewed: r.renewed, whileHeld: !settled };
  } catch (e) {
    return { renewed: false, whileHeld: !settled, error: (e as Error).message };
  }
}

Deno.test("lease lock: a node's renewal does not wait for its own fenced write transaction", async () => {
  await withSchema(async (s, opened) => {
    const g = gate();
    const a = await join(s, opened, "a", LEASE_MS, g.hook);
    g.arm();
    const write = a.store.write({ ...emptyBatch() });
    try {
      await g.entered; // the write checked its lease and is open
      const r = await renewWhileHeld(a, write);
      assertEquals(
        r,
        { renewed: true, whileHeld: true },
        "the renewal answered while the node's own write was open",
      );
    } finally {
      g.release();
      await write.catch(() => {});
    }
  });
});

Deno.test("lease lock: a node's renewal does not wait for a hand-off to it being committed", async () => {
  await withSchema(async (s, opened) => {
    const g = gate();
    const a = await join(s, opened, "a", LEASE_MS, g.hook);
    const b = await join(s, opened, "b", LEASE_MS);
    await a.store.write({
      ...emptyBatch(),
      puts: [{ job: job("x"), expected: null, owner: a.epoch }],
      events: [{ type: "job-update", jobId: "x" }],
    });
    g.arm();
    const move = a.store.cluster!.moveOwners([
      { jobId: "x", from: a.epoch, to: b.epoch },
    ]);
    try {
      await g.entered;
      const r = await renewWhileHeld(b, move);
      assertEquals(
        r,
        { renewed: true, whileHeld: true },
        "b's renewal answered while a's hand-off to b was open",
      );
    } finally {
      g.release();
      await move.catch(() => {});
    }
  });
});

Deno.test("lease lock: a reaper waiting for a cut-off node's open transaction does not hold up its own node's renewal", async () => {
  await withSchema(async (s, opened) => {
    const g = gate();
    // d: a short lease, and a write held open (as a partition holds it).
    const d = await join(s, opened, "d", 400, g.hook);
    const a = await join(s, opened, "a", 60_000);
    g.arm();
    const write = d.store.write({ ...emptyBatch() });
    try {
      await g.entered;
      await waitFor(async () =>
        (await query(
          s.url,
          `SELECT lease_until < clock_timestamp() AS x FROM ${s.schema}.nodes WHERE epoch = $1`,
          [d.epoch],
        )).rows[0].x, { what: "d's lease to expire" });
      const reap = a.store.cluster!.reap();
      reap.catch(() => {});
      // The reaper waits for d's row (by design: d's transaction may commit a start).
      await waitFor(async () =>
        (await query(
          s.url,
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE wait_event_type = 'Lock' AND query LIKE '%SET left_at%'`,
        )).rows[0].n === 1, { what: "the reaper to wait for d's row" });
      const r = await renewWhileHeld(a, write);
      assertEquals(
        r,
        { renewed: true, whileHeld: true },
        "a's renewal answered while a's reaper waited for d",
      );
      g.release();
      await write.catch(() => {});
      const reaped = await reap;
      assertEquals(
        reaped.epochs,
        [d.epoch],
        "d reaped once its transaction ended",
      );
    } finally {
      g.release();
      await write.catch(() => {});
    }
  });
});
