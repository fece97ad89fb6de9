/**
 * Job chains in the engine, on a real DuckDB file: a run's final outcome
 * starts the jobs of its `onSuccess` or `onFailure` (trigger "chain", the
 * parent's job and run on the new run), a failure that will be retried
 * starts nothing yet, a cycle or an unknown id is refused naming it, a job
 * others chain to cannot be deleted, a paused child does not run (the
 * trigger is consumed, saying why), the child's overlap rule holds, and a
 * trigger committed with its parent's finish is consumed exactly once
 * across restarts.
 */
import { assert, assertEquals, assertRejects } from "@std/assert";
import {
  createManager,
  JobproError,
  type Manager,
  openDuckDBStore,
  type RunView,
} from "@/lib/jobpro/mod.ts";
import { emptyBatch } from "@/lib/jobpro/store.ts";
import { endRun, newRun } from "@/lib/jobpro/run.ts";
import { tempDb, waitFor } from "../helpers.ts";
import { DuckDBInstance } from "@duckdb/node-api";

const noop = { type: "function", name: "noop" } as const;
/** Manual jobs (no schedule) that do not run when created. */
const manual = { autoStart: false } as const;
const fail = { type: "function", name: "fail" } as const;
const sleep = (ms: number) =>
  ({ type: "function", name: "sleep", params: { ms } }) as const;

async function open(path: string): Promise<Manager> {
  return await createManager({
    store: await openDuckDBStore(path),
    commitIntervalMs: 10,
    log: (l, m) => l === "error" && console.error(m),
  });
}

async function withManager(fn: (m: Manager) => Promise<void>) {
  const db = await tempDb();
  const manager = await open(db.path);
  try {
    await fn(manager);
  } finally {
    await manager.shutdown({ graceMs: 2000 });
    await db.cleanup();
  }
}

/** The job's runs, oldest first. */
async function runsOf(m: Manager, id: string): Promise<RunView[]> {
  return (await m.runs(id, { limit: 100 })).runs.reverse();
}

/** Waits for the job's runs to be `n`, all ended. */
async function ended(m: Manager, id: string, n: number): Promise<RunView[]> {
  return await waitFor(async () => {
    const runs = await runsOf(m, id);
    return runs.length === n && runs.every((r) => r.endedAt) && runs;
  }, { what: `${n} ended runs of ${id}` });
}

async function refused(
  call: () => Promise<unknown>,
  field: string,
  text: string,
) {
  const e = await assertRejects(async () => await call(), JobproError);
  const err = e as JobproError;
  assertEquals([err.code, err.field], ["invalid", field], err.message);
  assertEquals(err.message, `${field}: ${text}`);
}

Deno.test("chains: success runs onSuccess (trigger chain, parent recorded), failure after the last retry runs onFailure once", async () => {
  await withManager(async (m) => {
    await m.create({ id: "ok", name: "ok", action: noop, ...manual });
    await m.create({ id: "bad", name: "bad", action: noop, ...manual });
    const a = await m.create({
      id: "a",
      name: "a",
      // Scheduled (a year off), so that its failed runs are retried.
      schedule: "0 0 1 1 *",
      action: noop,
      onSuccess: ["ok"],
      onFailure: ["bad"],
    });
    assertEquals([a.onSuccess, a.onFailure], [["ok"], ["bad"]]);
    const parent = await m.runNow("a");
    const [child] = await ended(m, "ok", 1);
    assertEquals(child.trigger, "chain");
    assertEquals([child.parentJobId, child.parentRunId], ["a", parent.id]);
    assertEquals(child.status, "complete");
    assertEquals((await m.run("ok", child.id)).parentRunId, parent.id);
    // The parent's own runs carry no parent.
    const [p] = await ended(m, "a", 1);
    assertEquals([p.parentJobId, p.parentRunId], [null, null]);
    assertEquals(await runsOf(m, "bad"), []);

    // Two attempts: the first failure is retried, so only the last one counts.
    await m.update("a", { action: fail, retries: 1, retryDelayMs: 0 });
    const first = await m.runNow("a");
    const runs = await ended(m, "a", 3);
    assertEquals(runs.slice(1).map((r) => r.status), ["failed", "failed"]);
    const [bad] = await ended(m, "bad", 1);
    assertEquals(bad.parentJobId, "a");
    // The last attempt (the retry) is the parent, not the first one.
    assert(bad.parentRunId !== first.id, "not started by the retried attempt");
    assertEquals(bad.parentRunId, runs[2].id);
    assertEquals((await runsOf(m, "ok")).length, 1);
  });
});

Deno.test("chains: an unknown id, a self-reference or a cycle is refused naming it; nothing changes", async () => {
  await withManager(async (m) => {
    await m.create({ id: "a", name: "a", action: noop, ...manual });
    await m.create({
      id: "b",
      name: "b",
      action: noop,
      onSuccess: ["a"],
      ...manual,
    });
    await refused(
      () => m.create({ id: "x", name: "x", action: noop, onSuccess: ["zz"] }),
      "onSuccess",
      'no job "zz"',
    );
    assert(!m.list().jobs.some((j) => j.id === "x"), "x not created");
    await refused(
      () => m.update("a", { onFailure: ["a"] }),
      "onFailure",
      'job "a" cannot chain to itself (a -> a)',
    );
    await refused(
      () => m.update("a", { onSuccess: ["b"] }),
      "onSuccess",
      'job "b" leads back to "a" (a -> b -> a)',
    );
    // A longer one, through the other chain.
    await m.create({
      id: "c",
      name: "c",
      action: noop,
      onFailure: ["b"],
      ...manual,
    });
    await refused(
      () => m.update("a", { onSuccess: ["c"] }),
      "onSuccess",
      'job "c" leads back to "a" (a -> c -> b -> a)',
    );
    await refused(
      () => m.update("a", { onSuccess: ["c", "c"] }),
      "onSuccess.1",
      'names job "c" twice',
    );
    assertEquals(m.get("a").onSuccess, []);
    assertEquals(m.get("a").onFailure, []);
  });
});

Deno.test("chains: heartbeat jobs run nothing, so none is in a chain: as parent, as child, nor made one while chained to", async () => {
  await withManager(async (m) => {
    const heartbeat = { type: "heartbeat", graceMs: 60_000 } as const;
    const yearly = "0 0 1 1 *";
    await m.create({ id: "child", name: "child", action: noop, ...manual });
    await refused(
      () =>
        m.create({
          id: "hb",
          name: "hb",
          schedule: yearly,
          action: heartbeat,
          onSuccess: ["child"],
        }),
      "onSuccess",
      "a heartbeat job runs nothing; chains start from jobs that run",
    );
    await m.create({
      id: "hb",
      name: "hb",
      schedule: yearly,
      action: heartbeat,
    });
    await refused(
      () => m.update("hb", { onFailure: ["child"] }),
      "onFailure",
      "a heartbeat job runs nothing; chains start from jobs that run",
    );
    await refused(
      () =>
        m.create({
          id: "p",
          name: "p",
          action: noop,
          onSuccess: ["hb"],
          ...manual,
        }),
      "onSuccess",
      'job "hb" is a heartbeat job: it runs nothing',
    );
    await m.create({
      id: "p",
      name: "p",
      action: noop,
      onFailure: ["child"],
      ...manual,
    });
    await refused(
      () => m.update("p", { onFailure: ["child", "hb"] }),
      "onFailure",
      'job "hb" is a heartbeat job: it runs nothing',
    );
    // The child others chain to cannot become a heartbeat job.
    await refused(
      () => m.update("child", { schedule: yearly, action: heartbeat }),
      "action",
      'a heartbeat job runs nothing, and "p" (onFailure) chains to "child": remove it from their onSuccess/onFailure first',
    );
    assertEquals(m.get("child").action.type, "function");
    assertEquals(m.get("hb").onFailure, []);
    assertEquals(m.get("p").onFailure, ["child"]);
  });
});

Deno.test("chains: a job others chain to cannot be deleted (409 naming them) until they no longer do", async () => {
  await withManager(async (m) => {
    await m.create({ id: "b", name: "b", action: noop, ...manual });
    await m.create({
      id: "a",
      name: "a",
      action: noop,
      onSuccess: ["b"],
      ...manual,
    });
    await m.create({
      id: "c",
      name: "c",
      action: noop,
      onFailure: ["b"],
      ...manual,
    });
    const e = await assertRejects(() => m.delete("b"), JobproError);
    assertEquals((e as JobproError).code, "conflict");
    assertEquals(
      (e as JobproError).message,
      'job "b" cannot be deleted: "a" (onSuccess), "c" (onFailure) chain to it; remove it from their onSuccess/onFailure first',
    );
    assertEquals(m.get("b").id, "b");
    await m.update("a", { onSuccess: [] });
    await m.delete("c"); // a parent goes freely
    await m.delete("b");
    assertEquals(m.list().jobs.map((j) => j.id), ["a"]);
  });
});

Deno.test("chains: a paused child does not run (the trigger is consumed, noted); the child's overlap skip holds", async () => {
  const db = await tempDb();
  const m = await open(db.path);
  let closed = false;
  try {
    await m.create({ id: "b", name: "b", action: sleep(30_000), ...manual });
    await m.create({ id: "p", name: "p", schedule: "0 0 1 1 *", action: noop });
    await m.create({
      id: "a",
      name: "a",
      action: noop,
      onSuccess: ["p", "b"],
      ...manual,
    });
    await m.pause("p");
    // b is going (overlap skip): the trigger starts no second run of it.
    const going = await m.runNow("b");
    const parent = await m.runNow("a");
    await waitFor(() => m.get("b").skippedRuns === 1, {
      what: "the chain's run of b skipped",
    });
    await m.cancelRun("b", going.id, "test");
    assertEquals((await ended(m, "b", 1))[0].id, going.id);
    await m.shutdown({ graceMs: 2000 });
    closed = true;
    assertEquals(await triggerRows(db.path), [
      {
        parent_run_id: parent.id,
        job_id: "b",
        note: "skipped: a run of the job was still going (overlap skip)",
        run_id: null,
      },
      {
        parent_run_id: parent.id,
        job_id: "p",
        note: "skipped: the job is paused",
        run_id: null,
      },
    ]);
  } finally {
    if (!closed) await m.shutdown({ graceMs: 2000 });
    await db.cleanup();
  }
});

Deno.test("chains: a trigger committed with its parent's finish is consumed exactly once across restarts", async () => {
  const db = await tempDb();
  try {
    const m = await open(db.path);
    await m.create({ id: "child", name: "child", action: noop, ...manual });
    await m.create({
      id: "parent",
      ...manual,
      name: "parent",
      action: noop,
      onSuccess: ["child"],
    });
    await m.shutdown();
    // The parent's finish and its trigger, committed by a process that
    // stops before anything starts the child.
    let store = await openDuckDBStore(db.path);
    const now = Date.now();
    const run = endRun(
      newRun({
        id: 500,
        jobId: "parent",
        trigger: "manual",
        attempt: 1,
        scheduledFor: null,
        now,
      }),
      { status: "complete" },
      now,
    );
    const trigger = {
      parentRunId: 500,
      parentJobId: "parent",
      jobId: "child",
      on: "success" as const,
      createdAt: now,
    };
    await store.write({
      ...emptyBatch(),
      finished: [run],
      triggers: [trigger],
    });
    // Written twice (a batch retried): still one trigger.
    await store.write({ ...emptyBatch(), triggers: [trigger] });
    assertEquals(await store.pendingTriggers(), [trigger]);
    await store.close();

    const second = await open(db.path);
    const [child] = await ended(second, "child", 1);
    assertEquals(
      [child.trigger, child.parentJobId, child.parentRunId],
      ["chain", "parent", 500],
    );
    await second.shutdown();

    store = await openDuckDBStore(db.path);
    assertEquals(await store.pendingTriggers(), []);
    await store.close();
    assertEquals(await triggerRows(db.path), [
      { parent_run_id: 500, job_id: "child", note: null, run_id: child.id },
    ]);
    const third = await open(db.path);
    assertEquals((await runsOf(third, "child")).length, 1);
    await third.shutdown();
  } finally {
    await db.cleanup();
  }
});

/** The chain_triggers rows of a DuckDB file no process holds, consumed ones, by child. */
async function triggerRows(path: string) {
  const instance = await DuckDBInstance.create(path);
  const c = await instance.connect();
  try {
    const r = await c.runAndReadAll(
      `SELECT parent_run_id::DOUBLE AS parent_run_id, job_id, note,
        run_id::DOUBLE AS run_id FROM chain_triggers
      WHERE consumed_at IS NOT NULL ORDER BY parent_run_id, job_id`,
    );
    return r.getRowObjectsJS();
  } finally {
    c.closeSync();
    instance.closeSync();
  }
}
