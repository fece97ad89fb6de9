/**
 * The single-node lock of the PostgreSQL store (`exclusive`), on a real
 * server (tests/pg/server.ts): a second holder is refused naming the first;
 * the lock's session ending is "not held" at once (writes refused) and the
 * lock is taken again; taken by another process, or the schema used by one,
 * meanwhile, it is lost for good; a frozen server is "not held" until the
 * same session answers again; the fence a transaction checks is false once
 * the session is gone.
 */
import { assert, assertEquals, assertRejects } from "@std/assert";
import { JobproError } from "@/lib/jobpro/errors.ts";
import { acquireDatabaseLock } from "@/lib/jobpro/postgres_lock.ts";
import {
  openPostgresStore,
  type PostgresStoreOptions,
} from "@/lib/jobpro/postgres_store.ts";
import { emptyBatch, type Store } from "@/lib/jobpro/store.ts";
import { waitFor } from "../helpers.ts";
import { connected, lockHolder, takeLock } from "../pg/lock.ts";
import {
  closeSharedPostgres,
  sharedPostgres,
  startPostgres,
  testSchema,
} from "../pg/server.ts";
import { job } from "./store_contract.ts";

// Started before any test (see postgres_store_test.ts); where none can be
// started each test fails saying why.
await sharedPostgres().catch(() => {});

const create = (store: Store, id: string) =>
  store.write({
    ...emptyBatch(),
    puts: [{ job: job(id), expected: null }],
    events: [{ type: "job-update", jobId: id }],
  });

const isUnavailable = (e: unknown) =>
  e instanceof JobproError && e.code === "unavailable";

const failure = (p: Promise<unknown>) => p.then(() => null, (e) => e);

type LockSettings = Exclude<
  NonNullable<PostgresStoreOptions["exclusive"]>,
  boolean
>;

/** The lock's settings for a test: no wait at open, a fast heartbeat. */
function exclusive(lock: LockSettings = {}): LockSettings {
  return { waitMs: 0, heartbeatMs: 100, ...lock };
}

/**
 * An exclusive store on a schema of its own whose lock is taken again only
 * once the test opens the gate, and an operator's connection to cut its
 * lock's session with.
 */
async function gatedStore() {
  const s = await testSchema();
  let open!: () => void;
  const opened = new Promise<void>((r) => open = r);
  let reached = 0;
  const store = await openPostgresStore(s.url, {
    schema: s.schema,
    exclusive: exclusive({ beforeRelock: () => (reached++, opened) }),
    onConnectionError: () => {},
  });
  const admin = await connected(s.url);
  return {
    s,
    store,
    admin,
    hold: store.hold!,
    open,
    /** Ends the lock's session and waits until its re-taking waits at the gate. */
    async cut(): Promise<number> {
      const pid = await lockHolder(admin, s.schema);
      await admin.query("SELECT pg_terminate_backend($1)", [pid]);
      await waitFor(() => reached === 1, { what: "the re-taking" });
      return pid;
    },
    async [Symbol.asyncDispose]() {
      open();
      await admin.end();
      await store.close();
      await s.drop();
    },
  };
}

Deno.test("postgres lock: a second exclusive open of a schema is refused naming the first; another schema, a shared open, and an open after close are not", async () => {
  const s = await testSchema();
  const other = await testSchema();
  const first = await openPostgresStore(s.url, {
    schema: s.schema,
    exclusive: exclusive(),
  });
  try {
    assertEquals([first.hold?.held, first.hold?.lost], [true, false]);
    const e = await assertRejects(
      () =>
        openPostgresStore(s.url, { schema: s.schema, exclusive: exclusive() }),
      JobproError,
      `another jobpro is using schema "${s.schema}"`,
    );
    assertEquals((e as JobproError).code, "unavailable");
    assert(
      e.message.includes(`jobpro pid ${Deno.pid}`),
      `names the holder: ${e.message}`,
    );
    assert(e.message.includes("JOBPRO_PG_SCHEMA"), e.message);
    // The refused open touched nothing: the first still writes.
    assertEquals((await create(first, "a")).puts, [true]);
    const elsewhere = await openPostgresStore(other.url, {
      schema: other.schema,
      exclusive: exclusive(),
    });
    await elsewhere.close();
    const shared = await openPostgresStore(s.url, { schema: s.schema });
    assertEquals(shared.hold, undefined, "a shared store has no hold");
    await shared.close();
  } finally {
    await first.close();
  }
  const again = await openPostgresStore(s.url, {
    schema: s.schema,
    exclusive: exclusive(),
  });
  assertEquals((await again.loadJobs()).map((j) => j.job.id), ["a"]);
  await again.close();
  await s.drop();
  await other.drop();
});

Deno.test("postgres lock: its session ended, the lock is not held at once (writes refused, reads go on) and is taken again", async () => {
  await using g = await gatedStore();
  const told: boolean[] = [];
  g.hold.watch(() => told.push(g.hold.held));
  await create(g.store, "a");
  const pid = await g.cut();
  assertEquals([g.hold.held, g.hold.lost], [false, false]);
  assert(
    g.hold.reason?.includes("the database lock is not held: its connection"),
    String(g.hold.reason),
  );
  assert(isUnavailable(await failure(create(g.store, "b"))));
  assert(isUnavailable(await failure(g.store.probe())));
  assertEquals((await g.store.loadJobs()).length, 1, "reads go on");
  g.open();
  await waitFor(() => g.hold.held, { what: "the lock held again" });
  assertEquals(told, [false, true]);
  assert((await lockHolder(g.admin, g.s.schema)) !== pid, "a new session");
  assertEquals((await create(g.store, "b")).puts, [true]);
});

Deno.test("postgres lock: taken by another process while its session was gone, it is lost for good", async () => {
  await using g = await gatedStore();
  const thief = await connected(g.s.url);
  try {
    const stolen = takeLock(thief, g.s.schema); // queued before the cut
    await g.cut();
    await stolen;
    g.open();
    await waitFor(() => g.hold.lost, { what: "the lock lost" });
    assertEquals(g.hold.held, false);
    assert(
      g.hold.reason?.includes("another jobpro took the database lock"),
      String(g.hold.reason),
    );
    assert(isUnavailable(await failure(create(g.store, "a"))));
  } finally {
    await thief.end();
  }
});

Deno.test("postgres lock: the schema written by another process while the session was gone (the lock free again), it is lost for good", async () => {
  await using g = await gatedStore();
  await create(g.store, "a");
  await g.cut();
  // Another jobpro came and went meanwhile.
  const intruder = await openPostgresStore(g.s.url, {
    schema: g.s.schema,
    exclusive: exclusive(),
  });
  await create(intruder, "b");
  await intruder.close();
  g.open();
  await waitFor(() => g.hold.lost, { what: "the lock lost" });
  assert(
    g.hold.reason?.includes(`another jobpro used schema "${g.s.schema}"`),
    String(g.hold.reason),
  );
  // It let go of the lock: a new process may take over.
  const next = await openPostgresStore(g.s.url, {
    schema: g.s.schema,
    exclusive: exclusive(),
  });
  assertEquals((await next.loadJobs()).map((j) => j.job.id), ["a", "b"]);
  await next.close();
});

Deno.test("postgres lock: the fence a write transaction checks is false once the lock's session is gone", async () => {
  const s = await testSchema();
  const lock = await acquireDatabaseLock(s.url, {
    schema: s.schema,
    heartbeatMs: 60_000,
  });
  const admin = await connected(s.url);
  try {
    const fence = lock.fence(); // as a transaction begun now would check it
    const check = async () =>
      (await admin.query(`SELECT ${fence} AS held`)).rows[0].held;
    assertEquals(await check(), true);
    await admin.query("SELECT pg_terminate_backend($1)", [
      await lockHolder(admin, s.schema),
    ]);
    await waitFor(async () => await check() === false, {
      what: "the fence to fail",
    });
  } finally {
    await admin.end();
    await lock.close();
    await s.drop();
  }
});

Deno.test({
  name:
    "postgres lock: a frozen server makes the lock unproven (not held) until the same session answers, with no new session",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const server = await startPostgres();
    const store = await openPostgresStore(server.url(), {
      exclusive: exclusive({ heartbeatTimeoutMs: 300 }),
      queryTimeoutMs: 2_000,
      onConnectionError: () => {},
    });
    try {
      const admin = await connected(server.url());
      const pid = await lockHolder(admin, "jobpro");
      await admin.end();
      await server.pause();
      await waitFor(() => !store.hold!.held, { what: "the lock unproven" });
      assert(
        store.hold!.reason?.includes("has not answered"),
        String(store.hold!.reason),
      );
      await server.resume();
      await waitFor(() => store.hold!.held, { what: "the lock proven again" });
      const after = await connected(server.url());
      assertEquals(await lockHolder(after, "jobpro"), pid, "the same session");
      await after.end();
    } finally {
      await server.resume().catch(() => {});
      await store.close();
      await server.close();
    }
  },
});

Deno.test("postgres lock: the shared server stops", async () => {
  await closeSharedPostgres();
});
