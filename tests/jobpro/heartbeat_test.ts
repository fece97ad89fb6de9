/**
 * Heartbeat jobs on a real DuckDB file, with the real clock: a ping in
 * time makes its tick's check pass, no ping records one failed run
 * "missed heartbeat" after the grace, start/fail/success pings pair up,
 * an overdue start fails, a missed episode alerts once per rule, and a
 * check due while the process was down is recorded once after a restart.
 */
import { assert, assertEquals, assertMatch, assertRejects } from "@std/assert";
import {
  createManager,
  JobproError,
  type Manager,
  openDuckDBStore,
} from "@/lib/jobpro/mod.ts";
import type { RunView } from "@/lib/jobpro/run.ts";
import { MISSED_HEARTBEAT } from "@/lib/jobpro/heartbeat.ts";
import { tempDb, waitFor } from "../helpers.ts";

const YEARLY = "0 0 1 1 *";

async function open(path: string): Promise<Manager> {
  return await createManager({
    store: await openDuckDBStore(path),
    commitIntervalMs: 10,
    notify: { pollMs: 60_000 },
    log: (l, m) => l === "error" && console.error(m),
  });
}

async function allRuns(m: Manager, id: string): Promise<RunView[]> {
  return (await m.runs(id, { limit: 1000 })).runs;
}

const missed = (runs: RunView[]) =>
  runs.filter((r) => r.error === MISSED_HEARTBEAT);

/** The job's missed runs, oldest first, once there is one (false before). */
async function someMissed(m: Manager, id: string) {
  const found = missed(await allRuns(m, id)).reverse();
  return found.length > 0 && found;
}

Deno.test("heartbeat: a ping in time passes its tick's check; the next tick without one is a missed heartbeat", async () => {
  const db = await tempDb();
  const m = await open(db.path);
  try {
    // Ticks every second, a grace of a second: a ping now is within the
    // grace of the first tick (the next whole second), not of the second.
    const job = await m.create({
      id: "hb",
      name: "Backup elsewhere",
      schedule: "* * * * * *",
      action: { type: "heartbeat", graceMs: 1000 },
    });
    assertEquals(job.status, "scheduled");
    const t1 = Date.parse(job.nextRunAt!);
    const ping = await m.ping("hb", "success", null);
    assertEquals(ping.status, "complete");
    assertEquals(ping.trigger, "ping");
    assertEquals(await m.lastPing("hb"), ping.startedAt);
    // The first tick's check is done (its claim moved on) and passed...
    await waitFor(() => Date.parse(m.get("hb").nextRunAt!) > t1, {
      what: "the first check",
    });
    // ...the second's fails.
    const [miss] = await waitFor(() => someMissed(m, "hb"), {
      what: "a missed heartbeat",
    });
    assertEquals(miss.status, "failed");
    assertEquals(miss.trigger, "schedule");
    assertEquals(Date.parse(miss.scheduledFor!), t1 + 1000);
    const runs = await allRuns(m, "hb");
    assert(!runs.some((r) => r.scheduledFor === job.nextRunAt));
    assertEquals(runs.filter((r) => r.trigger === "ping").length, 1);
    // A heartbeat job runs nothing of its own.
    const err = await assertRejects(() => m.runNow("hb"), JobproError);
    assertEquals(err.code, "conflict");
  } finally {
    await m.shutdown({ graceMs: 500 });
    await db.cleanup();
  }
});

Deno.test("heartbeat: start and fail pings make one failed run with the body as output; start then success one complete run; an overdue start fails", async () => {
  const db = await tempDb();
  const m = await open(db.path);
  try {
    await m.create({
      id: "ext",
      name: "External",
      schedule: YEARLY,
      timeoutMs: 300,
      action: { type: "heartbeat", graceMs: 60_000 },
    });
    const started = await m.ping("ext", "start", null);
    assertEquals(started.status, "running");
    assertEquals((await m.run("ext", started.id)).status, "running");
    const failed = await m.ping("ext", "fail", "disk full\nat /var/backups");
    assertEquals(failed.id, started.id);
    assertEquals(failed.status, "failed");
    assertMatch(failed.error!, /disk full$/);
    assertEquals(
      (await m.run("ext", failed.id)).output,
      "disk full\nat /var/backups",
    );
    const again = await m.ping("ext", "start", null);
    const done = await m.ping("ext", "success", "ok");
    assertEquals(done.id, again.id);
    assertEquals(done.status, "complete");
    // A fail ping with no start: a failed run of its own.
    const alone = await m.ping("ext", "fail", null);
    assert(alone.id !== done.id);
    assertEquals(alone.error, "failure reported by ping");
    // A start with no finish ping within the timeout (300 ms) fails.
    const lost = await m.ping("ext", "start", null);
    const ended = await waitFor(async () => {
      const r = await m.run("ext", lost.id);
      return r.status === "failed" && r;
    }, { what: "the overdue start to fail" });
    assertEquals(ended.error, "no finish ping within 300 ms of its start");
    assertEquals(m.get("ext").runCount, 4);
    // Not a heartbeat job: a conflict.
    await m.create({
      id: "plain",
      name: "Plain",
      schedule: "",
      autoStart: false,
      action: { type: "function", name: "noop" },
    });
    const err = await assertRejects(
      () => m.ping("plain", "success", null),
      JobproError,
    );
    assertEquals(err.code, "conflict");
  } finally {
    await m.shutdown({ graceMs: 500 });
    await db.cleanup();
  }
});

Deno.test("heartbeat: pings move the job's last success and failure times, as any run's end does", async () => {
  const db = await tempDb();
  const m = await open(db.path);
  try {
    await m.create({
      id: "hb",
      name: "hb",
      schedule: YEARLY,
      action: { type: "heartbeat", graceMs: 60_000 },
    });
    assertEquals(m.get("hb").lastSuccessAt, null);
    const ok = await m.ping("hb", "success", null);
    assertEquals(m.get("hb").lastSuccessAt, ok.endedAt);
    assertEquals(m.get("hb").lastFailureAt, null);
    const bad = await m.ping("hb", "fail", "boom");
    assertEquals(m.get("hb").lastFailureAt, bad.endedAt);
    assertEquals(m.get("hb").lastSuccessAt, ok.endedAt);
  } finally {
    await m.shutdown({ graceMs: 500 });
    await db.cleanup();
  }
});

Deno.test("heartbeat: a change that takes the job off heartbeat ends its ping-started runs at once (update and apply); a restart finds none going", async () => {
  const db = await tempDb();
  let m = await open(db.path);
  try {
    // A timeout far off: only the change can end the starts in time.
    for (const id of ["upd", "app"]) {
      await m.create({
        id,
        name: id,
        schedule: YEARLY,
        timeoutMs: 3_600_000,
        action: { type: "heartbeat", graceMs: 60_000 },
      });
    }
    const upd = await m.ping("upd", "start", null);
    const app = await m.ping("app", "start", null);
    const noop = { type: "function", name: "noop" } as const;
    await m.update("upd", { action: noop });
    await m.apply({
      jobs: [{
        id: "app",
        name: "app",
        schedule: YEARLY,
        action: noop,
      }],
    }, {});
    for (const [id, run] of [["upd", upd], ["app", app]] as const) {
      const ended = await waitFor(async () => {
        const r = await m.run(id, run.id);
        return r.status !== "running" && r;
      }, { what: `the start of ${id} to end` });
      assertEquals(ended.status, "failed");
      assertEquals(
        ended.error,
        "no finish ping: the job is no longer a heartbeat job",
      );
    }
    assertEquals(m.get("upd").runCount, 1);
    await m.shutdown({ graceMs: 500 });
    m = await open(db.path);
    for (const id of ["upd", "app"]) {
      assertEquals((await m.runs(id, { status: "running" })).total, 0);
    }
  } finally {
    await m.shutdown({ graceMs: 500 });
    await db.cleanup();
  }
});

Deno.test("heartbeat: a missed episode alerts once per rule ('missed' over 'failure'), however many ticks it misses", async () => {
  const db = await tempDb();
  const m = await open(db.path);
  try {
    await m.create({
      id: "quiet",
      name: "Quiet",
      schedule: "* * * * * *",
      action: { type: "heartbeat", graceMs: 100 },
      notify: [
        {
          on: ["failure", "missed"],
          target: { webhook: "http://127.0.0.1:9/a" },
        },
        { on: ["failure"], target: { email: "ops@example.com" } },
        { on: ["success"], target: { webhook: "http://127.0.0.1:9/b" } },
      ],
    });
    await waitFor(async () => missed(await allRuns(m, "quiet")).length >= 3, {
      what: "three missed heartbeats",
    });
    const deliveries = await m.deliveries("quiet");
    assertEquals(
      deliveries.map((d) => d.event).sort(),
      ["failure", "missed"],
    );
    const [first] = missed(await allRuns(m, "quiet")).slice(-1);
    assert(deliveries.every((d) => d.runId === first.id));
  } finally {
    await m.shutdown({ graceMs: 500 });
    await db.cleanup();
  }
});

Deno.test("heartbeat: a check that came due while the server was down is recorded once after the restart", async () => {
  const db = await tempDb();
  let m = await open(db.path);
  let t1 = 0;
  try {
    const job = await m.create({
      id: "nightly",
      name: "Nightly elsewhere",
      schedule: "* * * * * *",
      action: { type: "heartbeat", graceMs: 300 },
    });
    t1 = Date.parse(job.nextRunAt!);
    await m.shutdown({ graceMs: 500 });
    // Down for its first check and two more.
    await waitFor(() => Date.now() > t1 + 2300, { what: "time to pass" });
    const back = Date.now();
    m = await open(db.path);
    const [miss] = await waitFor(() => someMissed(m, "nightly"), {
      what: "the missed check",
    });
    assertEquals(Date.parse(miss.scheduledFor!), t1);
    // The checks due while down after the first are passed over.
    await waitFor(() => Date.parse(m.get("nightly").nextRunAt!) > back - 300);
    const before = missed(await allRuns(m, "nightly")).filter((r) =>
      Date.parse(r.scheduledFor!) < back - 300
    );
    assertEquals(before.length, 1);
  } finally {
    await m.shutdown({ graceMs: 500 });
    await db.cleanup();
  }
});
