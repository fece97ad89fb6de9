/**
 * The node lease on a real PostgreSQL (tests/pg/server.ts): epochs never
 * reused, renewals that keep a lease and list the live members, a lease
 * that ends the moment it cannot be proven (the database frozen past it),
 * an expired lease never revived, and a rejoin under a new epoch.
 */
import { assert, assertEquals, assertRejects } from "@std/assert";
import { NodeLease } from "@/lib/jobpro/lease.ts";
import { openPostgresMembership } from "@/lib/jobpro/postgres_nodes.ts";
import { openPostgresStore } from "@/lib/jobpro/postgres_store.ts";
import { waitFor } from "../helpers.ts";
import {
  closeSharedPostgres,
  sharedPostgres,
  startPostgres,
  testSchema,
} from "../pg/server.ts";

// Started before any test, so that no test's sanitizers count it as theirs;
// where none can be started, each test fails with the reason.
await sharedPostgres().catch(() => {});

/** A migrated schema of its own, with membership on it. */
async function members(leaseMs: number, url?: string) {
  const s = url ? null : await testSchema();
  const target = url ?? s!.url;
  const schema = s?.schema ?? "jobpro";
  await (await openPostgresStore(target, { schema })).close();
  const m = openPostgresMembership(target, { schema, leaseMs });
  return {
    m,
    async close() {
      await m.close();
      await s?.drop();
    },
  };
}

Deno.test("lease: each join gets a new epoch; renewals keep it and list who is live", async () => {
  const { m, close } = await members(600);
  const a = new NodeLease(m, { name: "a", leaseMs: 600 });
  const b = new NodeLease(m, { name: "b", leaseMs: 600 });
  try {
    await a.start();
    await b.start();
    assert(b.epoch > a.epoch, `epochs ${a.epoch} then ${b.epoch}`);
    await waitFor(() => a.live().length === 2, { what: "both live for a" });
    const joined = performance.now();
    // Held across several lease lengths by renewals alone.
    await waitFor(() => performance.now() - joined > 2000, {
      timeoutMs: 5000,
    });
    assert(a.valid() && b.valid(), "still held");
    assertEquals(a.live().map((n) => n.name), ["a", "b"]);
    assert(Math.abs(a.dbNow() - Date.now()) < 1000, "one host: tiny skew");
    await b.stop();
    await waitFor(() => a.live().length === 1, { what: "b gone for a" });
    assertEquals(b.state, "left");
  } finally {
    await a.stop();
    await b.stop();
    await close();
  }
});

Deno.test("lease: an ended lease is never renewed, so an old epoch can never act again", async () => {
  const { m, close } = await members(100);
  try {
    const { epoch } = await m.join("old", 100);
    const watcher = await m.join("watcher", 60_000);
    // Watched without renewing it: it ends by itself.
    await waitFor(
      async () =>
        !(await m.renew(watcher.epoch, 60_000)).live.some((n) =>
          n.epoch === epoch
        ),
      { what: "the lease to end" },
    );
    const later = await m.renew(epoch, 60_000);
    assertEquals(later.renewed, false);
    assertEquals(later.live.some((n) => n.epoch === epoch), false);
    const { epoch: next } = await m.join("old", 100);
    assert(next > epoch);
  } finally {
    await close();
  }
});

Deno.test("lease: a lease not proven on the monotonic clock is not valid, before any timer fires", async () => {
  const { m, close } = await members(1500);
  let skip = 0;
  const lease = new NodeLease(m, {
    name: "paused",
    leaseMs: 1500,
    monotonic: () => performance.now() + skip,
  });
  const lost: number[] = [];
  lease.onLost = (e) => lost.push(e);
  try {
    await lease.start();
    assert(lease.valid());
    // As if the process had been stopped for two leases: no renewal ran.
    skip = 3000;
    assertEquals(lease.valid(), false);
    assertEquals(lease.remainingMs(), 0);
  } finally {
    await lease.stop();
    await close();
  }
});

Deno.test("lease: an expiry timer that fires before the monotonic clock reaches its deadline waits again, then loses the lease", async () => {
  const { m, close } = await members(600);
  // The clock stands still for a while, as a timer may fire a little early.
  let frozen: number | null = null;
  const lease = new NodeLease(m, {
    name: "early",
    leaseMs: 600,
    monotonic: () => frozen ?? performance.now(),
  });
  const lost: number[] = [];
  lease.onLost = (e) => lost.push(e);
  try {
    await lease.start();
    await m.close(); // renewals fail from here: nothing proves the lease again
    frozen = performance.now();
    await waitFor(() => performance.now() > frozen! + 700, {
      what: "the expiry timer to have fired",
    });
    assertEquals(lease.state, "held", "still proven by the frozen clock");
    frozen = null;
    await waitFor(() => lost.length === 1, { what: "the lease lost" });
    assertEquals(lease.valid(), false);
  } finally {
    await lease.stop();
    await close();
  }
});

Deno.test("lease: the database frozen past the lease loses it on time; it rejoins under a new epoch", async () => {
  const server = await startPostgres();
  const { m, close } = await members(600, server.url());
  const log: string[] = [];
  const lease = new NodeLease(m, {
    name: "cut-off",
    leaseMs: 600,
    log: (_, msg) => log.push(msg),
  });
  const lost: number[] = [];
  const joined: number[] = [];
  lease.onLost = (e) => lost.push(e);
  lease.onJoined = (e) => joined.push(e);
  try {
    await lease.start();
    const first = lease.epoch;
    await server.pause();
    // No timer decides it late: the proof simply runs out.
    await waitFor(() => lost.length === 1, { what: "the lease lost" });
    assertEquals(lease.valid(), false);
    await server.resume();
    await waitFor(() => lease.valid(), { timeoutMs: 10_000, what: "rejoin" });
    assert(lease.epoch > first, `new epoch ${lease.epoch} after ${first}`);
    assertEquals(joined, [first, lease.epoch]);
    assertEquals(lost, [first]);
    // The old epoch is over in the database too.
    assertEquals((await m.renew(first, 600)).renewed, false);
  } finally {
    await lease.stop();
    await close();
    await server.close();
  }
});

Deno.test("lease: a lease shorter than 60 ms is refused by name", async () => {
  const { m, close } = await members(600);
  try {
    await assertRejects(
      () =>
        Promise.resolve().then(() =>
          new NodeLease(m, { name: "x", leaseMs: 10 })
        ),
      RangeError,
      "leaseMs: must be at least 60, got 10",
    );
  } finally {
    await close();
  }
});

Deno.test({
  name: "lease: the shared server stops",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => closeSharedPostgres(),
});
